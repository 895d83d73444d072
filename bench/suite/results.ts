/**
 * The benchmark suite's result shapes (bench/results/suite.json): what every part records, what the
 * report (bench/suite/report.ts) reads. One place, so the runner and the report cannot drift.
 */

/** A figure measured in each round: its median, range and every value (rounds in order). */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly all: readonly number[];
}

export type SystemName = 'direct' | 'hms-router' | 'waggle-dance' | 'hms-router-cache';
/** The systems of the suite's parts reads, mixed, federated and large-listing. */
export const SYSTEMS: readonly SystemName[] = ['direct', 'hms-router', 'waggle-dance'];
/** The systems of the cache part (bench/suite/cache.ts): the router without its cache, and with it. */
export const CACHE_SYSTEMS: readonly SystemName[] = ['direct', 'hms-router', 'hms-router-cache'];

/** One system on one workload, over every round. */
export interface SystemResult {
  readonly throughputPerSec: Spread;
  readonly p50Ms: Spread;
  readonly p99Ms: Spread;
  /** Latency quantiles 0, 1, ..., 100 (101 values, ms), per quantile the median over rounds: the CDF to plot. */
  readonly latencyQuantilesMs: readonly number[];
  /** Throughput over direct's, per round (same round, same workload); null for direct itself. */
  readonly throughputRatioToDirect: Spread | null;
  /** The proxy process's CPU time per call (µs), null for direct. */
  readonly cpuUsPerCall: Spread | null;
  /** The proxy process's RSS after the workload (MiB), null for direct. */
  readonly rssMiB: number | null;
  readonly calls: number;
  /** Calls that failed (each is also listed, up to 5, in `errorSamples`). */
  readonly errors: number;
  readonly errorSamples: readonly string[];
  /** Part-specific figures (e.g. replicaShare, staleReads). */
  readonly extra: Readonly<Record<string, number>>;
}

/** A system that could not run a workload, and exactly why. */
export interface SystemUnavailable {
  readonly unavailable: string;
}

/** A proxy's answers compared with the metastore's (bench/suite/fidelity.ts). */
export interface ProbeResult {
  /** Per method: 'identical', or 'differs: ...' naming the fields missing or added. */
  readonly fidelity: Readonly<Record<string, string>>;
  /** Whether get_all_databases on an open connection lists a database created after it opened. */
  readonly freshness: string;
}

export type PartName = 'reads' | 'mixed' | 'federated' | 'large-listing' | 'cache';

export interface WorkloadResult {
  readonly part: PartName;
  /** Short unique name, e.g. "get_table x16". */
  readonly name: string;
  readonly description: string;
  /** Concurrent callers; `connectionPerCall` when each call opens its own connection. */
  readonly concurrency: number;
  readonly connectionPerCall: boolean;
  readonly systems: Readonly<Partial<Record<SystemName, SystemResult | SystemUnavailable>>>;
  readonly notes: readonly string[];
}

export interface SuiteResults {
  readonly benchmark: 'suite';
  readonly date: string;
  readonly command: string;
  readonly hiveVersion: string;
  readonly waggleDance: {
    readonly version: string | null;
    readonly javaFlags: readonly string[];
    readonly unavailable: string | null;
    /** Its settings that differ from its defaults, each with the reason. */
    readonly settings?: readonly string[];
  };
  readonly machine: { readonly cpus: number; readonly memoryGiB: number; readonly node: string; readonly loadAverageAtStart: readonly number[]; readonly loadAverageAtEnd: readonly number[] };
  readonly secondsPerRun: number;
  readonly rounds: number;
  readonly goals: {
    readonly persistentThroughputRatioAtLeast: number;
    readonly connectionPerCallThroughputRatioAtLeast: number;
    readonly aheadOfWaggleDance: true;
  };
  readonly workloads: readonly WorkloadResult[];
  /** Per proxy, its answers compared with direct's (absent in results from before the probe). */
  readonly probes?: Readonly<Partial<Record<SystemName, ProbeResult>>>;
  readonly minutes: number;
}

/** One goal of issue #15 on one workload (or over the part), as measured: never assumed. */
export interface CacheGoal {
  /** e.g. "throughput ≥ 5x direct". */
  readonly goal: string;
  /** The workload it was checked on, or null for a goal over the whole part. */
  readonly workload: string | null;
  readonly measured: number | null;
  /** null: not measured (and `detail` says why). */
  readonly met: boolean | null;
  readonly detail: string;
}

/** bench/results/cache.json: the cache part of the suite (issue #15). */
export interface CacheResults {
  readonly benchmark: 'cache';
  readonly date: string;
  readonly command: string;
  /** The commit the router was built from (the tree may hold more). */
  readonly commit: string | null;
  readonly hiveVersion: string;
  readonly machine: SuiteResults['machine'];
  readonly secondsPerRun: number;
  readonly warmupSeconds: number;
  readonly rounds: number;
  /** How the systems were set up, in words: router config of the cache, relays, objects. */
  readonly settings: readonly string[];
  /** Whether the router with cache exported the cache's metrics (its cache stage ran), and what was seen. */
  readonly cache: {
    readonly active: boolean;
    readonly detail: string;
    /** Whether the metastore writes its notification log (the feed's source): new rows while the objects were created. */
    readonly notificationLogWritten: boolean | null;
    /** The router with cache's gauges at the end of each phase (entries, bytes, feed lag in seconds). */
    readonly gauges: Readonly<Record<string, Readonly<Record<string, number>>>>;
  };
  readonly hotReads: readonly WorkloadResult[];
  readonly mixed: readonly WorkloadResult[];
  readonly goals: readonly CacheGoal[];
  readonly goalsSummary: { readonly met: number; readonly notMet: number; readonly notMeasured: number };
  readonly minutes: number;
}

export function isUnavailable(r: SystemResult | SystemUnavailable | undefined): r is SystemUnavailable {
  return r !== undefined && 'unavailable' in r;
}
