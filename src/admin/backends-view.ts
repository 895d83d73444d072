/**
 * GET /backends: every metastore as the router sees it now — its access and consistency modes,
 * primary endpoints (health, last error, pool usage), replicas (endpoints, MySQL health, lag,
 * executed GTID) and the primary's MySQL. Read-only: building the view never queries a backend.
 *
 * Secrets stay out by construction: MySQL servers appear as host:port only (never user or
 * password), and the view is built field by field from plain values, never by serializing config
 * or pool objects.
 */
import type { RouterConfig } from '../config/schema';
import type { EndpointPool } from '../backends/endpoint-pool';
import type { ConsistencyState } from '../consistency/consistency-router';
import type { CacheState } from '../cache/cache-stage';
import { NOT_POLLED } from '../consistency/replica-tracker';
import type { RoutingMap, AccessMode } from '../routing/routing-map';

/** An endpoint's circuit breaker (src/backends/circuit-breaker.ts). */
export interface BreakerView {
  readonly state: 'closed' | 'open' | 'half-open';
  /** ISO-8601 time of the last transition. */
  readonly since: string;
  readonly reason: string | null;
}

export interface EndpointView {
  /** host:port. */
  readonly address: string;
  /** False while the endpoint is out of service: its breaker is open, or its last connect failed within timeouts.retryBackoffMs. */
  readonly healthy: boolean;
  /**
   * The last connect failure the router saw on this endpoint; `current` while it still holds.
   * `at` is when it was first seen: the server samples endpoints every SAMPLE_INTERVAL_MS (a
   * failure stays visible for timeouts.retryBackoffMs), so it is at most that late.
   */
  readonly lastError: { readonly code: string; readonly message: string; readonly at: string; readonly current: boolean } | null;
  /** Summed over the endpoint's pools (one per set_ugi identity). */
  readonly pool: { readonly borrowed: number; readonly available: number; readonly pending: number; readonly size: number; readonly identities: number };
  readonly breaker: BreakerView;
}

export interface MysqlView {
  /** host:port. */
  readonly address: string;
  /** null when not checked yet. */
  readonly healthy: boolean | null;
  readonly error: string | null;
}

export interface ReplicaView {
  readonly name: string;
  /** True when the replica may serve reads (its MySQL answers and one of its endpoints is not failing). */
  readonly healthy: boolean;
  /** Why it may not, or null. */
  readonly reason: string | null;
  /** Calls in flight on it. */
  readonly busy: number;
  /** Why it is stalled (not applying: reads it does not cover go to the primary without waiting), or null. */
  readonly stalled: string | null;
  readonly endpoints: readonly EndpointView[];
  readonly mysql: MysqlView;
  /**
   * transactions: what the primary had executed at its last GTID read that the replica has not;
   * seconds: Seconds_Behind_Master as the replica reports it. null when unknown.
   */
  readonly lag: { readonly transactions: number | null; readonly seconds: number | null };
  readonly executedGtid: string | null;
}

export interface MetastoreView {
  readonly name: string;
  readonly default: boolean;
  readonly access: { readonly mode: AccessMode; readonly writableDatabases?: readonly string[] };
  readonly consistency: {
    readonly mode: RouterConfig['metastores'][string]['consistency']['mode'];
    /** True when reads may go to replicas. */
    readonly splitting: boolean;
    readonly maxWaitMs: number;
    /** Configured replicas the router does not use (consistency mode off). */
    readonly unusedReplicas: readonly string[];
  };
  readonly transport: 'buffered' | 'framed';
  readonly primary: {
    readonly endpoints: readonly EndpointView[];
    /** Only when the metastore splits reads; `lastReadAt` is the last successful GTID read (a token read, or the probe every pollIntervalMs). */
    readonly mysql: (MysqlView & { readonly lastReadAt: string | null }) | null;
  };
  readonly replicas: readonly ReplicaView[];
  /** The metadata cache and its change feed, when the metastore has one. */
  readonly cache: CacheState | null;
}

export interface BackendsView {
  readonly generatedAt: string;
  readonly defaultMetastore: string;
  readonly metastores: readonly MetastoreView[];
}

export type PoolLike = Pick<EndpointPool, 'endpoint' | 'recentFailure' | 'stats' | 'inService'> & { readonly breaker: Pick<EndpointPool['breaker'], 'describe'> };

export interface ConsistencyLike {
  describe(): ConsistencyState;
  /** The replicas' HMS endpoint pools, by replica name. */
  readonly replicas: ReadonlyArray<{ readonly name: string; readonly pools: readonly PoolLike[] }>;
}

