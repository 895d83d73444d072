/**
 * What the shared token store costs a read, and what it buys behind a load balancer, on the real
 * stack (rw metastore on the MariaDB primary, ro on its replica, the stack's Redis). Writes
 * bench/results/token-store.json.
 *
 *   npm run bench:token-store [-- --seconds 6 --rounds 3]
 *
 * 1. Cost: one router in client mode, the engine-like workload (10 reads per write, a new
 *    connection per call, each read checking its client's last write), the replica applying
 *    normally; tokens local vs in Redis, rounds alternating, same run; direct to the metastore as
 *    the baseline; with one client (the latency a read pays: goal at most 0.2 ms added to the p50)
 *    and with eight (a loaded 2-core machine, where the store's CPU shows as queueing).
 * 2. Behind HAProxy (round robin, PROXY protocol) in front of three routers, replica lag cycles:
 *    stale reads with per-process tokens against the shared store (goal 0).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '../stack/stack';
import { REPO_ROOT } from '../stack/layout';
import { startHaproxy } from '../stack/haproxy';
import { replicaLagCycles, startReplicaSqlThread, waitForReplicaToCatchUp } from '../stack/replication';
import { createWorkloadDatabases, dropWorkloadDatabases, runOwnWriteWorkload, workloadClients, WorkloadCounts } from '../test/support/own-write-workload';
import { machineInfo, numericFlag, percentile, scrapeMetrics, startRouterProcess, stopRouterProcess, sumSeries } from './support';

const SECONDS = numericFlag('--seconds', 6);
const ROUNDS = numericFlag('--rounds', 3);
const stack = status();
const clients = workloadClients(8, 60, 'bench_token_store', stack.warehouse);
const LB_PORT = 19960;
const ROUTERS = [0, 1, 2].map((i) => ({ port: 19961 + i, admin: 19971 + i }));
const PREFIX = `bench-token-store-${Date.now()}:`;

function routerConfig(port: number, admin: number, store: 'redis' | 'local', proxyProtocol: boolean): string[] {
  const u = stack.routerMysqlUser;
  return [
    `server: { host: 127.0.0.1, port: ${port}, proxyProtocol: ${proxyProtocol} }`,
    `admin: { port: ${admin} }`,
    'log: { level: warn }',
    store === 'redis' ? `consistency: { tokenStore: { type: redis, url: "${stack.tokenStore.url}", keyPrefix: "${PREFIX}" } }` : 'consistency: { tokenStore: { type: local } }',
    'metastores:',
    '  rw:',
    `    primary: { endpoints: ["127.0.0.1:${stack.metastores.rw.port}"], mysql: { port: ${stack.mysql.primary.port}, user: ${u.user}, password: ${u.password} } }`,
    `    replicas: [{ name: r1, endpoints: ["127.0.0.1:${stack.metastores.ro.port}"], mysql: { port: ${stack.mysql.replica.port}, user: ${u.user}, password: ${u.password} } }]`,
    '    consistency: { mode: client, maxWaitMs: 200, pollIntervalMs: 200 }',
    '    pool: { minIdle: 8, max: 64 }',
    'defaultMetastore: rw',
  ];
}

function summary(c: WorkloadCounts) {
  return { writes: c.writes, reads: c.reads, stale: c.stale, errors: c.errors,
    readP50Ms: +percentile(c.latencies, 50).toFixed(3), readP99Ms: +percentile(c.latencies, 99).toFixed(3) };
}

/**
 * The q-quantile (ms) of the router's successful token store gets, interpolated inside its
 * histogram bucket: the time the store adds to a read (the get is on every client-mode read's path).
 */
