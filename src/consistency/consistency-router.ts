/**
 * Read/write split for one metastore: decides whether a read can go to a replica (one whose MySQL
 * has executed the session's token) or must go to the primary, and why. Writes invalidate tokens.
 */
import type { Logger } from 'pino';
import { ClientTokens, TokenHolder } from './session-tokens';
import { LocalTokenStore, type ClientTokenStore } from './token-store';
import { TokenStoreError } from './token-store-redis';
import { PrimaryGtid } from './primary-gtid';
import { ReplicaTracker, type StallTiming } from './replica-tracker';
import { GtidServer } from './gtid-server';
import { transactionsBehind } from './lag';
import { covers, formatGtid, type GtidState } from './gtid';
import type { CallInfo } from '../hms/call-info';
import type { MetastoreConfig } from '../config/schema';
import type { EndpointPool } from '../backends/endpoint-pool';
import type { RouterMetrics } from '../admin/metrics';

export type FallbackReason =
  | 'replica_lagging' // no replica reached the token within maxWaitMs
  | 'replica_stalled' // no replica is applying (SQL thread stopped, or behind without progress for stallAfterMs): no wait
  | 'replica_too_far_behind' // the replicas apply, but at their recent rate none reaches the token within maxWaitMs: no wait
  | 'replica_unhealthy' // every replica's HMS or MySQL is failing
  | 'primary_gtid_unavailable' // the primary's MySQL could not be read: the primary is the safe choice
  | 'replica_call_failed' // the replica's HMS failed the call; the read was sent to the primary
  | 'replica_error_reply' // the replica's HMS answered with MetaException; the read was sent to the primary
  | 'replica_exception_reply' // the replica's HMS answered another declared exception (no such object, ...): the primary's answer is final
  | 'replica_slow'; // the replica's HMS had not answered within replicaReadTimeoutMs; the read was sent to the primary

export type ReadDecision =
  | {
    readonly role: 'replica'; readonly replica: ReplicaTracker;
    /**
     * Set when the replica was chosen before the client's token came back from the shared store
     * (an early read, see earlyRead). The reply may be used only once this resolves to
     * 'covered'; otherwise decide again with `recheck`.
     */
    readonly early?: Promise<EarlyCheck>;
  }
  | { readonly role: 'primary'; readonly reason: FallbackReason | null };

/** covered: the replica's position when the read was sent covers the token; else how to decide again. */
export type EarlyCheck = { readonly verdict: 'covered' } | { readonly verdict: 'recheck'; readonly redo: () => Promise<ReadDecision> };

/** What a client session keeps per metastore. */
export interface SessionView {
  readonly remoteAddress: string;
  readonly identityUser: string | null;
  readonly holders: Map<string, TokenHolder>;
  /** After setMetaConf the session's settings live on one primary connection: no replica reads. */
  readonly pinned: boolean;
}

/** One replica as the consistency layer sees it (addresses only: never users or passwords). */
export interface ReplicaState {
  readonly name: string;
  /** host:port of the replica's MySQL. */
  readonly mysql: string;
  /** Why the replica's MySQL failed its last check, or null when it answered. */
  readonly mysqlError: string | null;
  /** True when the replica may serve reads (its MySQL answers and an HMS endpoint is not failing). */
  readonly healthy: boolean;
  readonly reason: string | null;
  /** Calls in flight on it. */
  readonly busy: number;
  /** As the replica reports it (Seconds_Behind_Master), null when unknown. */
  readonly secondsBehind: number | null;
  /** Why the replica is stalled (reads it does not cover go to the primary without waiting), or null. */
  readonly stalled: string | null;
  /** Against the primary's GTID as last read; null before the first read of either. */
  readonly transactionsBehind: number | null;
  /** What the replica has executed, as the router last saw it (it only moves forward). */
  readonly executedGtid: string | null;
}

export interface ConsistencyState {
  readonly metastore: string;
  readonly mode: MetastoreConfig['consistency']['mode'];
  /** True when reads may go to replicas (replicas configured, mode not off, primary MySQL known). */
  readonly splitting: boolean;
  /** host:port of the primary's MySQL when splitting. */
  readonly primaryMysql: string | null;
  /** Why the last read of the primary's GTID failed, or null. */
  readonly primaryGtidError: string | null;
  /** When the primary's GTID was last read successfully (when a read needs a token, and every pollIntervalMs). */
  readonly primaryGtidReadAt: string | null;
  readonly replicas: readonly ReplicaState[];
}

const PRIMARY: ReadDecision = { role: 'primary', reason: null };

