/**
 * One replica: its HMS endpoints, its MySQL, and what that MySQL has executed. The cached GTID
 * only moves forward, so a read whose token it already covers costs no query. Otherwise the
 * server's own wait is used, shared: callers whose token an in-flight wait's target covers join it.
 */
import type { Logger } from 'pino';
import { covers, formatGtid, merge, GtidState } from './gtid';
import type { GtidServer } from './gtid-server';
import type { EndpointPool } from '../backends/endpoint-pool';
import { ApplyProgress, type ApplyState, type CatchUp } from './apply-progress';

export type CoverResult = 'covered' | 'timeout' | 'unhealthy';

/** How the tracker tells a stalled replica (see ApplyProgress). */
export interface StallTiming {
  /** Not applying this long makes the replica stalled. */
  readonly stallAfterMs: number;
  /** Reads wait at most this long (a backlog needing more is too far behind). */
  readonly maxWaitMs: number;
  /** Poll interval while stalled, so that reads return to the replica soon after it applies again. */
  readonly stalledPollMs: number;
}

/** The MySQL state of a replica before its first check. */
export const NOT_POLLED = 'not polled yet';

interface SharedWait {
  readonly target: GtidState;
  readonly done: Promise<CoverResult>;
}

export class ReplicaTracker {
  private cached: GtidState | null = null;
  private mysqlProblem: string | null = NOT_POLLED;
  private readonly waits: SharedWait[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** Calls in flight on this replica (for least-busy choice). */
  busy = 0;
  /** Told when the replica's MySQL turns unhealthy (see untilUnhealthy). */
  private readonly onUnhealthy = new Set<() => void>();
  secondsBehind: number | null = null;
  private readonly progress: ApplyProgress;

  constructor(
    readonly name: string,
    readonly metastore: string,
    readonly server: GtidServer,
    readonly pools: readonly EndpointPool[],
    private readonly log: Logger,
    /** The primary's last known position (null before the first read): what "behind" is measured against. */
    private readonly primaryPosition: () => GtidState | null = () => null,
    private readonly timing: StallTiming = { stallAfterMs: 2000, maxWaitMs: 200, stalledPollMs: 100 },
  ) {
    this.progress = new ApplyProgress(timing.stallAfterMs, timing.maxWaitMs);
  }

  /** Applying or stalled, from the polls. */
  get applyState(): ApplyState {
    return this.progress.state;
  }

  /** Why the replica is stalled (reads it does not cover go to the primary without waiting), or null. */
  get stalledReason(): string | null {
    const state = this.progress.state;
    return state.kind === 'stalled' ? state.reason : null;
  }

  /** Whether a wait for `token` can succeed, judged from the polls alone (no query). */
  catchUp(token: GtidState, now = Date.now()): CatchUp {
    if (this.cached === null) return 'in_time';
    return this.progress.catchUp(this.cached, token, now);
  }

  get executed(): GtidState | null {
    return this.cached;
  }

  /** Why the replica's MySQL failed its last check (NOT_POLLED before the first), or null. */
  get mysqlError(): string | null {
    return this.mysqlProblem;
  }

  /** Why this replica cannot serve reads now, or null. */
  unhealthyReason(): string | null {
    if (this.mysqlProblem !== null) return this.mysqlProblem;
    if (this.pools.every((p) => !p.inService)) {
      const pool = this.pools[0]!;
      return pool.recentFailure()?.message ?? `HMS endpoint ${pool.endpoint.address} is out of service: ${pool.breaker.describe().reason ?? 'failing'}`;
    }
    return null;
  }

  /** The HMS endpoint to use: the first in service. */
  pool(): EndpointPool {
    return this.pools.find((p) => p.inService) ?? this.pools[0]!;
  }

  /** Polls now (resolving when done), then every `intervalMs`. */
  startPolling(intervalMs: number): Promise<void> {
    // While stalled the replica is polled more often: the poll that sees it applying again is what
    // lets reads wait for it again (2 small queries per stalledPollMs, never one per read).
    const next = () => (this.progress.stalled ? Math.min(intervalMs, this.timing.stalledPollMs) : intervalMs);
    const tick = () => {
      void this.poll().finally(() => {
        if (this.timer !== null) this.timer = setTimeout(tick, next()).unref();
      });
    };
    const first = this.poll();
    this.timer = setTimeout(() => { void first.finally(() => { if (this.timer !== null) this.timer = setTimeout(tick, next()).unref(); }); }, 0).unref();
    return first;
  }

  stopPolling(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Reads the replica's executed GTID and lag; marks it healthy or not. */
  async poll(): Promise<void> {
    try {
      const executed = await this.server.executed('replica');
      // A replica whose MySQL was unreachable may come back rebuilt from an older backup: its position
      // then is what it says, not the highest seen before (reads, and the cache's entries, must not
      // credit it with transactions it no longer has). While it stays reachable, positions only grow.
      if (this.mysqlProblem !== null && this.mysqlProblem !== NOT_POLLED) this.cached = executed;
      else this.advance(executed);
      const status = await this.server.replicationStatus();
      this.secondsBehind = status.secondsBehind;
      this.observeProgress(status.sqlThreadRunning, status.sqlThreadError);
      if (this.mysqlProblem !== null && this.mysqlProblem !== NOT_POLLED) {
        this.log.info({ metastore: this.metastore, replica: this.name }, 'replica MySQL reachable again');
      }
      this.mysqlProblem = null;
    } catch (err) {
      this.markUnhealthy((err as Error).message);
    }
  }

  /**
   * Resolves when this replica's MySQL fails a check from now on (never, unless it does); `cancel`
   * forgets the caller. A read in flight on a replica whose MySQL died would otherwise wait out the
   * replica HMS's own JDBC retries (20 s in the soak run).
   */
  untilUnhealthy(): { readonly promise: Promise<void>; cancel(): void } {
    let notify!: () => void;
    const promise = new Promise<void>((resolve) => { notify = resolve; });
    this.onUnhealthy.add(notify);
    return { promise, cancel: () => { this.onUnhealthy.delete(notify); } };
  }

  private observeProgress(sqlThreadRunning: boolean | null, sqlThreadError: string | null): void {
    const was = this.progress.state;
    const now = this.progress.observe({ at: Date.now(), executed: this.cached!, sqlThreadRunning, sqlThreadError, primary: this.primaryPosition() });
    const where = { metastore: this.metastore, replica: this.name };
    if (now.kind === 'stalled' && was.kind !== 'stalled') {
      this.log.warn({ ...where, reason: now.reason, executed: formatGtid(this.cached!) }, `replica stalled: ${now.reason}; reads it does not cover go to the primary without waiting`);
    } else if (now.kind !== 'stalled' && was.kind === 'stalled') {
      this.log.info({ ...where, executed: formatGtid(this.cached!) }, 'replica applying again: reads wait for it again');
    }
  }

  private markUnhealthy(reason: string): void {
    for (const notify of this.onUnhealthy) notify();
    this.onUnhealthy.clear();
    // Logged when it turns unhealthy, including at the first check (a replica down from the start).
    if (this.mysqlProblem === null || this.mysqlProblem === NOT_POLLED) this.log.warn({ metastore: this.metastore, replica: this.name, err: reason }, 'replica MySQL unhealthy: its reads go to the primary');
    this.mysqlProblem = reason;
  }

  private advance(state: GtidState): void {
    this.cached = this.cached === null ? state : merge(this.cached, state);
  }

  /** True without any query when the cached position already covers `token`. */
  coversNow(token: GtidState): boolean {
    return this.cached !== null && covers(this.cached, token);
  }

  /** Makes sure the replica has executed `token`, waiting up to `maxWaitMs`. */
  async ensureCovers(token: GtidState, maxWaitMs: number): Promise<CoverResult> {
    if (this.unhealthyReason() !== null) return 'unhealthy';
    if (this.coversNow(token)) return 'covered';
    if (maxWaitMs <= 0) return 'timeout';
    const shared = this.waits.find((w) => covers(w.target, token));
    if (shared !== undefined) return shared.done;
    const done = this.server.waitFor(token, maxWaitMs).then((reached): CoverResult => {
      if (!reached) return 'timeout';
      this.advance(token);
      return 'covered';
    }, (err: Error): CoverResult => {
      this.markUnhealthy(err.message);
      return 'unhealthy';
    });
    const wait = { target: token, done };
    this.waits.push(wait);
    void done.finally(() => this.waits.splice(this.waits.indexOf(wait), 1));
    return done;
  }
}
