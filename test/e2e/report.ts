/**
 * What an end-to-end run reports: each step's result, the calls the engine made through the
 * router (from `hms_router_calls_total`, as a difference of two snapshots), and the share of
 * metadata reads the replica served. Written to test/e2e/results/<engine>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestRouter } from '../support/router-harness';
import type { StatementOutcome } from '../support/engine-sql';
import type { Step } from './scenario';

export interface StepResult {
  readonly step: string;
  readonly metastore: string | null;
  readonly sql: string;
  readonly expect: string;
  readonly ok: boolean;
  /** The first rows (or the error), as the engine returned them. */
  readonly result: unknown;
  /** Why the step is not ok, or null. */
  readonly problem: string | null;
  readonly ms: number;
}

export function stepResult(step: Step, outcome: StatementOutcome): StepResult {
  const problem = step.check(outcome);
  return {
    step: step.step, metastore: step.metastore, sql: step.sql, expect: step.expect, ok: problem === null,
    result: outcome.ok ? outcome.rows.slice(0, 8) : { error: outcome.error, errorName: outcome.errorName },
    problem, ms: outcome.ms,
  };
}

/** A check the test makes outside the engine (MySQL rows, the replica's own metastore). */
export function checkResult(step: string, metastore: string | null, expect: string, problem: string | null, result: unknown): StepResult {
  return { step, metastore, sql: '', expect, ok: problem === null, result, problem, ms: 0 };
}

/** Counter series by label set, e.g. 'method=get_table,kind=read,...' -> value. */
export type Snapshot = Map<string, { labels: Record<string, string>; value: number }>;

export async function snapshot(router: TestRouter, metric: string): Promise<Snapshot> {
  const out: Snapshot = new Map();
  for (const m of await router.metrics.registry.getMetricsAsJSON()) {
    if (m.name !== metric) continue;
    for (const v of m.values as Array<{ labels: Record<string, string | number>; value: number }>) {
      const labels = Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)]));
      out.set(Object.entries(labels).sort().map(([k, x]) => `${k}=${x}`).join(','), { labels, value: v.value });
    }
  }
  return out;
}

export function difference(after: Snapshot, before: Snapshot): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const [key, a] of after) {
    const d = a.value - (before.get(key)?.value ?? 0);
    if (d > 0) out.push({ labels: a.labels, value: d });
  }
  return out;
}

export interface MethodCalls {
  readonly method: string;
  readonly kind: string;
  /** Metastores it was served by ('*' = fanned out to every metastore). */
  readonly metastores: string[];
  primary: number;
  replica: number;
  /** Answered from the router's metadata cache (no metastore call). */
  cache: number;
  /** Refused by the router itself (blocked database, read-only metastore). */
  refused: number;
  /** Answered with an exception (the engine's own probes for missing objects included). */
  errors: number;
  total: number;
  /** Calls by metastore and role, e.g. 'rw/replica', 'fed/primary', 'archive/router' (a fan-out is metastore '*'). */
  readonly served: Record<string, number>;
}

export interface Share { readonly replica: number; readonly primary: number; readonly share: number | null }

export interface CallSummary {
  readonly total: number;
  readonly byMethod: MethodCalls[];
  /** Metadata reads (catalog kind 'read') of the rw metastore, the one with a replica. */
  readonly rwReads: Share;
  /**
   * rw reads the router sent to the replica first: those it served, plus those it answered with a
   * declared exception (a miss such as get_partition's NoSuchObjectException) that the primary then
   * settled, since a replica whose MySQL connection just broke answers the same way.
   */
  readonly rwReadsTriedOnReplica: Share;
  /** rw reads other than those misses: answered by the replica or, on a fallback, by the primary. */
  readonly rwReadsOtherThanMisses: Share;
  /** Every metadata read of the run, fed's and fanned-out listings included (they have no replica). */
  readonly allReads: Share;
  /** Metadata reads answered from the router's cache, of all metadata reads (the shares above count only the others). */
  readonly readsFromCache: { readonly cached: number; readonly reads: number; readonly share: number | null };
  readonly fallbacks: Record<string, number>;
  readonly unknownMethods: Record<string, number>;
}

function share(replica: number, primary: number): Share {
  return { replica, primary, share: replica + primary === 0 ? null : replica / (replica + primary) };
}

