/**
 * The cache stage of the call path: a read the method catalog marks cacheable (entry.cache) is
 * answered from memory when the rule allows, else it goes on (to a replica or the primary) and its
 * answer may fill the cache on the way back.
 *
 * The rule (docs/ARCHITECTURE.md, "Metadata cache"): an answer is given from the cache only when
 *  1. the change feed's last read of the notification log was complete and began at most maxLagMs
 *     ago (else: a bypass, counted by reason), and
 *  2. an entry exists (else: a miss), and the feed's position or the entry's covers the caller's
 *     token (else: token_ahead_of_feed).
 * An entry exists only while no change to its objects came after its position (metadata-cache.ts),
 * so it reflects its objects as of the later of the two positions: at least the token, and at most
 * maxLagMs old.
 */
import type { CallInfo } from '../hms/call-info';
import type { CacheShape } from '../hms/method-entry';
import type { RawMessage } from '../thrift/message-reader';
import { MessageType } from '../thrift/protocol';
import type { GtidState } from '../consistency/gtid';
import { identityKey } from '../backends/identity';
import { ClientTokens } from '../consistency/session-tokens';
import type { CacheConfig, MetastoreConfig, MysqlConfig } from '../config/schema';
import type { RouterMetrics } from '../admin/metrics';
import type { ClientSession } from '../proxy/client-session';
import type { FeedListener, FeedStatus } from './feed-types';
import { MetadataCache, type FillTicket } from './metadata-cache';
import { CacheBypass, entryCovers, FeedView, feedCovers } from './feed-view';
import { callDependencies } from './dependencies';
import { assembleReply, partitionsByName, requestedNames } from './partition-entries';

export interface FeedHandle {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): FeedStatus;
}

export type OpenFeed = (metastore: string, feed: NonNullable<CacheConfig['feed']>, mysql: MysqlConfig, listener: FeedListener) => FeedHandle;

/** The token a read needs: a position, null (none: no read/write split), or unavailable (the primary's GTID cannot be read). */
export type ReadToken = GtidState | null | 'unavailable';

/** Who answered a miss: the primary, or a replica whose executed position (read before the call) is given. */
export type ServedBy = { readonly role: 'primary' } | { readonly role: 'replica'; readonly position: GtidState | null };

export type CacheLookup =
  | { readonly kind: 'hit'; readonly reply: Buffer }
  /** Not answered here; `remember` offers the answer the call got (a no-op when the cache may not keep it). */
  | { readonly kind: 'miss'; remember(reply: RawMessage | null, servedBy: ServedBy): void };

const NOTHING_TO_REMEMBER: CacheLookup = { kind: 'miss', remember: () => undefined };

class MetastoreCache {
  readonly cache: MetadataCache;
  readonly view: FeedView;
  feed: FeedHandle | null = null;
  /**
   * When each client (address and user) last wrote through this router: its reads skip the cache
   * until the feed has read from a snapshot begun after that, so a client reads its own writes even
   * where no GTID token is tracked (no replicas, consistency off). Removed once the feed is past.
   */
  readonly lastWrites = new Map<string, number>();
  /** Since start, for the status page (the metrics have them by method and reason). */
  readonly counts = { hits: 0, misses: 0, bypasses: 0 };

  constructor(readonly name: string, public policy: CacheConfig, metrics: RouterMetrics) {
    this.cache = new MetadataCache(policy.maxBytes);
    this.view = new FeedView(this.cache, {
      event: () => metrics.cacheFeedEvents.inc({ metastore: name }),
      reset: (reason) => metrics.cacheFeedResets.inc({ metastore: name, reason }),
      error: () => metrics.cacheFeedErrors.inc({ metastore: name }),
      invalidated: (n) => metrics.cacheInvalidations.inc({ metastore: name }, n),
    });
  }
}

export interface CacheState {
  readonly metastore: string;
  readonly enabled: boolean;
  readonly entries: number;
  readonly bytes: number;
  readonly maxBytes: number;
  readonly maxLagMs: number;
  readonly feed: FeedStatus | null;
  readonly feedLagSeconds: number | null;
  readonly hits: number;
  readonly misses: number;
  readonly bypasses: number;
}

export class CacheStage {
  private readonly metastores = new Map<string, MetastoreCache>();

  constructor(metastores: Readonly<Record<string, MetastoreConfig>>, private readonly metrics: RouterMetrics, openFeed: OpenFeed) {
    for (const [name, m] of Object.entries(metastores)) {
      if (m.cache.feed === undefined) continue;
      const entry = new MetastoreCache(name, m.cache, metrics);
      entry.feed = openFeed(name, m.cache.feed, m.cache.feed.mysql ?? m.primary.mysql!, entry.view);
      this.metastores.set(name, entry);
    }
    metrics.collectCacheState = () => this.collectGauges();
  }