/** What the view reads: the server passes its live objects, tests pass stand-ins. */
export interface BackendsSources {
  readonly config: RouterConfig;
  /** The active routing map: the default metastore and access modes reload with it. */
  routingMap(): Pick<RoutingMap, 'defaultMetastore' | 'source'>;
  /** The metastore's primary endpoint pools, in any order (the view shows them as configured). */
  primaryPools(metastore: string): readonly PoolLike[];
  consistency(metastore: string): ConsistencyLike | undefined;
  /** The metastore's cache state, when it has a cache. */
  cache?(metastore: string): CacheState | undefined;
}

interface SeenFailure {
  readonly error: Error;
  readonly code: string;
  readonly at: string;
}

/** How often the server calls `observe()`, so that short failures are remembered with their time. */
export const SAMPLE_INTERVAL_MS = 250;

export class BackendsViewBuilder {
  /** The last failure seen per endpoint pool, kept after it clears. */
  private readonly failures = new WeakMap<PoolLike, SeenFailure>();

  constructor(private readonly sources: BackendsSources, private readonly now: () => Date = () => new Date()) {}

  /** Notes each endpoint's current connect failure, if any (cheap: no I/O). */
  observe(): void {
    for (const name of Object.keys(this.sources.config.metastores)) {
      for (const pool of this.sources.primaryPools(name)) this.noteFailure(pool, pool.recentFailure());
      for (const replica of this.sources.consistency(name)?.replicas ?? []) {
        for (const pool of replica.pools) this.noteFailure(pool, pool.recentFailure());
      }
    }
  }

  private noteFailure(pool: PoolLike, failure: Error & { code: string } | null): SeenFailure | undefined {
    const seen = this.failures.get(pool);
    if (failure === null || seen?.error === failure) return seen;
    const noted = { error: failure, code: failure.code, at: this.now().toISOString() };
    this.failures.set(pool, noted);
    return noted;
  }

  build(): BackendsView {
    const map = this.sources.routingMap();
    const metastores = Object.entries(this.sources.config.metastores).map(([name, config]): MetastoreView => {
      const state = this.sources.consistency(name);
      const described = state?.describe() ?? null;
      const access = map.source.access[name];
      const order = config.primary.endpoints.map((e) => e.replace(/^thrift:\/\//, ''));
      const primaryPools = [...this.sources.primaryPools(name)]
        .sort((a, b) => order.indexOf(a.endpoint.address) - order.indexOf(b.endpoint.address));
      const used = new Set(described?.replicas.map((r) => r.name) ?? []);
      return {
        name,
        default: name === map.defaultMetastore,
        access: access === undefined ? { mode: 'read-write' }
          : access.writableDatabases === undefined ? { mode: access.mode } : { mode: access.mode, writableDatabases: access.writableDatabases },
        consistency: {
          mode: config.consistency.mode,
          splitting: described?.splitting ?? false,
          maxWaitMs: config.consistency.maxWaitMs,
          unusedReplicas: config.replicas.map((r) => r.name).filter((r) => !used.has(r)),
        },
        transport: config.transport,
        primary: {
          endpoints: primaryPools.map((p) => this.endpoint(p)),
          mysql: described === null || described.primaryMysql === null ? null : {
            address: described.primaryMysql,
            healthy: described.primaryGtidError !== null ? false : described.primaryGtidReadAt !== null ? true : null,
            error: described.primaryGtidError,
            lastReadAt: described.primaryGtidReadAt,
          },
        },
        replicas: (described?.replicas ?? []).map((r): ReplicaView => ({
          name: r.name,
          healthy: r.healthy,
          reason: r.reason,
          busy: r.busy,
          stalled: r.stalled,
          endpoints: (state?.replicas.find((t) => t.name === r.name)?.pools ?? []).map((p) => this.endpoint(p)),
          mysql: {
            address: r.mysql,
            healthy: r.mysqlError === NOT_POLLED ? null : r.mysqlError === null,
            error: r.mysqlError === NOT_POLLED ? null : r.mysqlError,
          },
          lag: { transactions: r.transactionsBehind, seconds: r.secondsBehind },
          executedGtid: r.executedGtid,
        })),
        cache: this.sources.cache?.(name) ?? null,
      };
    });
    return { generatedAt: this.now().toISOString(), defaultMetastore: map.defaultMetastore, metastores };
  }

  private endpoint(pool: PoolLike): EndpointView {
    const failure = pool.recentFailure();
    const seen = this.noteFailure(pool, failure);
    let borrowed = 0; let available = 0; let pending = 0; let size = 0; let identities = 0;
    for (const s of pool.stats()) {
      borrowed += s.borrowed; available += s.available; pending += s.pending; size += s.size; identities += 1;
    }
    return {
      address: pool.endpoint.address,
      healthy: pool.inService,
      lastError: seen === undefined ? null : { code: seen.code, message: seen.error.message, at: seen.at, current: failure !== null },
      pool: { borrowed, available, pending, size, identities },
      breaker: pool.breaker.describe(),
    };
  }
}