export function summarize(calls: Array<{ labels: Record<string, string>; value: number }>,
  fallbacks: Array<{ labels: Record<string, string>; value: number }>,
  unknown: Array<{ labels: Record<string, string>; value: number }>): CallSummary {
  const byMethod = new Map<string, MethodCalls>();
  let rwReplica = 0; let rwPrimary = 0; let allReplica = 0; let allPrimary = 0; let allCached = 0; let total = 0;
  for (const { labels, value } of calls) {
    const method = labels.method ?? '?';
    let m = byMethod.get(method);
    if (m === undefined) {
      m = { method, kind: labels.kind ?? '?', metastores: [], primary: 0, replica: 0, cache: 0, refused: 0, errors: 0, total: 0, served: {} };
      byMethod.set(method, m);
    }
    if (labels.metastore !== undefined && !m.metastores.includes(labels.metastore)) m.metastores.push(labels.metastore);
    const where = `${labels.metastore ?? '?'}/${labels.role ?? '?'}`;
    m.served[where] = (m.served[where] ?? 0) + value;
    if (labels.role === 'replica') m.replica += value;
    else if (labels.role === 'cache') m.cache += value;
    else if (labels.role === 'router') m.refused += value;
    else m.primary += value;
    if (labels.outcome !== 'ok' && labels.role !== 'router') m.errors += value;
    m.total += value;
    total += value;
    if (labels.kind === 'read' && labels.role === 'cache') allCached += value;
    else if (labels.kind === 'read' && labels.role !== 'router') {
      const replica = labels.role === 'replica';
      if (replica) allReplica += value; else allPrimary += value;
      if (labels.metastore === 'rw') { if (replica) rwReplica += value; else rwPrimary += value; }
    }
  }
  for (const m of byMethod.values()) m.metastores.sort();
  return {
    total,
    byMethod: [...byMethod.values()].sort((a, b) => b.total - a.total || a.method.localeCompare(b.method)),
    rwReads: share(rwReplica, rwPrimary),
    rwReadsTriedOnReplica: share(rwReplica + settledMisses(fallbacks), rwPrimary - settledMisses(fallbacks)),
    rwReadsOtherThanMisses: share(rwReplica, rwPrimary - settledMisses(fallbacks)),
    allReads: share(allReplica, allPrimary),
    readsFromCache: { cached: allCached, reads: allCached + allReplica + allPrimary, share: allCached + allReplica + allPrimary === 0 ? null : allCached / (allCached + allReplica + allPrimary) },
    fallbacks: Object.fromEntries(fallbacks.map((f) => [`${f.labels.metastore}:${f.labels.reason}`, f.value])),
    unknownMethods: Object.fromEntries(unknown.map((u) => [u.labels.method ?? '?', u.value])),
  };
}

/** rw reads the replica answered with a declared exception, answered again by the primary. */
function settledMisses(fallbacks: Array<{ labels: Record<string, string>; value: number }>): number {
  return fallbacks
    .filter((f) => f.labels.metastore === 'rw' && f.labels.reason === 'replica_exception_reply')
    .reduce((sum, f) => sum + f.value, 0);
}

/** Measures the calls made while `body` runs. */
export async function measureCalls<T>(router: TestRouter, body: () => Promise<T>): Promise<{ value: T; calls: CallSummary }> {
  const metrics = ['hms_router_calls_total', 'hms_router_read_fallbacks_total', 'hms_router_unknown_method_calls_total'];
  const before = await Promise.all(metrics.map((m) => snapshot(router, m)));
  const value = await body();
  const after = await Promise.all(metrics.map((m) => snapshot(router, m)));
  const [calls, fallbacks, unknown] = metrics.map((_, i) => difference(after[i]!, before[i]!));
  return { value, calls: summarize(calls!, fallbacks!, unknown!) };
}

export interface RunReport {
  readonly replicaSqlThread: 'stopped' | 'running';
  readonly ms: number;
  readonly steps: StepResult[];
  readonly calls: CallSummary;
}

export interface EngineReport {
  readonly engine: string;
  readonly version: string;
  readonly java: string;
  readonly generatedAt: string;
  readonly router: Record<string, unknown>;
  /** The engine's etc/catalog/hive.properties. */
  readonly hiveCatalog: Record<string, string>;
  readonly timing: Record<string, unknown>;
  readonly runs: Record<string, RunReport>;
}

export function writeReport(dir: string, report: EngineReport): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${report.engine}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

function pct(s: Share): string {
  return s.share === null ? 'n/a' : `${(s.share * 100).toFixed(1)}% (${s.replica}/${s.replica + s.primary})`;
}

/** A few lines per run for the test output. */
export function summaryText(report: EngineReport): string {
  const lines = [`${report.engine} ${report.version}: ${JSON.stringify(report.timing)}`];
  for (const [name, run] of Object.entries(report.runs)) {
    const failed = run.steps.filter((s) => !s.ok);
    lines.push(`  ${name} (replica SQL thread ${run.replicaSqlThread}, ${(run.ms / 1000).toFixed(1)} s): ` +
      `${run.steps.length - failed.length}/${run.steps.length} steps ok; ${run.calls.total} calls; ` +
      `rw reads on the replica ${pct(run.calls.rwReads)} (sent there first ${pct(run.calls.rwReadsTriedOnReplica)}), all reads ${pct(run.calls.allReads)}; `
      + `from the cache ${run.calls.readsFromCache.cached} of ${run.calls.readsFromCache.reads} reads; fallbacks ${JSON.stringify(run.calls.fallbacks)}`);
    for (const s of failed) lines.push(`    FAILED ${s.step}: ${s.problem}`);
    lines.push(`    calls: ${run.calls.byMethod.map((m) => `${m.method} ${Object.entries(m.served).sort().map(([w, n]) => `${w} ${n}`).join(' ')}`).join('; ')}`);
  }
  return lines.join('\n');
}