  /** Starts every feed (each resolves after its first read, whether or not it succeeded). */
  async start(): Promise<void> {
    await Promise.all([...this.metastores.values()].map((m) => m.feed!.start()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.metastores.values()].map((m) => m.feed!.stop()));
  }

  /** New settings (enabled, maxBytes, maxLagMs, callerIndependent) from a reload. */
  setPolicies(policies: ReadonlyMap<string, CacheConfig>): void {
    for (const [name, policy] of policies) {
      const m = this.metastores.get(name);
      if (m === undefined) continue;
      if (policy.callerIndependent !== m.policy.callerIndependent) m.cache.reset(m.cache.ticket().eventId);
      m.policy = policy;
      m.cache.setMaxBytes(policy.maxBytes);
    }
  }

  get policies(): ReadonlyMap<string, CacheConfig> {
    return new Map([...this.metastores].map(([name, m]) => [name, m.policy]));
  }

  /** True when this call's answer may come from (or go to) the cache: the caller then fetches its token first. */
  handles(metastore: string, call: CallInfo): boolean {
    const m = this.metastores.get(metastore);
    return m !== undefined && m.policy.enabled && call.entry?.kind === 'read' && call.entry.cache !== undefined;
  }

  /** A call that may have changed the metastore was answered (its change is committed). */
  afterWrite(metastore: string, session: ClientSession): void {
    const m = this.metastores.get(metastore);
    if (m === undefined) return;
    if (m.lastWrites.size >= 10_000) {
      const vouched = m.view.vouch(Date.now(), Number.MAX_SAFE_INTEGER);
      if ('at' in vouched) for (const [client, at] of m.lastWrites) if (at < vouched.at) m.lastWrites.delete(client);
    }
    m.lastWrites.set(writerKey(session), Date.now());
  }

  /** Only for calls `handles` accepted. */
  lookup(metastore: string, message: RawMessage, call: CallInfo, session: ClientSession, token: ReadToken): CacheLookup {
    const m = this.metastores.get(metastore)!;
    const shape = call.entry!.cache!;
    if (token === 'unavailable') return this.bypass(m, 'token_unavailable');
    if (session.dedicated.size > 0) return this.bypass(m, 'pinned_connection');
    const dependsOn = callDependencies(shape, call);
    if (dependsOn === null) return this.bypass(m, 'not_cacheable_request');
    const vouched = m.view.vouch(Date.now(), m.policy.maxLagMs);
    if ('bypass' in vouched) return this.bypass(m, vouched.bypass);
    // Where a token is tracked it covers the caller's own writes; where none is, the caller's own
    // write holds its reads back until the feed has read past it.
    if (token === null && m.lastWrites.size > 0) {
      const writer = writerKey(session);
      const wrote = m.lastWrites.get(writer);
      if (wrote !== undefined) {
        // The snapshot began after the write's reply: the write is in what the feed read.
        if (vouched.at <= wrote) return this.bypass(m, 'own_write_not_in_feed');
        m.lastWrites.delete(writer);
      }
    }
    const caller = m.policy.callerIndependent ? '' : callerKey(session);
    // An entry in the cache reflects its objects as of the feed's position (no change to them since
    // its own position), so it may answer a token that either position covers.
    const feedAtToken = feedCovers(vouched.position, token);
    const answers = (position: GtidState | null): boolean => feedAtToken || entryCovers(position, token);
    // A primary read reflects what the feed's snapshot saw (committed and visible). Not the token:
    // a MariaDB primary's gtid_binlog_pos counts a transaction once it is in the binlog, a moment
    // before its commit is visible, so a read sent right after may not reflect all of it.
    const primaryPosition = vouched.position;
    if (shape.partitionNames !== undefined) return this.lookupPartitions(m, shape, message, call, caller, answers, dependsOn, primaryPosition);

    const key = `${caller}\u0001${message.header.name}\u0001${message.bytes.toString('latin1', message.header.bodyOffset)}`;
    const entry = m.cache.get(key);
    if (entry !== undefined) {
      if (answers(entry.position)) {
        this.hit(m, call);
        const reply = Buffer.from(entry.bytes);
        reply.writeInt32BE(message.header.seqid, entry.seqidOffset);
        return { kind: 'hit', reply };
      }
      // The token is beyond the feed and the entry: changes up to it may not be read yet. Refill.
      this.bypass(m, 'token_ahead_of_feed');
    } else {
      this.miss(m, call);
    }
    const ticket = m.cache.ticket();
    return {
      kind: 'miss',
      remember: (reply, servedBy) => {
        if (reply === null || !isPlainResult(reply)) return this.countFill(m, 'not_stored');
        const position = servedBy.role === 'primary' ? primaryPosition : servedBy.position;
        this.countFill(m, m.cache.fill(key, { bytes: Buffer.from(reply.bytes), seqidOffset: reply.header.seqidOffset, position, dependsOn }, ticket));
      },
    };
  }

