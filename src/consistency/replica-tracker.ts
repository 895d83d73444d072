/**
 * One replica: its HMS endpoints, its MySQL, and what that MySQL has executed. The cached GTID
 * only moves forward, so a read whose token it already covers costs no query. Otherwise the
 * server's own wait is used, shared: callers whose token an in-flight wait's target covers join it.
 */
import type { Logger } from 'pino';
import { covers, merge, GtidState } from './gtid';
import type { GtidServer } from './gtid-server';
import type { EndpointPool } from '../backends/endpoint-pool';

export type CoverResult = 'covered' | 'timeout' | 'unhealthy';

interface SharedWait {
  readonly target: GtidState;
  readonly done: Promise<CoverResult>;
}

export class ReplicaTracker {
  private cached: GtidState | null = null;
  private mysqlError: string | null = 'not polled yet';
  private readonly waits: SharedWait[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** Calls in flight on this replica (for least-busy choice). */
  busy = 0;
  secondsBehind: number | null = null;

  constructor(
    readonly name: string,
    readonly metastore: string,
    readonly server: GtidServer,
    readonly pools: readonly EndpointPool[],
    private readonly log: Logger,
  ) {}

  get executed(): GtidState | null {
    return this.cached;
  }

  /** Why this replica cannot serve reads now, or null. */
  unhealthyReason(): string | null {
    if (this.mysqlError !== null) return this.mysqlError;
    if (this.pools.every((p) => p.recentFailure() !== null)) return this.pools[0]!.recentFailure()!.message;
    return null;
  }

  /** The HMS endpoint to use: the first that is not failing. */
  pool(): EndpointPool {
    return this.pools.find((p) => p.recentFailure() === null) ?? this.pools[0]!;
  }

  /** Polls now (resolving when done), then every `intervalMs`. */
  startPolling(intervalMs: number): Promise<void> {
    const tick = () => {
      void this.poll().finally(() => {
        if (this.timer !== null) this.timer = setTimeout(tick, intervalMs).unref();
      });
    };
    const first = this.poll();
    this.timer = setTimeout(() => { void first.finally(() => { if (this.timer !== null) this.timer = setTimeout(tick, intervalMs).unref(); }); }, 0).unref();
    return first;
  }

  stopPolling(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Reads the replica's executed GTID and lag; marks it healthy or not. */
  async poll(): Promise<void> {
    try {
      this.advance(await this.server.executed('replica'));
      this.secondsBehind = await this.server.secondsBehind();
      if (this.mysqlError !== null && this.mysqlError !== 'not polled yet') {
        this.log.info({ metastore: this.metastore, replica: this.name }, 'replica MySQL reachable again');
      }
      this.mysqlError = null;
    } catch (err) {
      this.markUnhealthy((err as Error).message);
    }
  }

  private markUnhealthy(reason: string): void {
    if (this.mysqlError === null) this.log.warn({ metastore: this.metastore, replica: this.name, err: reason }, 'replica MySQL unhealthy: its reads go to the primary');
    this.mysqlError = reason;
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
