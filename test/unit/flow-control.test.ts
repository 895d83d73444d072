/**
 * Flow control: classification of callers, and admission by priority under pressure (fake timers:
 * waits and deadlines are exact).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RouterMetrics } from '../../src/admin/metrics';
import { classify, compileFlow, CompiledFlow, flowSchema } from '../../src/flow/flow-policy';
import { Admission, FlowControl } from '../../src/flow/flow-control';
import { compileRoutingMap } from '../../src/routing/routing-map';

function flow(input: unknown, problems: string[] = []): CompiledFlow {
  return compileFlow(flowSchema.parse(input), ['rw', 'fed'], problems);
}

describe('flow policy', () => {
  const f = flow({
    classes: [
      { name: 'dashboards', priority: 'high', users: ['looker*'] },
      { name: 'etl', priority: 'low', cidrs: ['10.2.0.0/16', 'fd00::/8'], kinds: ['read'] },
      { name: 'writers', priority: 'normal', kinds: ['write', 'txn'] },
    ],
    defaultClass: { priority: 'low' },
  });
  const caller = (user: string | null, address: string, kind: 'read' | 'write' | 'txn' | 'global') => ({ user, address, kind });

  it('takes the first class whose every criterion matches', () => {
    expect(classify(f, caller('looker_prod', '10.2.3.4', 'read')).name).toBe('dashboards');
    expect(classify(f, caller('spark', '10.2.3.4', 'read')).name).toBe('etl');
    expect(classify(f, caller('spark', '::ffff:10.2.3.4', 'read')).name).toBe('etl'); // IPv4 on a dual-stack socket
    expect(classify(f, caller('spark', 'fd00::1', 'read')).name).toBe('etl');
    expect(classify(f, caller('spark', '10.2.3.4', 'write')).name).toBe('writers');
    expect(classify(f, caller(null, '10.9.0.1', 'global'))).toMatchObject({ name: 'default', priority: 'low' });
  });

  it('names every bad setting', () => {
    const problems: string[] = [];
    flow({
      classes: [
        { name: 'a', priority: 'low', cidrs: ['10.0.0.0/33', 'not-an-ip'] },
        { name: 'a', priority: 'high', burst: 5 },
      ],
      perMetastore: { nowhere: { maxInFlight: 3 } },
    }, problems);
    expect(problems).toEqual([
      "flow.classes.0.cidrs.0: '10.0.0.0/33' is not an IPv4 or IPv6 address or CIDR block (e.g. 10.0.0.0/8)",
      "flow.classes.0.cidrs.1: 'not-an-ip' is not an IPv4 or IPv6 address or CIDR block (e.g. 10.0.0.0/8)",
      'flow.classes.1.burst: burst needs ratePerSecond',
      "flow.classes.1.name: class 'a' is already defined by flow.classes.0",
      "flow.perMetastore.nowhere: unknown metastore 'nowhere' (known: rw, fed)",
    ]);
  });

  it('lives in the routing map: a bad flow section refuses the map', () => {
    const r = compileRoutingMap({ defaultMetastore: 'rw', flow: { classes: [{ name: 'x', priority: 'urgent' }] } }, ['rw']);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems.join('\n')).toMatch(/flow\.classes\.0\.priority/);
    const good = compileRoutingMap({ defaultMetastore: 'rw', flow: { pressure: { maxInFlight: 8 } } }, ['rw']);
    expect(good.ok && good.map.flow?.pressureFor('rw').maxInFlight).toBe(8);
  });
});

describe('admission', () => {
  let control: FlowControl;
  let metrics: RouterMetrics;
  beforeEach(() => {
    vi.useFakeTimers();
    metrics = new RouterMetrics();
    control = new FlowControl(metrics, () => Date.now());
  });
  afterEach(() => {
    control.close();
    vi.useRealTimers();
  });

  const policy = flow({
    classes: [
      { name: 'hi', priority: 'high', users: ['hi'] },
      { name: 'lo', priority: 'low', users: ['lo'], maxWaitMs: 500 },
      { name: 'capped', priority: 'normal', users: ['capped'], maxConcurrent: 1, maxWaitMs: 300 },
      { name: 'metered', priority: 'normal', users: ['metered'], ratePerSecond: 10, burst: 2, maxWaitMs: 1000 },
    ],
    defaultClass: { priority: 'normal', maxWaitMs: 3000 },
    pressure: { maxInFlight: 4, lowShare: 0.5, latencyMs: 100 },
  });
  const cls = (user: string) => classify(policy, { user, address: '127.0.0.1', kind: 'read' });
  const admit = (user: string) => control.admit(policy, 'rw', cls(user));
  const settle = async (p: Promise<Admission>) => {
    let result: Admission | 'pending' = 'pending';
    void p.then((a) => { result = a; });
    await vi.advanceTimersByTimeAsync(0);
    return () => result;
  };

  it('normal calls wait at the in-flight limit and start as soon as one finishes', async () => {
    const first = await Promise.all([admit('n'), admit('n'), admit('n'), admit('n')]);
    expect(first.every((a) => a.ok && a.waitedMs === 0)).toBe(true);
    const fifth = await settle(admit('n'));
    expect(fifth()).toBe('pending');
    await vi.advanceTimersByTimeAsync(50);
    if (first[0]!.ok) first[0]!.release(10);
    await vi.advanceTimersByTimeAsync(0);
    expect(fifth()).toMatchObject({ ok: true, waitedMs: 50 });
  });

  it('high-priority calls go through pressure; low ones use only lowShare of the limit', async () => {
    const lows = await Promise.all([admit('lo'), admit('lo')]);
    expect(lows.every((a) => a.ok)).toBe(true);
    const thirdLow = await settle(admit('lo'));
    expect(thirdLow()).toBe('pending'); // 2 in flight = lowShare 0.5 of 4
    const normals = await Promise.all([admit('n'), admit('n')]);
    expect(normals.every((a) => a.ok)).toBe(true); // normal still has room up to 4
    const high = await Promise.all([admit('hi'), admit('hi'), admit('hi')]);
    expect(high.every((a) => a.ok && a.waitedMs === 0)).toBe(true); // 7 in flight: high is never held
    expect(control.inFlight('rw')).toBe(7);
  });

  it('a waiting call is refused with the reason once its class has waited maxWaitMs: never hung', async () => {
    await Promise.all([admit('lo'), admit('lo')]);
    const third = await settle(admit('lo'));
    await vi.advanceTimersByTimeAsync(499);
    expect(third()).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(third()).toEqual({ ok: false, reason: 'pressure', waitedMs: 500 });
    expect(control.waiting).toBe(0);
    const throttled = await metrics.registry.getSingleMetricAsString('hms_router_flow_throttled_total');
    expect(throttled).toMatch(/class="lo",reason="pressure"} 1/);
  });

  it('a freed slot goes to a waiting normal call before an earlier low one', async () => {
    const held = await Promise.all([admit('n'), admit('n'), admit('n'), admit('n')]);
    const low = await settle(admit('lo'));
    const normal = await settle(admit('n'));
    if (held[0]!.ok) held[0]!.release(10);
    await vi.advanceTimersByTimeAsync(0);
    expect(normal()).toMatchObject({ ok: true });
    expect(low()).toBe('pending');
  });

  it('slow answers put the metastore under pressure until the latency recovers or goes stale', async () => {
    const a = await admit('n');
    if (a.ok) a.release(400); // well above latencyMs 100
    const held = await settle(admit('n'));
    expect(held()).toBe('pending');
    const high = await admit('hi');
    expect(high.ok).toBe(true);
    // Fast high-priority answers bring the average down...
    for (let i = 0; i < 12 && held() === 'pending'; i++) {
      const h = await admit('hi');
      if (h.ok) h.release(5);
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(held()).toMatchObject({ ok: true });
    // ...and with no answers at all, an old average stops counting after 2 s.
    const b = await admit('n');
    if (b.ok) b.release(1000);
    const later = await settle(admit('n'));
    await vi.advanceTimersByTimeAsync(1990);
    expect(later()).toBe('pending');
    await vi.advanceTimersByTimeAsync(30); // re-checked every 20 ms
    const admitted = later();
    expect(admitted).toMatchObject({ ok: true });
    expect(admitted !== 'pending' && admitted.waitedMs).toBeGreaterThanOrEqual(2000);
  });

  it('class limits: concurrency and token-bucket rate', async () => {
    const one = await admit('capped');
    const two = await settle(admit('capped'));
    await vi.advanceTimersByTimeAsync(300);
    expect(two()).toEqual({ ok: false, reason: 'class_concurrency', waitedMs: 300 });
    if (one.ok) one.release(1);

    const burst = await Promise.all([admit('metered'), admit('metered')]);
    burst.forEach((a) => a.ok && a.release(1));
    const third = await settle(admit('metered'));
    expect(third()).toBe('pending');
    await vi.advanceTimersByTimeAsync(120); // 10 per second: the next token after 100 ms
    expect(third()).toMatchObject({ ok: true });
  });
});