  /** get_partitions_by_names: every named partition from its own entry, or the whole call to the metastore. */
  private lookupPartitions(m: MetastoreCache, shape: CacheShape, message: RawMessage, call: CallInfo, caller: string,
    answers: (position: GtidState | null) => boolean, dependsOn: readonly string[], primaryPosition: GtidState): CacheLookup {
    const names = requestedNames(message, shape.partitionNames!);
    if (names === null) return this.bypass(m, 'not_cacheable_request');
    const prefix = `${caller}\u0001${call.method}\u0001${call.catalog ?? ''}\u0001${call.db}\u0001${call.table!.toLowerCase()}\u0001`;
    const parts: Buffer[] = [];
    let found = true;
    for (const name of names) {
      const entry = m.cache.get(prefix + name);
      if (entry === undefined || !answers(entry.position)) {
        found = false;
        break;
      }
      if (entry.bytes.length > 0) parts.push(entry.bytes);
    }
    if (found) {
      this.hit(m, call);
      return { kind: 'hit', reply: assembleReply(message.header.name, message.header.seqid, parts).bytes };
    }
    this.miss(m, call);
    const ticket: FillTicket = m.cache.ticket();
    return {
      kind: 'miss',
      remember: (reply, servedBy) => {
        const cut = reply === null ? null : partitionsByName(reply, names);
        if (cut === null) return this.countFill(m, 'not_stored');
        const position = servedBy.role === 'primary' ? primaryPosition : servedBy.position;
        for (const [name, bytes] of cut) {
          // An empty entry: the metastore has no partition of that name (as of `position`).
          this.countFill(m, m.cache.fill(prefix + name, { bytes: bytes ?? EMPTY, seqidOffset: 0, position, dependsOn }, ticket));
        }
      },
    };
  }

  private hit(m: MetastoreCache, call: CallInfo): void {
    m.counts.hits += 1;
    this.metrics.cacheHits.inc({ metastore: m.name, method: call.method });
  }

  private miss(m: MetastoreCache, call: CallInfo): void {
    m.counts.misses += 1;
    this.metrics.cacheMisses.inc({ metastore: m.name, method: call.method });
  }

  private bypass(m: MetastoreCache, reason: CacheBypass): CacheLookup {
    m.counts.bypasses += 1;
    this.metrics.cacheBypasses.inc({ metastore: m.name, reason });
    return NOTHING_TO_REMEMBER;
  }

  private countFill(m: MetastoreCache, outcome: string): void {
    this.metrics.cacheFills.inc({ metastore: m.name, outcome });
  }

  state(): CacheState[] {
    const now = Date.now();
    return [...this.metastores.values()].map((m) => ({
      metastore: m.name, enabled: m.policy.enabled, entries: m.cache.size, bytes: m.cache.bytes,
      maxBytes: m.policy.maxBytes, maxLagMs: m.policy.maxLagMs, feed: m.feed?.status() ?? null, feedLagSeconds: m.view.lagSeconds(now),
      ...m.counts,
    }));
  }

  private collectGauges(): void {
    const now = Date.now();
    for (const m of this.metastores.values()) {
      this.metrics.cacheEntries.set({ metastore: m.name }, m.cache.size);
      this.metrics.cacheBytes.set({ metastore: m.name }, m.cache.bytes);
      const lag = m.view.lagSeconds(now);
      if (lag !== null) this.metrics.cacheFeedLag.set({ metastore: m.name }, lag);
      const eventId = m.feed?.status().lastEventId ?? null;
      if (eventId !== null) this.metrics.cacheFeedEventId.set({ metastore: m.name }, eventId);
    }
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * A client as client-mode tokens know it: its address without the port and its user, so a write on
 * one connection holds back the cache for the client's next connection too (engines open one per call).
 */
function writerKey(session: ClientSession): string {
  return ClientTokens.key(session.remoteAddress, session.principal ?? session.identity?.user ?? null);
}

/** The caller an answer is kept for: its Kerberos principal, else its set_ugi user and groups. */
function callerKey(session: ClientSession): string {
  return session.principal ?? identityKey(session.identity);
}

/** A REPLY whose result is the success value (field 0) or empty: never an exception, declared or not. */
function isPlainResult(reply: RawMessage): boolean {
  if (reply.header.type !== MessageType.REPLY) return false;
  const at = reply.header.bodyOffset;
  if (reply.bytes.length < at + 1) return false;
  if (reply.bytes[at] === 0) return true;
  return reply.bytes.length >= at + 3 && reply.bytes.readInt16BE(at + 1) === 0;
}
