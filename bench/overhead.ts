/**
 * Router overhead against the real rw metastore of the local stack: direct vs through the router vs
 * through a bare TCP relay (the floor of any Node proxy), in the same run, alternating rounds.
 * Writes bench/results/overhead.json.
 *
 *   npm run bench:overhead [-- --seconds 5 --rounds 3]
 *
 * Workloads: get_database on 1 connection; get_table and get_partitions_by_names(100 names) on 1 and
 * 64 persistent connections;
 * the Presto pattern (a new connection per call) with 16 concurrent callers.
 */
import { spawn, ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '../stack/stack';
import { REPO_ROOT } from '../stack/layout';
import { HmsTestClient, args as callArgs } from '../test/support/hms-test-client';
import { addPartitionsArgs, createTableArgs, dbTableArgs, partitionName, partitionsByNamesArgs, TableSpec } from '../test/support/hms-objects';
import type { BinaryWriter } from '../src/thrift/binary-writer';
import { numericFlag, percentile, startRouterProcess, stopRouterProcess } from './support';

interface Workload {
  readonly name: string;
  readonly method: string;
  readonly args: (w: BinaryWriter) => void;
  readonly concurrency: number;
  readonly connectionPerCall: boolean;
}

interface Sample { readonly calls: number; readonly seconds: number; readonly latenciesMs: Float64Array }

const SECONDS = numericFlag('--seconds', 5);
const ROUNDS = numericFlag('--rounds', 3);
const ROUTER_PORT = 19980;
const ADMIN_PORT = 19981;
const RELAY_PORT = 19984;

const stack = status();
const table: TableSpec = {
  db: 'bench_overhead', table: 'events', location: `${stack.warehouse}/bench_overhead.db/events`,
  columns: [['id', 'bigint'], ['payload', 'string']], partitionKeys: [['day', 'string'], ['hour', 'int']],
};

async function prepare(): Promise<string[]> {
  const c = await HmsTestClient.connect(stack.metastores.rw.port);
  await c.call('drop_database', callArgs.dropDatabase(table.db));
  await c.success('create_database', callArgs.createDatabase(table.db, `${stack.warehouse}/${table.db}.db`));
  await c.success('create_table', createTableArgs(table));
  const values: string[][] = [];
  for (let d = 1; d <= 10; d++) for (let h = 0; h < 24; h++) values.push([`2026-11-${String(d).padStart(2, '0')}`, String(h)]);
  await c.success('add_partitions', addPartitionsArgs(table, values));
  c.close();
  return values.slice(0, 100).map((v) => partitionName(table, v));
}

async function runWorkload(port: number, w: Workload, seconds: number): Promise<Sample> {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  let calls = 0;
  const worker = async () => {
    let client = w.connectionPerCall ? null : await HmsTestClient.connect(port);
    while (performance.now() < deadline) {
      const t0 = performance.now();
      if (w.connectionPerCall) client = await HmsTestClient.connect(port);
      const r = await client!.call(w.method, w.args);
      if (w.connectionPerCall) client!.close();
      const t1 = performance.now();
      if (r.type !== 2 || r.result[0] === undefined) throw new Error(`${w.method} failed: ${JSON.stringify(r.result, (_k, v) => typeof v === 'bigint' ? String(v) : v)}`);
      latencies.push(t1 - t0);
      calls += 1;
    }
    client?.close();
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: w.concurrency }, worker));
  return { calls, seconds: (performance.now() - t) / 1000, latenciesMs: Float64Array.from(latencies) };
}


function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in clock ticks of 10 ms
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Math.round(Number(line.split(/\s+/)[1]) / 1024);
}

function startRouter() {
  return startRouterProcess('overhead', [
    `server: { host: 127.0.0.1, port: ${ROUTER_PORT} }`,
    `admin: { port: ${ADMIN_PORT} }`,
    'log: { level: warn }',
    'metastores:',
    '  rw:',
    `    primary: { endpoints: ["127.0.0.1:${stack.metastores.rw.port}"] }`,
    '    pool: { minIdle: 16, max: 128 }',
    'defaultMetastore: rw',
  ], ADMIN_PORT);
}

/** The bare TCP relay (bench/tcp-relay.ts) in its own process, in front of the rw metastore. */
async function startRelay(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'tcp-relay.ts'), String(RELAY_PORT), String(stack.metastores.rw.port)],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`tcp relay exited with ${code}`)));
  });
  return child;
}

