/**
 * Read-your-writes behind a real load balancer (issue #16): HAProxy from Debian in TCP mode, round
 * robin, no affinity, sending the PROXY protocol, in front of three routers (with the shared store
 * the third runs two workers: four processes) in `client`
 * mode on the real stack (rw metastore on the MariaDB primary, ro on its GTID replica). The workload
 * is Presto's pattern: a new connection per call, each read checking its client's last write, while
 * the replica lags in cycles (SQL thread stopped 1.5 s, started 1 s).
 * - tokens in the stack's Redis (consistency.tokenStore redis): 0 stale reads, and the replica
 *   still serves reads;
 * - tokens per process (local): the same run shows the stale reads this produces, side by side;
 * - the shared store frozen (SIGSTOP) mid-run: still 0 stale, reads counted as safe reads, and the
 *   routers use the store again once it wakes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { status } from '../../stack/stack';
import { REPO_ROOT } from '../../stack/layout';
import { startHaproxy, RunningHaproxy } from '../../stack/haproxy';
import { replicaLagCycles, startReplicaSqlThread, waitForReplicaToCatchUp } from '../../stack/replication';
import { scrapeMetrics, startRouterProcess, stopRouterProcess, sumSeries } from '../../bench/support';
import { createWorkloadDatabases, dropWorkloadDatabases, runOwnWriteWorkload, workloadClients, WorkloadCounts } from '../support/own-write-workload';

const stack = status();
const LB_PORT = 19870;
const ROUTERS = [0, 1, 2].map((i) => ({ port: 19871 + i, admin: 19881 + i }));
const clients = workloadClients(8, 40, 'lb_rw', stack.warehouse);
const RUN_MS = 10_000;
/** One key prefix for every router of this run (a fleet shares its tokens), apart from other runs. */
const KEY_PREFIX = `lb-test-${process.pid}-${Date.now()}:`;

/** The third router runs two workers (server.workers): four processes share the tokens. */
function routerConfig(port: number, admin: number, store: 'redis' | 'local', workers: number): string[] {
  const u = stack.routerMysqlUser;
  return [
    `server: { host: 127.0.0.1, port: ${port}, proxyProtocol: true, workers: ${workers} }`,
    `admin: { port: ${admin} }`,
    'log: { level: warn }',
    store === 'redis' ? `consistency: { tokenStore: { type: redis, url: "${stack.tokenStore.url}", keyPrefix: "${KEY_PREFIX}" } }` : 'consistency: { tokenStore: { type: local } }',
    'metastores:',
    '  rw:',
    `    primary: { endpoints: ["127.0.0.1:${stack.metastores.rw.port}"], mysql: { port: ${stack.mysql.primary.port}, user: ${u.user}, password: ${u.password} } }`,
    `    replicas: [{ name: r1, endpoints: ["127.0.0.1:${stack.metastores.ro.port}"], mysql: { port: ${stack.mysql.replica.port}, user: ${u.user}, password: ${u.password} } }]`,
    '    consistency: { mode: client, maxWaitMs: 200, pollIntervalMs: 200 }',
    '    pool: { minIdle: 4, max: 32 }',
    'defaultMetastore: rw',
  ];
}

interface Fleet { routers: ChildProcess[]; haproxy: RunningHaproxy }

async function startFleet(store: 'redis' | 'local'): Promise<Fleet> {
  const started = await Promise.allSettled(ROUTERS.map((r, i) =>
    startRouterProcess(`lb-${store}-${i}`, routerConfig(r.port, r.admin, store, store === 'redis' && i === 2 ? 2 : 1), r.admin, { fromSource: true })));
  const routers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const haproxy = await startHaproxy({
      listenPort: LB_PORT, backendPorts: ROUTERS.map((r) => r.port), balance: 'roundrobin', sendProxy: true,
      dir: join(REPO_ROOT, '.work', 'haproxy-lb-test'),
    });
    return { routers, haproxy };
  } catch (err) {
    await Promise.all(routers.map((r) => stopRouterProcess(r)));
    throw err;
  }
}

async function stopFleet(fleet: Fleet): Promise<void> {
  await fleet.haproxy.stop();
  await Promise.all(fleet.routers.map((r) => stopRouterProcess(r)));
}

/** The sum over the three routers of a metric's series. */
async function fleetSum(name: string, labels: string[] = []): Promise<number[]> {
  return Promise.all(ROUTERS.map(async (r) => sumSeries(await scrapeMetrics(r.admin), name, labels)));
}

