/**
 * server.workers: the config key, and the one /metrics the cluster primary makes from its
 * workers' registries (each metric by its declared aggregator), without processes.
 */
import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { parseConfig } from '../../src/config/load';
import { RouterMetrics } from '../../src/admin/metrics';
import { ClusterMetrics, WorkerMetrics } from '../../src/cluster/cluster-metrics';
import { workerCount } from '../../src/cluster/primary';
import { configErrorOf } from '../support/config-errors';

const minimal = (server: string) => `
server: ${server}
metastores:
  rw:
    primary: { endpoints: ["127.0.0.1:9083"] }
defaultMetastore: rw
`;

const errorOf = configErrorOf;

describe('server.workers', () => {
  it('defaults to 1 (one process, as before)', () => {
    expect(parseConfig(minimal('{}'), 'test.yaml').server.workers).toBe(1);
    expect(workerCount(1)).toBe(1);
  });

  it('takes a positive number or auto (one per core)', () => {
    expect(parseConfig(minimal('{ workers: 4 }'), 'test.yaml').server.workers).toBe(4);
    const auto = parseConfig(minimal('{ workers: auto }'), 'test.yaml').server.workers;
    expect(auto).toBe('auto');
    expect(workerCount(auto)).toBe(availableParallelism());
  });

  it.each(['0', '-2', '1.5', 'many', '"4"'])('refuses %s naming the key and what it takes', (value) => {
    expect(errorOf(minimal(`{ workers: ${value} }`))).toMatch(/server\.workers: expected a positive whole number of worker processes \(1 = a single process\), or auto/);
  });
});

async function workerRegistry(setUp: (m: RouterMetrics) => void): Promise<WorkerMetrics> {
  const m = new RouterMetrics();
  setUp(m);
  return await m.registry.getMetricsAsJSON() as WorkerMetrics;
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('cluster /metrics', () => {
  it('sums counts, takes the worst of lag and health, and adds the workers', async () => {
    const one = await workerRegistry((m) => {
      for (let i = 0; i < 3; i++) m.recordCall('get_database', 'read', 'rw', 'primary', 'ok', 0.001);
      m.clientConnections.set(2);
      m.replicaLagTransactions.set({ metastore: 'rw', replica: 'r1' }, 5);
      m.replicaHealthy.set({ metastore: 'rw', replica: 'r1' }, 1);
      m.routingReloads.inc({ source: 'admin', outcome: 'ok' });
    });
    const two = await workerRegistry((m) => {
      for (let i = 0; i < 4; i++) m.recordCall('get_database', 'read', 'rw', 'primary', 'ok', 0.001);
      m.recordCall('create_table', 'write', 'rw', 'primary', 'ok', 0.002);
      m.clientConnections.set(1);
      m.replicaLagTransactions.set({ metastore: 'rw', replica: 'r1' }, 9);
      m.replicaHealthy.set({ metastore: 'rw', replica: 'r1' }, 0);
      m.routingReloads.inc({ source: 'admin', outcome: 'ok' });
    });
    const cluster = new ClusterMetrics(() => ({ configured: 3, running: 2 }));
    const text = await cluster.scrape([{ worker: 1, pid: 101, metrics: one }, { worker: 2, pid: 102, metrics: two }]);

    expect(sample(text, 'hms_router_calls_total{method="get_database",kind="read",metastore="rw",role="primary",outcome="ok"}')).toBe(7);
    expect(sample(text, 'hms_router_call_duration_seconds_count{kind="read",metastore="rw",role="primary"}')).toBe(7);
    expect(sample(text, 'hms_router_client_connections')).toBe(3);
    expect(sample(text, 'hms_router_replica_lag_transactions{metastore="rw",replica="r1"}')).toBe(9);
    expect(sample(text, 'hms_router_replica_healthy{metastore="rw",replica="r1"}')).toBe(0);
    // Every worker applies every reload: one reload is counted once.
    expect(sample(text, 'hms_router_routing_reloads_total{source="admin",outcome="ok"}')).toBe(1);
    expect(sample(text, 'hms_router_workers')).toBe(2);
    expect(sample(text, 'hms_router_workers_configured')).toBe(3);
    expect(sample(text, 'hms_router_worker_calls_total{worker="1",pid="101"}')).toBe(3);
    expect(sample(text, 'hms_router_worker_calls_total{worker="2",pid="102"}')).toBe(5);
    // Each metric once (Prometheus refuses a scrape with a metric twice).
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(new Set(types).size).toBe(types.length);

    const stats = cluster.stats([{ metrics: one }, { metrics: two }]);
    expect(stats.clientConnections).toBe(3);
    expect(stats.metastores.rw).toMatchObject({ calls: 8, reads: { primary: 7, replica: 0 }, byRole: { primary: 8 } });
  });

  it('drops a worker that is gone from the per-worker counts', async () => {
    const one = await workerRegistry((m) => m.recordCall('get_database', 'read', 'rw', 'primary', 'ok', 0.001));
    const cluster = new ClusterMetrics(() => ({ configured: 2, running: 1 }));
    await cluster.scrape([{ worker: 1, pid: 101, metrics: one }, { worker: 2, pid: 102, metrics: one }]);
    const text = await cluster.scrape([{ worker: 1, pid: 101, metrics: one }]);
    expect(sample(text, 'hms_router_worker_calls_total{worker="2",pid="102"}')).toBeUndefined();
    expect(sample(text, 'hms_router_calls_total{method="get_database",kind="read",metastore="rw",role="primary",outcome="ok"}')).toBe(1);
  });
});