function getQuantile(metrics: ReadonlyMap<string, number>, q: number): number | null {
  const buckets: Array<[number, number]> = [];
  for (const [series, count] of metrics) {
    const m = /^hms_router_token_store_operation_seconds_bucket\{(.*)\}$/.exec(series);
    if (m === null || !m[1]!.includes('operation="get"') || !m[1]!.includes('outcome="ok"')) continue;
    const le = /le="([^"]+)"/.exec(m[1]!)![1]!;
    buckets.push([le === '+Inf' ? Infinity : Number(le) * 1000, count]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const at = buckets.findIndex(([, n]) => n >= q * total);
  const [upper, count] = buckets[at]!;
  const [lower, below] = at === 0 ? [0, 0] : buckets[at - 1]!;
  if (upper === Infinity) return null;
  return +(lower + ((q * total - below) / (count - below)) * (upper - lower)).toFixed(3);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One client alone: the latency a read pays (the 0.2 ms goal); eight: the same under a loaded 2-core machine. */
async function costRounds(clientCount: number) {
  const workers = clients.slice(0, clientCount);
  const routers = {
    local: await startRouterProcess('token-store-local', routerConfig(ROUTERS[0]!.port, ROUTERS[0]!.admin, 'local', false), ROUTERS[0]!.admin),
    redis: await startRouterProcess('token-store-redis', routerConfig(ROUTERS[1]!.port, ROUTERS[1]!.admin, 'redis', false), ROUTERS[1]!.admin),
  };
  const rounds: Array<Record<string, ReturnType<typeof summary>>> = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const row: Record<string, ReturnType<typeof summary>> = {};
      // Alternate the order so a machine that slows down over the run does not favour one.
      const order = round % 2 === 0 ? ['direct', 'local', 'redis'] : ['redis', 'local', 'direct'];
      for (const what of order) {
        const port = what === 'direct' ? stack.metastores.rw.port : what === 'local' ? ROUTERS[0]!.port : ROUTERS[1]!.port;
        const deadline = Date.now() + SECONDS * 1000;
        row[what] = summary(await runOwnWriteWorkload(port, workers, 10, () => Date.now() < deadline));
        process.stderr.write(`cost x${clientCount} round ${round + 1} ${what}: ${JSON.stringify(row[what])}\n`);
      }
      rounds.push(row);
    }
    const metrics = await scrapeMetrics(ROUTERS[1]!.admin);
    const gets = sumSeries(metrics, 'hms_router_token_store_operation_seconds_count', ['operation="get"']);
    const getSeconds = sumSeries(metrics, 'hms_router_token_store_operation_seconds_sum', ['operation="get"']);
    // Early reads: the get ran beside the replica call, off the read's path, when kept.
    const earlyKept = sumSeries(metrics, 'hms_router_early_replica_reads_total', ['outcome="kept"']);
    const earlyAgain = sumSeries(metrics, 'hms_router_early_replica_reads_total', ['outcome="decided_again"']);
    return { rounds, storeGets: gets, earlyReadsKept: earlyKept, earlyReadsDecidedAgain: earlyAgain,
      getOnReadPathShare: gets > 0 ? +((gets - earlyKept) / gets).toFixed(3) : null, storeGetMeanMs: gets > 0 ? +((getSeconds / gets) * 1000).toFixed(3) : null, storeGetP50Ms: getQuantile(metrics, 0.5), storeGetP99Ms: getQuantile(metrics, 0.99) };
  } finally {
    await Promise.all(Object.values(routers).map((r) => stopRouterProcess(r)));
  }
}

async function behindBalancer(store: 'redis' | 'local') {
  const routers = await Promise.all(ROUTERS.map((r, i) => startRouterProcess(`token-store-lb-${store}-${i}`, routerConfig(r.port, r.admin, store, true), r.admin)));
  const haproxy = await startHaproxy({ listenPort: LB_PORT, backendPorts: ROUTERS.map((r) => r.port), balance: 'roundrobin', sendProxy: true, dir: join(REPO_ROOT, '.work', 'bench', 'haproxy') });
  const lag = replicaLagCycles(stack.mysql.replica.port);
  try {
    const deadline = Date.now() + SECONDS * 2 * 1000;
    return summary(await runOwnWriteWorkload(LB_PORT, clients, 10, () => Date.now() < deadline));
  } finally {
    await lag.stop();
    await waitForReplicaToCatchUp(stack.mysql.primary.port, stack.mysql.replica.port);
    await haproxy.stop();
    await Promise.all(routers.map((r) => stopRouterProcess(r)));
  }
}

async function main(): Promise<void> {
  if (!stack.running) throw new Error("the local stack is not running; start it with 'npm run stack -- up'");
  await createWorkloadDatabases(stack.metastores.rw.port, clients);
  await waitForReplicaToCatchUp(stack.mysql.primary.port, stack.mysql.replica.port);
  try {
    const costOf = async (n: number) => {
      const cost = await costRounds(n);
      const p50 = (what: string) => median(cost.rounds.map((r) => r[what]!.readP50Ms));
      return { clients: n, ...cost, medianReadP50Ms: { direct: p50('direct'), local: p50('local'), redis: p50('redis') }, clientSideP50DifferenceMs: +(p50('redis') - p50('local')).toFixed(3) };
    };
    const x1 = await costOf(1);
    const x8 = await costOf(8);
    // The client-side difference of read p50s is reported, but the metastore's own variation between
    // rounds (several ms) is far larger than the store's cost; the get timed inside the router is the figure.
    // What the store adds to the median read: nothing when more than half the reads were early
    // reads kept (their get ran beside the replica call), else the get's own p50.
    const addedP50Ms = (x1.getOnReadPathShare ?? 1) < 0.5 ? 0 : x1.storeGetP50Ms ?? Infinity;
    const balanced = { local: await behindBalancer('local'), redis: await behindBalancer('redis') };
    const report = {
      benchmark: 'token-store', date: new Date().toISOString(), machine: machineInfo(), secondsPerRun: SECONDS, rounds: ROUNDS,
      clients: clients.length, readsPerWrite: 10, connectionPerCall: true,
      cost: { x1, x8 },
      behindHaproxy: { routers: ROUTERS.length, balance: 'roundrobin', proxyProtocol: true, lagCycles: '1.5 s stopped / 1 s applying', ...balanced },
      verdicts: [
        { goal: 'the store adds at most 0.2 ms to the read p50 (one client: 0 when most reads are early reads kept, else the get\'s p50 timed in the router)', value: addedP50Ms, met: addedP50Ms <= 0.2 },
        { goal: 'behind HAProxy with the shared store: 0 stale reads', value: balanced.redis.stale, met: balanced.redis.stale === 0 },
      ],
    };
    mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'bench', 'results', 'token-store.json'), `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await startReplicaSqlThread(stack.mysql.replica.port);
    await dropWorkloadDatabases(stack.metastores.rw.port, clients);
  }
}

main().catch((err: Error) => { process.stderr.write(`bench: ${err.message}\n`); process.exit(1); });