/** The workload for RUN_MS with the replica lagging in cycles; `during` runs beside it. */
async function lagCycleRun(during: () => Promise<void> = async () => {}): Promise<WorkloadCounts> {
  const deadline = Date.now() + RUN_MS;
  const running = () => Date.now() < deadline;
  const lag = replicaLagCycles(stack.mysql.replica.port);
  try {
    const [counts] = await Promise.all([runOwnWriteWorkload(LB_PORT, clients, 4, running), during()]);
    return counts;
  } finally {
    await lag.stop();
    await waitForReplicaToCatchUp(stack.mysql.primary.port, stack.mysql.replica.port);
  }
}

const results: Record<string, WorkloadCounts> = {};

/** Runs `body` with a fleet that is stopped afterwards, pass or fail. */
async function withFleet<T>(store: 'redis' | 'local', body: () => Promise<T>): Promise<T> {
  const fleet = await startFleet(store);
  try { return await body(); } finally { await stopFleet(fleet); }
}

describe('three routers behind HAProxy (round robin, no affinity), client mode, replica lag cycles', () => {

  beforeAll(async () => {
    await createWorkloadDatabases(stack.metastores.rw.port, clients);
    await waitForReplicaToCatchUp(stack.mysql.primary.port, stack.mysql.replica.port);
  });

  afterAll(async () => {
    try { process.kill(stack.tokenStore.pid!, 'SIGCONT'); } catch { /* not frozen */ }
    await startReplicaSqlThread(stack.mysql.replica.port);
    await dropWorkloadDatabases(stack.metastores.rw.port, clients);
    process.stderr.write(`load-balancer test: ${JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, v]) =>
      [k, { writes: v.writes, reads: v.reads, stale: v.stale, errors: v.errors }])))}\n`);
  });

  it('tokens in the shared store: 0 stale reads, every router serves, the replica serves reads', () => withFleet('redis', async () => {
    const counts = await lagCycleRun();
    results.shared = counts;
    expect(counts.errorSamples).toEqual([]);
    expect(counts.reads).toBeGreaterThan(150);
    expect(counts.stale).toBe(0);
    const calls = await fleetSum('hms_router_calls_total');
    for (const n of calls) expect(n).toBeGreaterThan(counts.reads / 6);
    const replicaReads = (await fleetSum('hms_router_calls_total', ['role="replica"'])).reduce((a, b) => a + b, 0);
    expect(replicaReads).toBeGreaterThan(counts.reads / 10);
    const up = await fleetSum('hms_router_token_store_up');
    expect(up).toEqual([1, 1, 1]);
  }));

  it('the shared store frozen mid-run: still 0 stale; reads take fresh primary tokens, counted; the store is used again after', () => withFleet('redis', async () => {
    const pid = stack.tokenStore.pid!;
    const safeBefore = (await fleetSum('hms_router_token_store_safe_reads_total')).reduce((a, b) => a + b, 0);
    const counts = await lagCycleRun(async () => {
      await new Promise((r) => setTimeout(r, 3000));
      process.kill(pid, 'SIGSTOP');
      await new Promise((r) => setTimeout(r, 3000));
      process.kill(pid, 'SIGCONT');
    });
    results.sharedFrozen = counts;
    expect(counts.stale).toBe(0);
    expect(counts.reads).toBeGreaterThan(100);
    const safeAfter = (await fleetSum('hms_router_token_store_safe_reads_total')).reduce((a, b) => a + b, 0);
    expect(safeAfter - safeBefore).toBeGreaterThan(0);
    const okGets = await fleetSum('hms_router_token_store_operation_seconds_count', ['operation="get"', 'outcome="ok"']);
    const shortRun = Date.now() + 1500;
    const after = await runOwnWriteWorkload(LB_PORT, clients.slice(0, 2), 3, () => Date.now() < shortRun);
    expect(after.stale).toBe(0);
    const okGetsLater = await fleetSum('hms_router_token_store_operation_seconds_count', ['operation="get"', 'outcome="ok"']);
    expect(okGetsLater.reduce((a, b) => a + b, 0)).toBeGreaterThan(okGets.reduce((a, b) => a + b, 0));
  }));

  it('tokens per process (the local store) behind the same balancer: stale reads, shown beside the shared run', () => withFleet('local', async () => {
    const counts = await lagCycleRun();
    results.local = counts;
    expect(counts.errorSamples).toEqual([]);
    expect(counts.reads).toBeGreaterThan(150);
    // A client's write through router A leaves router B's older token in place: B serves the
    // client's next read from the lagging replica.
    expect(counts.stale).toBeGreaterThan(0);
    expect(results.shared?.stale).toBe(0);
  }));
});
