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

export type SystemName = 'direct' | 'hms-router' | 'waggle-dance';
export const SYSTEMS: readonly SystemName[] = ['direct', 'hms-router', 'waggle-dance'];

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

export type PartName = 'reads' | 'mixed' | 'federated' | 'large-listing';

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

export function isUnavailable(r: SystemResult | SystemUnavailable | undefined): r is SystemUnavailable {
  return r !== undefined && 'unavailable' in r;
}
