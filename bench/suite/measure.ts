/**
 * One workload measured on every system side by side: per round, each system runs the same load
 * for the same time, in an order that rotates from round to round (so no system always runs on a
 * machine warmed or tired by another). Ratios are taken per round, then summarised.
 */
import { cpuMs, percentile, rssBytes } from '../support';
import { runLoad, LoadSample, WorkloadCall } from './load';
import type { PartName, Spread, SystemName, SystemResult, SystemUnavailable, WorkloadResult } from './results';

/** A system as the load sees it: where to connect, and its process (for CPU and RSS) if it is a proxy. */
export interface Target {
  readonly system: SystemName;
  readonly port: number;
  readonly pid: number | null;
  /** Figures read after each round (e.g. the router's replica share from its metrics); medians are reported. */
  readonly afterRound?: () => Promise<Record<string, number>>;
  readonly beforeRound?: () => Promise<void>;
}

export interface Workload {
  readonly part: PartName;
  readonly name: string;
  readonly description: string;
  readonly concurrency: number;
  readonly connectionPerCall: boolean;
  readonly call: WorkloadCall;
  readonly notes?: readonly string[];
}

export interface MeasureOptions {
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly log: (line: string) => void;
}

interface Round {
  readonly sample: LoadSample;
  readonly cpuMs: number | null;
  readonly after: Record<string, number>;
}

export async function measure(workload: Workload, targets: ReadonlyArray<Target | { system: SystemName; unavailable: string }>,
  options: MeasureOptions): Promise<WorkloadResult> {
  const runnable = targets.filter((t): t is Target => !('unavailable' in t));
  const load = (t: Target, seconds: number) => runLoad({ port: t.port, concurrency: workload.concurrency, connectionPerCall: workload.connectionPerCall, seconds }, workload.call);
  for (const t of runnable) await load(t, options.warmupSeconds);
  const rounds = new Map<SystemName, Round[]>(runnable.map((t) => [t.system, []]));
  for (let r = 0; r < options.rounds; r++) {
    const order = runnable.map((_, i) => runnable[(i + r) % runnable.length]!);
    for (const t of order) {
      await t.beforeRound?.();
      const cpu0 = t.pid === null ? 0 : cpuMs(t.pid);
      const sample = await load(t, options.seconds);
      const cpu = t.pid === null ? null : cpuMs(t.pid) - cpu0;
      const after = (await t.afterRound?.()) ?? {};
      rounds.get(t.system)!.push({ sample, cpuMs: cpu, after });
      options.log(`${workload.name} round ${r + 1} ${t.system}: ${Math.round(sample.calls / sample.seconds)}/s p50 ${percentile(sample.latenciesMs, 50).toFixed(2)} ms${sample.errors ? ` errors ${sample.errors}` : ''}`);
    }
  }
  const direct = rounds.get('direct') ?? null;
  const systems: Partial<Record<SystemName, SystemResult | SystemUnavailable>> = {};
  for (const t of targets) {
    if ('unavailable' in t) { systems[t.system] = { unavailable: t.unavailable }; continue; }
    const mine = rounds.get(t.system)!;
    systems[t.system] = summarise(mine, t.system === 'direct' ? null : direct, t.pid);
  }
  return {
    part: workload.part, name: workload.name, description: workload.description,
    concurrency: workload.concurrency, connectionPerCall: workload.connectionPerCall,
    systems, notes: workload.notes ?? [],
  };
}

function summarise(rounds: readonly Round[], direct: readonly Round[] | null, pid: number | null): SystemResult {
  const throughput = rounds.map((r) => r.sample.calls / r.sample.seconds);
  const calls = rounds.reduce((n, r) => n + r.sample.calls, 0);
  const cpuTotal = rounds.every((r) => r.cpuMs !== null) ? rounds.map((r) => ((r.cpuMs ?? 0) * 1000) / Math.max(1, r.sample.calls)) : null;
  const counters: Record<string, number> = {};
  for (const r of rounds) for (const [k, v] of Object.entries(r.sample.counters)) counters[k] = (counters[k] ?? 0) + v;
  const afterKeys = new Set(rounds.flatMap((r) => Object.keys(r.after)));
  for (const k of afterKeys) counters[k] = median(rounds.map((r) => r.after[k] ?? NaN).filter((x) => !Number.isNaN(x)));
  const quantiles = Array.from({ length: 101 }, (_, q) => median(rounds.map((r) => percentile(r.sample.latenciesMs, q))));
  return {
    // Whole calls per second, but three decimals for workloads of seconds-long calls (0.19/s is not 0).
    throughputPerSec: spread(throughput, throughput.every((v) => v >= 100) ? 0 : 3),
    p50Ms: spread(rounds.map((r) => percentile(r.sample.latenciesMs, 50)), 3),
    p99Ms: spread(rounds.map((r) => percentile(r.sample.latenciesMs, 99)), 3),
    latencyQuantilesMs: quantiles.map((x) => +x.toFixed(4)),
    throughputRatioToDirect: direct === null ? null
      : spread(rounds.map((r, i) => (r.sample.calls / r.sample.seconds) / (direct[i]!.sample.calls / direct[i]!.sample.seconds)), 3),
    cpuUsPerCall: cpuTotal === null ? null : spread(cpuTotal, 1),
    rssMiB: pid === null ? null : Math.round(rssBytes(pid) / 2 ** 20),
    calls,
    errors: rounds.reduce((n, r) => n + r.sample.errors, 0),
    errorSamples: [...new Set(rounds.flatMap((r) => r.sample.errorSamples))].slice(0, 5),
    extra: counters,
  };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export function spread(xs: readonly number[], digits: number): Spread {
  const round = (x: number) => +x.toFixed(digits);
  return { median: round(median(xs)), min: round(Math.min(...xs)), max: round(Math.max(...xs)), all: xs.map(round) };
}
