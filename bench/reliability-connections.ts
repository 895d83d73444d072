/**
 * 2,000 client connections held open (issue #7, part 1): the router as its own process (built code)
 * in front of the rw metastore; every connection calls get_database / get_table /
 * get_all_databases with a pause between calls (4-12 s: the metastore, not the router, is what a
 * shorter pause saturates on this machine), and every reply is checked (decodes, seqid, method,
 * the object asked for). Measured: calls answered and errors, client-side latency, the router's
 * RSS every 200 ms (baseline, all connected, peak, end, after close), its backend connections and
 * waiting acquires from /metrics, and the CPU the router and the clients used.
 */
import type { StackStatus } from '../stack/stack';
import { args as callArgs, HmsTestClient } from '../test/support/hms-test-client';
import { createTableArgs, dbTableArgs, TableSpec } from '../test/support/hms-objects';
import { CheckedClient, GarbledReply, replyError } from './checked-client';
import { cpuMs, loadAverage, machineInfo, percentile, sampleRss, scrapeMetrics, startRouterProcess, stopRouterProcess, sumSeries } from './support';

export interface ConnectionsOptions {
  readonly connections: number;
  readonly seconds: number;
  /** Mean pause between a connection's calls (each pause is 0.5x to 1.5x of it). */
  readonly pauseMs: number;
  readonly seed: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

const ROUTER_PORT = 19960;
const ADMIN_PORT = 19961;

export async function connections(stack: StackStatus, options: ConnectionsOptions) {
  const { connections: count, seconds, pauseMs } = options;
  const spec: TableSpec = { db: 'bench_reliability', table: 't', location: `${stack.warehouse}/bench_reliability.db/t`,
    columns: [['id', 'bigint']], partitionKeys: [] };
  const setup = await HmsTestClient.connect(stack.metastores.rw.port);
  await setup.call('drop_database', callArgs.dropDatabase(spec.db));
  await setup.success('create_database', callArgs.createDatabase(spec.db, `${stack.warehouse}/${spec.db}.db`));
  await setup.success('create_table', createTableArgs(spec));

  const router = await startRouterProcess('reliability-connections', [
    `server: { host: 127.0.0.1, port: ${ROUTER_PORT} }`,
    `admin: { port: ${ADMIN_PORT} }`,
    'log: { level: warn }',
    'metastores:',
    '  rw:',
    `    primary: { endpoints: ["127.0.0.1:${stack.metastores.rw.port}"] }`,
    'defaultMetastore: rw',
  ], ADMIN_PORT);
  const pid = router.pid!;
  const loadAtStart = loadAverage();
  const rss = sampleRss(pid, 200);
  // Backend connections are the pool's borrowed + available; 'pending' counts calls waiting for one.
  const pool: Array<{ ms: number; total: number; borrowed: number; available: number; pendingAcquires: number; clients: number }> = [];
  const scrapePool = async (ms: number) => {
    const m = await scrapeMetrics(ADMIN_PORT);
    const state = (s: string) => sumSeries(m, 'hms_router_backend_pool_connections', [`state="${s}"`]);
    pool.push({ ms, total: state('borrowed') + state('available'), borrowed: state('borrowed'), available: state('available'),
      pendingAcquires: state('pending'), clients: sumSeries(m, 'hms_router_client_connections') });
  };
  const clients: CheckedClient[] = [];
  const latencies: Record<string, number[]> = { get_database: [], get_table: [], get_all_databases: [] };
  const errors: Record<string, number> = {};
  let answered = 0;
  let garbled = 0;
  let connectErrors = 0;
  const t0 = Date.now();
  try {
    // Warm the router (pool, JIT) a little, then the baseline.
    const warm = await CheckedClient.connect(ROUTER_PORT);
    for (let i = 0; i < 20; i++) await warm.call('get_database', callArgs.name(spec.db));
    warm.close();
    rss.mark('baseline');
    await sleep(2000);
    await scrapePool(Date.now() - t0);

    rss.mark('connecting');
    const connectStarted = performance.now();
    for (let i = 0; i < count; i += 100) {
      const batch = await Promise.allSettled(Array.from({ length: Math.min(100, count - i) }, () => CheckedClient.connect(ROUTER_PORT)));
      for (const r of batch) {
        if (r.status === 'fulfilled') clients.push(r.value);
        else connectErrors += 1;
      }
    }
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    process.stderr.write(`connections: ${clients.length} open in ${connectSeconds.toFixed(1)} s\n`);

    rss.mark('calls');
    const cpuAtStart = { router: cpuMs(pid), bench: process.cpuUsage(), wall: performance.now() };
    const deadline = Date.now() + seconds * 1000;
    const poolTimer = setInterval(() => { void scrapePool(Date.now() - t0).catch(() => undefined); }, 2000);
    const callsPerClient: number[] = [];
    await Promise.all(clients.map(async (client, i) => {
      let rng = (options.seed * 7919 + i * 104729) >>> 0;
      const random = () => { rng = (Math.imul(rng, 1664525) + 1013904223) >>> 0; return rng / 2 ** 32; };
      let calls = 0;
      await sleep(random() * pauseMs); // spread the first calls over one pause
      while (Date.now() < deadline) {
        const roll = random();
        const method = roll < 0.5 ? 'get_database' : roll < 0.75 ? 'get_table' : 'get_all_databases';
        const args = method === 'get_database' ? callArgs.name(spec.db) : method === 'get_table' ? dbTableArgs(spec.db, spec.table) : undefined;
        const started = performance.now();
        try {
          const reply = await client.call(method, args, 60_000);
          const error = replyError(reply);
          if (error !== '') throw new Error(error);
          const value = reply.result[0] as Record<number, unknown> | string[];
          const right = method === 'get_all_databases' ? (value as string[]).includes(spec.db)
            : method === 'get_database' ? (value as Record<number, unknown>)[1] === spec.db
              : (value as Record<number, unknown>)[1] === spec.table;
          if (!right) throw new GarbledReply(`${method} answered for another object: ${JSON.stringify(value).slice(0, 200)}`);
          latencies[method]!.push(performance.now() - started);
          answered += 1;
          calls += 1;
        } catch (err) {
          if (err instanceof GarbledReply) garbled += 1;
          const key = `${method}: ${(err as Error).message.slice(0, 160)}`;
          errors[key] = (errors[key] ?? 0) + 1;
          if (!client.usable) break; // a broken connection is not reopened: it would not be one of the 2,000 any more
        }
        await sleep(pauseMs * (0.5 + random()));
      }
      callsPerClient.push(calls);
    }));
    clearInterval(poolTimer);
    const wallMs = performance.now() - cpuAtStart.wall;
    const benchCpu = process.cpuUsage(cpuAtStart.bench);
    const cpuShare = { router: +((cpuMs(pid) - cpuAtStart.router) / wallMs).toFixed(2), benchClients: +((benchCpu.user + benchCpu.system) / 1000 / wallMs).toFixed(2) };
    await scrapePool(Date.now() - t0);
    const stillOpen = clients.filter((c) => c.usable).length;
    rss.mark('closing');
    for (const c of clients) c.close();
    await sleep(3000);
    rss.mark('after close');
    await sleep(2000);
    await scrapePool(Date.now() - t0);
    const samples = rss.stop();
    const inPhase = (...phases: string[]) => samples.filter((s) => phases.includes(s.phase)).map((s) => s.rssBytes);
    const baseline = Math.max(...inPhase('baseline'));
    const peak = Math.max(...samples.map((s) => s.rssBytes));
    const loaded = inPhase('calls');
    const all = Object.values(latencies).flat();
    const perMethod = Object.fromEntries(Object.entries(latencies).map(([m, l]) =>
      [m, { calls: l.length, p50Ms: +percentile(l, 50).toFixed(2), p99Ms: +percentile(l, 99).toFixed(2) }]));
    const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
    return {
      date: new Date().toISOString(),
      machine: { ...machineInfo(), loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAverage() },
      settings: { connections: count, seconds, pauseMsMean: pauseMs, pauseMsRange: [pauseMs * 0.5, pauseMs * 1.5], mix: { get_database: 0.5, get_table: 0.25, get_all_databases: 0.25 },
        routerPool: 'rw: minIdle 2, max 64 (defaults)' },
      goals: { errors: 0, garbledReplies: 0 },
      connectionsOpened: clients.length, connectErrors, connectSeconds: +connectSeconds.toFixed(1),
      connectionsStillOpenAtEnd: stillOpen,
      routerClientConnectionsMax: Math.max(...pool.map((p) => p.clients)),
      callsAnswered: answered, callsPerSecond: Math.round(answered / seconds),
      /** CPU used while the calls ran, in cores (2 on this machine): where the time went. */
      cpuCoresDuringCalls: cpuShare,
      callsPerConnection: { min: Math.min(...callsPerClient), p50: percentile(callsPerClient, 50), max: Math.max(...callsPerClient) },
      errors: errorCount, errorsByKind: errors, garbledReplies: garbled,
      latency: { p50Ms: +percentile(all, 50).toFixed(2), p99Ms: +percentile(all, 99).toFixed(2), maxMs: +Math.max(...all).toFixed(1), perMethod },
      routerRssMiB: {
        baseline: mib(baseline), allConnected: mib(loaded[0] ?? 0), peak: mib(peak), duringCallsP50: mib(percentile(loaded, 50)), endOfCalls: mib(loaded.at(-1) ?? 0),
        afterClose: mib(inPhase('after close').at(-1) ?? 0), peakOverBaseline: mib(peak - baseline),
        perConnectionKiB: Math.round((peak - baseline) / 1024 / Math.max(1, clients.length)), samples: samples.length,
        /** One sample every 5 s: [seconds, phase, MiB]; flat during the calls means bounded. */
        every5s: samples.filter((_, i) => i % 25 === 0).map((x) => [Math.round(x.ms / 1000), x.phase, mib(x.rssBytes)]),
      },
      routerBackendConnections: { max: Math.max(...pool.map((p) => p.total)), end: pool.at(-1)?.total ?? 0,
        maxPendingAcquires: Math.max(...pool.map((p) => p.pendingAcquires)), series: pool },
    };
  } finally {
    for (const c of clients) c.close();
    await stopRouterProcess(router);
    await setup.call('drop_database', callArgs.dropDatabase(spec.db));
    setup.close();
  }
}

