/**
 * GET /stats: call counters per metastore, read from the Prometheus registry, with the server's
 * clock. A reader takes two samples and divides the difference by `atMs` apart (the status page
 * does this every refresh), so the router keeps no rate state of its own.
 */
import type { RouterMetrics } from './metrics';

export interface MetastoreCallStats {
  /** Every call answered for this metastore since the router started. */
  readonly calls: number;
  /** By outcome: ok, error (the metastore answered with an exception), router_error, refused, ... */
  readonly byOutcome: Readonly<Record<string, number>>;
  /** By role: primary, replica, router (refused by the router itself). */
  readonly byRole: Readonly<Record<string, number>>;
  /** Reads only (method kind read), by the role that served them: the replica share. */
  readonly reads: { readonly primary: number; readonly replica: number };
}

export interface CallStats {
  readonly at: string;
  readonly atMs: number;
  readonly clientConnections: number;
  /** By metastore name; '*' is calls fanned out to every metastore. */
  readonly metastores: Readonly<Record<string, MetastoreCallStats>>;
}

interface Mutable {
  calls: number;
  byOutcome: Record<string, number>;
  byRole: Record<string, number>;
  reads: { primary: number; replica: number };
}

/** One sample of hms_router_calls_total, as prom-client's get() lists them. */
export interface CallSample {
  readonly labels: Readonly<Record<string, string | number | undefined>>;
  readonly value: number;
}

export async function callStats(metrics: RouterMetrics, now: () => number = Date.now): Promise<CallStats> {
  const [calls, connections] = await Promise.all([metrics.calls.get(), metrics.clientConnections.get()]);
  return callStatsOf(calls.values, connections.values[0]?.value ?? 0, now);
}

/** The stats from the counter's samples (one process's, or the cluster's summed over workers). */
export function callStatsOf(calls: readonly CallSample[], clientConnections: number, now: () => number = Date.now): CallStats {
  const metastores: Record<string, Mutable> = {};
  for (const { labels, value } of calls) {
    const name = String(labels.metastore ?? '?');
    const m = metastores[name] ??= { calls: 0, byOutcome: {}, byRole: {}, reads: { primary: 0, replica: 0 } };
    const outcome = String(labels.outcome ?? '?');
    const role = String(labels.role ?? '?');
    m.calls += value;
    m.byOutcome[outcome] = (m.byOutcome[outcome] ?? 0) + value;
    m.byRole[role] = (m.byRole[role] ?? 0) + value;
    if (labels.kind === 'read' && (role === 'primary' || role === 'replica')) m.reads[role] += value;
  }
  const atMs = now();
  return { at: new Date(atMs).toISOString(), atMs, clientConnections, metastores };
}