/**
 * When a replica counts as stalled, and how often it is polled then. Not applying for 2 s (and at
 * least two polls): a shorter stop (the SQL thread restarted, a lock held a moment) costs reads the
 * waits it cost before, and a stall that lasts hours costs them at most 2 s of waits. Polled every
 * half wait while stalled (at least 50 ms, at most pollIntervalMs), so reads wait for it again soon
 * after it applies again.
 */
export function stallTiming(pollIntervalMs: number, maxWaitMs: number): StallTiming {
  return {
    stallAfterMs: Math.max(2000, 2 * pollIntervalMs),
    maxWaitMs,
    stalledPollMs: Math.min(pollIntervalMs, Math.max(50, Math.floor(maxWaitMs / 2))),
  };
}

export class ConsistencyRouter {
  readonly replicas: ReplicaTracker[];
  private readonly primary: PrimaryGtid | null;
  private readonly primaryServer: GtidServer | null;
  /** client mode's tokens: this process's own, or a store shared by every router (server.ts). */
  private readonly clientTokens: ClientTokenStore;

  constructor(
    readonly metastore: string,
    private readonly config: MetastoreConfig,
    replicaPools: ReadonlyMap<string, EndpointPool[]>,
    private readonly metrics: RouterMetrics,
    private readonly log: Logger,
    tokenStore?: ClientTokenStore,
  ) {
    const c = config.consistency;
    this.clientTokens = tokenStore ?? new LocalTokenStore(c.clientTtlMs);
    const enabled = c.mode !== 'off' && config.replicas.length > 0 && config.primary.mysql !== undefined;
    this.primaryServer = enabled ? new GtidServer(`${metastore} primary`, config.primary.mysql!, c.queryTimeoutMs, 4) : null;
    this.primary = this.primaryServer === null ? null
      : new PrimaryGtid(this.primaryServer, () => metrics.primaryGtidQueries.inc({ metastore }));
    const timing = stallTiming(c.pollIntervalMs, c.maxWaitMs);
    this.replicas = enabled ? config.replicas.map((r) => new ReplicaTracker(r.name, metastore,
      new GtidServer(`${metastore} replica ${r.name}`, r.mysql, c.queryTimeoutMs), replicaPools.get(r.name)!, log,
      () => this.primary?.last ?? null, timing)) : [];
    this.firstPoll = Promise.all(this.replicas.map((r) => r.startPolling(c.pollIntervalMs))).then(() => undefined);
    if (this.primary !== null) this.probePrimaryEvery(c.pollIntervalMs);
  }

  private primaryProbeTimer: NodeJS.Timeout | null = null;

  /**
   * Reads the primary's GTID every `intervalMs` even when no read needs a token: the admin API and
   * the lag gauges stay current, and while the primary's MySQL fails, reads go to the primary at
   * once instead of each waiting out queryTimeoutMs.
   */
  private probePrimaryEvery(intervalMs: number): void {
    const tick = () => {
      void this.probePrimary().finally(() => {
        if (this.primaryProbeTimer !== null) this.primaryProbeTimer = setTimeout(tick, intervalMs).unref();
      });
    };
    this.primaryProbeTimer = setTimeout(tick, intervalMs).unref();
  }

  /** One probe of the primary's MySQL (the timer's job; tests call it directly). */
  probePrimary(): Promise<void> {
    return this.primary?.probe() ?? Promise.resolve();
  }

  /** Stops the periodic replica polls and primary probes (close() does it too). */
  stopPolling(): void {
    if (this.primaryProbeTimer !== null) clearTimeout(this.primaryProbeTimer);
    this.primaryProbeTimer = null;
    for (const r of this.replicas) r.stopPolling();
  }

  private readonly firstPoll: Promise<void>;

  /** Resolves once every replica was checked once (so the first reads can use healthy replicas). */
  ready(): Promise<void> {
    return this.firstPoll;
  }

  get splitting(): boolean {
    return this.primary !== null;
  }

  async decide(call: CallInfo, session: SessionView, known?: GtidState): Promise<ReadDecision> {
    if (this.primary === null || call.entry?.kind !== 'read' || session.pinned) return PRIMARY;
    // The token was already fetched (by the cache stage): the same token decides.
    if (known !== undefined) return this.chooseFor(known);
    // The last read of the primary's MySQL failed: no token can be had; the probe tells when it is back.
    if (this.primary.failing) return { role: 'primary', reason: 'primary_gtid_unavailable' };
    const early = this.earlyRead(session);
    if (early !== null) return early;
    let token: GtidState;
    try {
      token = await this.tokenFor(session);
    } catch {
      return { role: 'primary', reason: 'primary_gtid_unavailable' };
    }
    return this.chooseFor(token);
  }