async function main(): Promise<void> {
  if (!stack.running) throw new Error("the local stack is not running; start it with 'npm run stack -- up'");
  const names = await prepare();
  const workloads: Workload[] = [
    // The cheapest real call: the router's own added latency shows best here.
    { name: 'get_database x1', method: 'get_database', args: callArgs.name(table.db), concurrency: 1, connectionPerCall: false },
    { name: 'get_table x1', method: 'get_table', args: dbTableArgs(table.db, table.table), concurrency: 1, connectionPerCall: false },
    { name: 'get_table x64', method: 'get_table', args: dbTableArgs(table.db, table.table), concurrency: 64, connectionPerCall: false },
    { name: 'get_partitions_by_names(100) x1', method: 'get_partitions_by_names', args: partitionsByNamesArgs(table.db, table.table, names), concurrency: 1, connectionPerCall: false },
    { name: 'get_partitions_by_names(100) x64', method: 'get_partitions_by_names', args: partitionsByNamesArgs(table.db, table.table, names), concurrency: 64, connectionPerCall: false },
    { name: 'get_table, new connection per call, x16', method: 'get_table', args: dbTableArgs(table.db, table.table), concurrency: 16, connectionPerCall: true },
  ];
  const router = await startRouter();
  const relay = await startRelay();
  const results = [];
  try {
    for (const w of workloads) {
      const rounds: Array<{ direct: Sample; router: Sample; relay: Sample; routerCpuMs: number; relayCpuMs: number }> = [];
      await runWorkload(stack.metastores.rw.port, w, 1); // warm-up every path
      await runWorkload(ROUTER_PORT, w, 1);
      await runWorkload(RELAY_PORT, w, 1);
      for (let r = 0; r < ROUNDS; r++) {
        const direct = await runWorkload(stack.metastores.rw.port, w, SECONDS);
        const cpu0 = cpuMs(router.pid!);
        const viaRouter = await runWorkload(ROUTER_PORT, w, SECONDS);
        const routerCpuMs = cpuMs(router.pid!) - cpu0;
        const relayCpu0 = cpuMs(relay.pid!);
        const viaRelay = await runWorkload(RELAY_PORT, w, SECONDS);
        rounds.push({ direct, router: viaRouter, relay: viaRelay, routerCpuMs, relayCpuMs: cpuMs(relay.pid!) - relayCpu0 });
      }
      const summarize = (pick: (x: (typeof rounds)[number]) => Sample) => {
        const per = rounds.map((x) => {
          const s = pick(x);
          return { throughput: s.calls / s.seconds, p50: percentile(s.latenciesMs, 50), p99: percentile(s.latenciesMs, 99) };
        });
        return {
          throughputPerSec: Math.round(median(per.map((p) => p.throughput))),
          p50Ms: +median(per.map((p) => p.p50)).toFixed(3),
          p99Ms: +median(per.map((p) => p.p99)).toFixed(3),
          throughputSpread: per.map((p) => Math.round(p.throughput)),
        };
      };
      const direct = summarize((x) => x.direct);
      const viaRouter = summarize((x) => x.router);
      const viaRelay = summarize((x) => x.relay);
      const routerCalls = rounds.reduce((n, x) => n + x.router.calls, 0);
      const relayCalls = rounds.reduce((n, x) => n + x.relay.calls, 0);
      const row = {
        workload: w.name,
        concurrency: w.concurrency,
        connectionPerCall: w.connectionPerCall,
        direct,
        router: viaRouter,
        bareTcpRelay: viaRelay,
        throughputRatio: +(viaRouter.throughputPerSec / direct.throughputPerSec).toFixed(3),
        addedP50Ms: +(viaRouter.p50Ms - direct.p50Ms).toFixed(3),
        addedP99Ms: +(viaRouter.p99Ms - direct.p99Ms).toFixed(3),
        routerCpuUsPerCall: +((rounds.reduce((n, x) => n + x.routerCpuMs, 0) * 1000) / routerCalls).toFixed(1),
        relayThroughputRatio: +(viaRelay.throughputPerSec / direct.throughputPerSec).toFixed(3),
        relayAddedP50Ms: +(viaRelay.p50Ms - direct.p50Ms).toFixed(3),
        relayCpuUsPerCall: +((rounds.reduce((n, x) => n + x.relayCpuMs, 0) * 1000) / relayCalls).toFixed(1),
      };
      results.push(row);
      process.stderr.write(`${JSON.stringify(row)}\n`);
    }
    const report = {
      benchmark: 'overhead',
      date: new Date().toISOString(),
      hiveVersion: stack.hiveVersion,
      secondsPerRun: SECONDS,
      rounds: ROUNDS,
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
      routerRssMiB: rssMiB(router.pid!),
      goals: { addedP50MsAtMost: 0.15, persistentThroughputRatioAtLeast: 0.9, connectionPerCallRatioAtLeast: 1.0 },
      results,
    };
    mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'bench', 'results', 'overhead.json'), `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await stopRouterProcess(router);
    relay.kill('SIGTERM');
    const c = await HmsTestClient.connect(stack.metastores.rw.port);
    await c.call('drop_database', callArgs.dropDatabase(table.db));
    c.close();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exit(1);
});
