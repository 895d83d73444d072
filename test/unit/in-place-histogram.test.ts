import { describe, expect, it } from 'vitest';
import { Histogram, Registry } from 'prom-client';
import { InPlaceHistogram } from '../../src/admin/in-place-histogram';
import { RouterMetrics } from '../../src/admin/metrics';

const BUCKETS = [0.0005, 0.001, 0.01, 0.1, 1, 10];
const OBSERVED: Array<[Record<string, string>, number]> = [
  [{ kind: 'read', metastore: 'rw', role: 'primary' }, 0.0002],
  [{ kind: 'read', metastore: 'rw', role: 'primary' }, 0.001],
  [{ kind: 'read', metastore: 'rw', role: 'replica' }, 0.05],
  [{ kind: 'write', metastore: 'fed "x"', role: 'primary' }, 12],
  [{ kind: 'read', metastore: 'rw', role: 'primary' }, 0],
];

describe('InPlaceHistogram', () => {
  it('exports exactly what prom-client exports for the same observations (text and JSON)', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const h = new InPlaceHistogram({ name: 'x_seconds', help: 'help', labelNames: ['kind', 'metastore', 'role'], buckets: BUCKETS, registers: [ours] });
    const p = new Histogram({ name: 'x_seconds', help: 'help', labelNames: ['kind', 'metastore', 'role'], buckets: BUCKETS, registers: [theirs] });
    for (const [labels, v] of OBSERVED) {
      h.child(labels).observe(v);
      p.labels(labels).observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
    h.reset();
    p.reset();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('a child is one series whatever the order of the labels given', () => {
    const h = new InPlaceHistogram({ name: 'y_seconds', help: 'help', labelNames: ['a', 'b'], buckets: BUCKETS, registers: [] });
    expect(h.child({ b: '2', a: '1' })).toBe(h.child({ a: '1', b: '2' }));
    expect(() => h.child({ a: '1' })).toThrow(/label b missing/);
  });
});

describe('RouterMetrics.recordCall', () => {
  it('counts calls and durations as the counter and histogram did', async () => {
    const m = new RouterMetrics();
    m.recordCall('get_table', 'read', 'rw', 'primary', 'ok', 0.0007);
    m.recordCall('get_table', 'read', 'rw', 'primary', 'ok', 0.02);
    m.recordCall('get_table', 'read', 'rw', 'replica', 'error', 0.003);
    const calls = await m.calls.get();
    expect(calls.values.map((v) => [v.labels, v.value])).toEqual([
      [{ method: 'get_table', kind: 'read', metastore: 'rw', role: 'primary', outcome: 'ok' }, 2],
      [{ method: 'get_table', kind: 'read', metastore: 'rw', role: 'replica', outcome: 'error' }, 1],
    ]);
    m.recordCall('get_table', 'read', 'rw', 'primary', 'ok', 0.001);
    const text = await m.registry.metrics();
    expect(text).toContain('hms_router_calls_total{method="get_table",kind="read",metastore="rw",role="primary",outcome="ok"} 3');
    expect(text).toContain('hms_router_call_duration_seconds_count{kind="read",metastore="rw",role="primary"} 3');
    expect(text).toContain('hms_router_call_duration_seconds_bucket{le="0.001",kind="read",metastore="rw",role="primary"} 2');
    expect(text).toContain('hms_router_call_duration_seconds_count{kind="read",metastore="rw",role="replica"} 1');
  });
});