  /**
   * The token a read must see, as decide() would take it: null when reads are not split here (no
   * primary GTID is tracked), 'unavailable' when the primary's GTID cannot be read. Passing it to
   * decide() makes that read decide with this same token.
   */
  async readToken(call: CallInfo, session: SessionView): Promise<GtidState | null | 'unavailable'> {
    if (this.primary === null || !this.splitting || call.entry?.kind !== 'read' || session.pinned) return null;
    if (this.primary.failing) return 'unavailable';
    try {
      return await this.tokenFor(session);
    } catch {
      return 'unavailable';
    }
  }

  /**
   * client mode with a shared store: the store's round trip is on every read's path. When this
   * process last saw a token for the client, and a healthy, applying replica's known position
   * covers it, the read goes to that replica at once while the store is asked; the reply counts
   * only if the replica's position *when the read was sent* covers the token the store returns (it
   * only grows, so the answer reflects at least that). A write through another router meanwhile
   * makes the check fail, and the read is decided again with the store's token.
   */
  private earlyRead(session: SessionView): ReadDecision | null {
    if (this.config.consistency.mode !== 'client' || this.clientTokens.kind === 'local') return null;
    const client = ClientTokens.key(session.remoteAddress, session.identityUser);
    const hint = this.lastSeenTokens.get(client);
    if (hint === undefined) return null;
    const replica = this.replicas.filter((r) => r.unhealthyReason() === null && r.stalledReason === null && r.coversNow(hint))
      .sort((a, b) => a.busy - b.busy)[0];
    if (replica === undefined) return null;
    const seen = replica.executed!;
    const check = this.clientToken(client).then((token): EarlyCheck => {
      if (covers(seen, token)) return { verdict: 'covered' };
      return { verdict: 'recheck', redo: () => this.chooseFor(token) };
    }, (): EarlyCheck => ({ verdict: 'recheck', redo: () => Promise.resolve({ role: 'primary', reason: 'primary_gtid_unavailable' }) }));
    return { role: 'replica', replica, early: check };
  }

  /** The replica (or primary, and why) for a read that needs `token`. */
  private async chooseFor(token: GtidState): Promise<ReadDecision> {
    const healthy = this.replicas.filter((r) => r.unhealthyReason() === null).sort((a, b) => a.busy - b.busy);
    if (healthy.length === 0) return { role: 'primary', reason: 'replica_unhealthy' };
    const ready = healthy.find((r) => r.coversNow(token));
    if (ready !== undefined) return { role: 'replica', replica: ready };
    // Wait only on a replica that can get there in time (judged from its polls, no query).
    const now = Date.now();
    const verdicts = healthy.map((r) => r.catchUp(token, now));
    const at = verdicts.indexOf('in_time');
    if (at < 0) return { role: 'primary', reason: verdicts.includes('too_far_behind') ? 'replica_too_far_behind' : 'replica_stalled' };
    const candidate = healthy[at]!;
    const started = process.hrtime.bigint();
    const result = await candidate.ensureCovers(token, this.config.consistency.maxWaitMs);
    this.metrics.replicaWait.observe({ metastore: this.metastore, outcome: result }, Number(process.hrtime.bigint() - started) / 1e9);
    if (result === 'covered') return { role: 'replica', replica: candidate };
    return { role: 'primary', reason: result === 'timeout' ? 'replica_lagging' : 'replica_unhealthy' };
  }

  /**
   * A call that may have changed state went to the primary: the session's next read needs a new
   * token. In client mode the caller awaits this before the write's reply goes back, so no read the
   * client makes after seeing the reply can find the old token, through any router. Never rejects.
   */
  async afterPrimaryWrite(session: SessionView): Promise<void> {
    if (this.primary === null) return;
    if (this.config.consistency.mode === 'client') {
      this.lastSeenTokens.delete(ClientTokens.key(session.remoteAddress, session.identityUser));
      try {
        await this.clientTokens.invalidate(this.metastore, ClientTokens.key(session.remoteAddress, session.identityUser));
      } catch (err) {
        this.log.error({ metastore: this.metastore, client: ClientTokens.key(session.remoteAddress, session.identityUser), err: (err as Error).message },
          'a write is not recorded in the token store; retried in the background (reads of this client through this router take fresh tokens meanwhile)');
      }
      return;
    }
    const holder = this.sessionHolder(session);
    holder.token = null;
    holder.generation += 1;
  }

