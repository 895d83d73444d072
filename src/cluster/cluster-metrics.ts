/**
 * One /metrics for the whole host: the workers' registries (as getMetricsAsJSON sends them over
 * IPC) aggregated by prom-client's AggregatorRegistry.aggregate, each metric by its declared
 * `aggregator` (summed when it declares none; see src/admin/metrics.ts), merged with the primary's
 * own metrics about the workers.
 *
 * Why the primary collects the workers' JSON itself instead of AggregatorRegistry.clusterMetrics():
 * clusterMetrics asks every connected cluster worker, including one still starting that cannot
 * answer yet, and then the whole scrape waits 5 s and fails. The primary asks only the workers
 * that have started, and /stats reads the same aggregate.
 */
import { AggregatorRegistry, Counter, Gauge, MetricObjectWithValues, MetricValue, Registry } from 'prom-client';
import { callStatsOf, CallStats } from '../admin/call-stats';

export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

/** What the primary knows about its workers when it is scraped. */
export interface WorkersSnapshot {
  readonly configured: number;
  readonly running: number;
}

export class ClusterMetrics {
  readonly registry = new Registry();
  readonly restarts: Counter;
  private lastPerWorker: ReadonlyArray<{ worker: number; pid: number; metrics: WorkerMetrics }> = [];

  constructor(snapshot: () => WorkersSnapshot) {
    new Gauge({
      name: 'hms_router_workers',
      help: 'Worker processes (server.workers) started and serving the Thrift port.',
      registers: [this.registry],
      collect() { this.set(snapshot().running); },
    });
    new Gauge({
      name: 'hms_router_workers_configured',
      help: 'Worker processes server.workers asks for.',
      registers: [this.registry],
      collect() { this.set(snapshot().configured); },
    });
    this.restarts = new Counter({
      name: 'hms_router_worker_restarts_total',
      help: 'Workers replaced after they exited unexpectedly.',
      registers: [this.registry],
    });
    const perWorker = (): ReadonlyArray<{ worker: number; pid: number; metrics: WorkerMetrics }> => this.lastPerWorker;
    new Counter({
      name: 'hms_router_worker_calls_total',
      help: 'Calls answered by each live worker (hms_router_calls_total of that process): how evenly the port spreads connections.',
      labelNames: ['worker', 'pid'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const w of perWorker()) {
          this.inc({ worker: String(w.worker), pid: String(w.pid) }, sumOf(w.metrics, 'hms_router_calls_total'));
        }
      },
    });
  }

  /** The /metrics text from each live worker's registry. */
  async scrape(perWorker: ReadonlyArray<{ worker: number; pid: number; metrics: WorkerMetrics }>): Promise<string> {
    this.lastPerWorker = perWorker;
    const aggregated = AggregatorRegistry.aggregate(perWorker.map((w) => w.metrics));
    return Registry.merge([aggregated as Registry, this.registry]).metrics();
  }

  /** GET /stats from the workers' call counters, summed. */
  stats(perWorker: ReadonlyArray<{ metrics: WorkerMetrics }>): CallStats {
    const calls = perWorker.flatMap((w) => w.metrics.find((m) => m.name === 'hms_router_calls_total')?.values ?? []);
    const connections = perWorker.reduce((n, w) => n + sumOf(w.metrics, 'hms_router_client_connections'), 0);
    // callStatsOf adds up every sample, so one series from several workers is summed as it should.
    return callStatsOf(calls, connections);
  }
}

function sumOf(metrics: WorkerMetrics, name: string): number {
  return metrics.find((m) => m.name === name)?.values.reduce((n, v) => n + v.value, 0) ?? 0;
}