  private sessionHolder(session: SessionView): TokenHolder {
    let holder = session.holders.get(this.metastore);
    if (holder === undefined) {
      holder = { token: null, generation: 0 };
      session.holders.set(this.metastore, holder);
    }
    return holder;
  }

  private async tokenFor(session: SessionView): Promise<GtidState> {
    const mode = this.config.consistency.mode;
    if (mode === 'strict') return this.primary!.current();
    if (mode === 'client') return this.clientToken(ClientTokens.key(session.remoteAddress, session.identityUser));
    const holder = this.sessionHolder(session);
    if (holder.token !== null) return holder.token;
    const generation = holder.generation;
    const token = await this.primary!.current();
    // A write that completed while this read was in flight must not be shadowed by an older token.
    if (holder.generation === generation) holder.token = token;
    return token;
  }

  /**
   * client mode, shared store: the last token this process saw for each client, a hint for early
   * reads only (never trusted: the store's answer decides). Bounded; a write here removes it.
   */
  private readonly lastSeenTokens = new Map<string, GtidState>();

  private remember(client: string, token: GtidState): void {
    if (this.clientTokens.kind === 'local') return;
    if (this.lastSeenTokens.size >= 10_000 && !this.lastSeenTokens.has(client)) this.lastSeenTokens.clear();
    this.lastSeenTokens.set(client, token);
  }

  /** client mode: the stored token; none, a fresh one (kept unless a write came meanwhile); store failing, a fresh one (as strict). */
  private async clientToken(client: string): Promise<GtidState> {
    let stored;
    try {
      stored = await this.clientTokens.get(this.metastore, client);
    } catch (err) {
      const reason = err instanceof TokenStoreError ? err.outcome : 'error';
      this.metrics.tokenStoreSafeReads.inc({ metastore: this.metastore, reason });
      return this.primary!.current();
    }
    if (stored.token !== null) {
      this.remember(client, stored.token);
      return stored.token;
    }
    this.lastSeenTokens.delete(client);
    const token = await this.primary!.current();
    this.remember(client, token);
    // Not awaited: this read is answered with its fresh token either way; a lost offer costs a later primary read.
    this.clientTokens.offer(this.metastore, client, stored.generation, token).catch(() => undefined);
    return token;
  }

  /** Updates the lag gauges from the last known positions. */
  collectLag(): void {
    if (this.primary !== null) this.metrics.primaryMysqlUp.set({ metastore: this.metastore }, this.primary.failing || this.primary.lastReadAt === null ? 0 : 1);
    for (const r of this.replicas) {
      const labels = { metastore: this.metastore, replica: r.name };
      this.metrics.replicaHealthy.set(labels, r.unhealthyReason() === null ? 1 : 0);
      this.metrics.replicaStalled.set(labels, r.stalledReason === null ? 0 : 1);
      const transactions = this.transactionsBehind(r);
      if (transactions !== null) this.metrics.replicaLagTransactions.set(labels, transactions);
      if (r.secondsBehind !== null) this.metrics.replicaLagSeconds.set(labels, r.secondsBehind);
    }
  }

  /** Transactions the primary had executed at its last read that the replica has not, or null when unknown. */
  private transactionsBehind(r: ReplicaTracker): number | null {
    const primary = this.primary?.last ?? null;
    if (primary === null || r.executed === null) return null;
    return Number(transactionsBehind(r.executed, primary));
  }

  /** For the admin API and logs: the primary's and replicas' states, without secrets. */
  describe(): ConsistencyState {
    const lastReadAt = this.primary?.lastReadAt ?? null;
    return {
      metastore: this.metastore,
      mode: this.config.consistency.mode,
      splitting: this.splitting,
      primaryMysql: this.primaryServer?.address ?? null,
      primaryGtidError: this.primary?.lastError ?? null,
      primaryGtidReadAt: lastReadAt === null ? null : new Date(lastReadAt).toISOString(),
      replicas: this.replicas.map((r) => ({
        name: r.name,
        mysql: r.server.address,
        mysqlError: r.mysqlError,
        healthy: r.unhealthyReason() === null,
        reason: r.unhealthyReason(),
        busy: r.busy,
        stalled: r.stalledReason,
        secondsBehind: r.secondsBehind,
        transactionsBehind: this.transactionsBehind(r),
        executedGtid: r.executed === null ? null : formatGtid(r.executed),
      })),
    };
  }

  async close(): Promise<void> {
    this.stopPolling();
    await Promise.all([this.primaryServer?.close(), ...this.replicas.map((r) => r.server.close())]);
  }
}
