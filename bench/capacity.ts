/**
 * Capacity of one router process, and the cost of its call path, in the same run as its baselines.
 * Writes bench/results/capacity.json.
 *
 *   npm run bench:capacity [-- --seconds 5 --rounds 5 --profile]
 *
 * (a) Against a stand-in metastore fast enough not to be the bottleneck
 *     (bench/fast-standin-metastore.ts: fixed reply bytes recorded from the real rw metastore):
 *     calls per second and the router's CPU per call (its own process, /proc/<pid>/stat), and the
 *     same for the bare TCP relay (bench/tcp-relay.ts) in front of the same stand-in, alternating.
 *     CPU per call is the figure to read: the machine's cores are shared by the load generator, the
 *     stand-in and whatever else runs, so calls per second is whatever the router got of them.
 *     `callsPerCoreSecond` = 1000 / CPU ms per call: what one fully busy core would sustain.
 *     The same again with server.workers: 2 (the primary and its workers' CPU together).
 * (b) The cheapest real call, get_all_databases, on 16 and 64 persistent connections, directly to
 *     the real rw metastore and through the router (rw only, no replica: the same call on both
 *     paths), alternating; the ratio is taken per round.
 * Every figure is the median over rounds, with each round's value beside it.
 * `--profile` runs the router of (a) with `node --cpu-prof` (profiles in .work/bench/profiles/).
 */
import { spawn, ChildProcess } from 'node:child_process';
import { connect, Socket } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '../stack/stack';
import { REPO_ROOT } from '../stack/layout';
import { HmsTestClient, args as callArgs } from '../test/support/hms-test-client';
import { createTableArgs, dbTableArgs, TableSpec } from '../test/support/hms-objects';
import { BinaryWriter } from '../src/thrift/binary-writer';
import { MessageReader, RawMessage } from '../src/thrift/message-reader';
import { MessageType } from '../src/thrift/protocol';
import { cpuMs, loadAverage, machineInfo, numericFlag, percentile, rssBytes, startRouterProcess, stopRouterProcess } from './support';

const SECONDS = numericFlag('--seconds', 5);
const ROUNDS = numericFlag('--rounds', 5);
const PROFILE = process.argv.includes('--profile');
const STANDIN_ROUTER_PORT = 19970;
const STANDIN_ADMIN_PORT = 19971;
const REAL_ROUTER_PORT = 19972;
const REAL_ADMIN_PORT = 19973;
const RELAY_PORT = 19974;
const STANDIN_PORT = 19975;
const WORKERS_ROUTER_PORT = 19976;
const WORKERS_ADMIN_PORT = 19977;
const WORK_DIR = join(REPO_ROOT, '.work', 'bench');

const stack = status();
const table: TableSpec = {
  db: 'bench_capacity', table: 'events', location: `${stack.warehouse}/bench_capacity.db/events`,
  columns: [['id', 'bigint'], ['payload', 'string']], partitionKeys: [['day', 'string'], ['hour', 'int']],
};

/** A request as a client sends it (seqid 1: a proxy must hand the reply back with it). */
function request(method: string, writeArgs: (w: BinaryWriter) => void = () => {}): Buffer {
  const w = new BinaryWriter().messageBegin(method, MessageType.CALL, 1);
  writeArgs(w);
  return w.fieldStop().finish();
}

interface Run { readonly calls: number; readonly seconds: number; readonly latenciesMs: Float64Array }

/**
 * `concurrency` persistent connections, each sending `req` again as soon as its reply is there, for
 * `seconds`. Lean on purpose (no decoding: the reader only finds where each reply ends) so the
 * load generator takes as little of the shared cores as it can. `check` throws on a wrong reply.
 */
async function drive(port: number, req: Buffer, concurrency: number, seconds: number, check: (reply: RawMessage) => void): Promise<Run> {
  const sockets = await Promise.all(Array.from({ length: concurrency }, () => new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  })));
  let latencies = new Float64Array(1 << 16);
  let calls = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(sockets.map((socket) => new Promise<void>((resolve, reject) => {
    socket.setNoDelay(true);
    const reader = new MessageReader({ transport: 'buffered', maxMessageBytes: 1 << 30 });
    let sentAt = performance.now();
    socket.on('data', (chunk: Buffer) => {
      let replies: RawMessage[];
      try {
        replies = reader.push(chunk);
        for (const r of replies) check(r);
      } catch (err) {
        socket.destroy();
        reject(err);
        return;
      }
      const now = performance.now();
      for (let i = 0; i < replies.length; i++) {
        if (calls === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[calls++] = now - sentAt;
      }
      if (now >= deadline) {
        socket.destroy();
        resolve();
        return;
      }
      sentAt = now;
      socket.write(req);
    });
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.write(req);
  })));
  return { calls, seconds: (performance.now() - started) / 1000, latenciesMs: latencies.subarray(0, calls) };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const round3 = (x: number) => +x.toFixed(3);

/** A helper process (stand-in, relay) that prints 'ready' once it listens. */
async function startHelper(script: string, args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', script), ...args],
    { stdio: ['ignore', 'pipe', 'inherit'], cwd: REPO_ROOT });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return child;
}

async function stopHelper(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

function routerConfig(metastorePort: number, port: number, adminPort: number, workers = 1): string[] {
  return [
    `server: { host: 127.0.0.1, port: ${port}, workers: ${workers} }`,
    `admin: { port: ${adminPort} }`,
    // log.level stays at its default (info): what a deployment runs.
    'metastores:',
    '  rw:',
    `    primary: { endpoints: ["127.0.0.1:${metastorePort}"] }`,
    '    pool: { minIdle: 64, max: 128 }',
    'defaultMetastore: rw',
  ];
}

/** Creates the benchmark's table and records the real metastore's replies the stand-in will give. */
async function recordReplies(): Promise<Map<string, { request: Buffer; reply: Buffer }>> {
  const c = await HmsTestClient.connect(stack.metastores.rw.port);
  try {
    await c.call('drop_database', callArgs.dropDatabase(table.db));
    await c.success('create_database', callArgs.createDatabase(table.db, `${stack.warehouse}/${table.db}.db`));
    await c.success('create_table', createTableArgs(table));
    const out = new Map<string, { request: Buffer; reply: Buffer }>();
    for (const [method, writeArgs] of [['get_all_databases', undefined], ['get_table', dbTableArgs(table.db, table.table)]] as const) {
      const reply = await c.raw(method, writeArgs);
      if (reply.header.type !== MessageType.REPLY) throw new Error(`${method} on the real metastore answered type ${reply.header.type}`);
      // Recorded with the seqid our requests carry, so a reply through any path must equal it byte for byte.
      const bytes = Buffer.from(reply.bytes);
      bytes.writeInt32BE(1, reply.header.seqidOffset);
      out.set(method, { request: request(method, writeArgs), reply: bytes });
    }
    return out;
  } finally {
    c.close();
  }
}

interface CostRound { callsPerSec: number; cpuMsPerCall: number; cpuShare: number; p50Ms: number; standinCpuMsPerCall: number }

/** CPU ms of a process and its children (the workers of a router with server.workers). */
function treeCpuMs(pid: number): number {
  let total = cpuMs(pid);
  try {
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) total += treeCpuMs(Number(child));
  } catch { /* exited */ }
  return total;
}

/** One run against a target process (and its children) whose CPU is measured, and the stand-in's beside it. */
async function costRun(port: number, pid: number, standinPid: number, req: Buffer, expected: Buffer, concurrency: number): Promise<CostRound> {
  const check = (r: RawMessage) => {
    if (!r.bytes.equals(expected)) throw new Error(`reply differs from the recorded one (${r.bytes.length} vs ${expected.length} bytes)`);
  };
  const cpu0 = treeCpuMs(pid);
  const standin0 = cpuMs(standinPid);
  const run = await drive(port, req, concurrency, SECONDS, check);
  const cpu = treeCpuMs(pid) - cpu0;
  return {
    callsPerSec: Math.round(run.calls / run.seconds),
    cpuMsPerCall: cpu / run.calls,
    cpuShare: round3(cpu / (run.seconds * 1000)),
    p50Ms: round3(percentile(run.latenciesMs, 50)),
    standinCpuMsPerCall: (cpuMs(standinPid) - standin0) / run.calls,
  };
}

function summarizeCost(rounds: readonly CostRound[]) {
  const cpu = median(rounds.map((r) => r.cpuMsPerCall));
  return {
    callsPerSec: Math.round(median(rounds.map((r) => r.callsPerSec))),
    cpuMsPerCall: +cpu.toFixed(4),
    callsPerCoreSecond: Math.round(1000 / cpu),
    cpuShareOfOneCore: round3(median(rounds.map((r) => r.cpuShare))),
    p50Ms: round3(median(rounds.map((r) => r.p50Ms))),
    standinCpuMsPerCall: +median(rounds.map((r) => r.standinCpuMsPerCall)).toFixed(4),
    perRound: rounds.map((r) => ({ callsPerSec: r.callsPerSec, cpuMsPerCall: +r.cpuMsPerCall.toFixed(4), cpuShare: r.cpuShare })),
  };
}

async function standinPart(recorded: Map<string, { request: Buffer; reply: Buffer }>) {
  const file = join(WORK_DIR, 'capacity-replies.json');
  writeFileSync(file, JSON.stringify(Object.fromEntries([...recorded].map(([m, r]) => [m, r.reply.toString('base64')]))));
  const standin = await startHelper('fast-standin-metastore.ts', [String(STANDIN_PORT), file]);
  const relay = await startHelper('tcp-relay.ts', [String(RELAY_PORT), String(STANDIN_PORT)]);
  const profileDir = join(WORK_DIR, 'profiles');
  const router = await startRouterProcess('capacity-standin', routerConfig(STANDIN_PORT, STANDIN_ROUTER_PORT, STANDIN_ADMIN_PORT), STANDIN_ADMIN_PORT,
    PROFILE ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {});
  // server.workers: 2, the primary and its two workers measured together.
  const workers = await startRouterProcess('capacity-workers', routerConfig(STANDIN_PORT, WORKERS_ROUTER_PORT, WORKERS_ADMIN_PORT, 2), WORKERS_ADMIN_PORT);
  const results = [];
  try {
    const workloads = [
      { name: 'get_table x32', method: 'get_table', concurrency: 32 },
      { name: 'get_all_databases x32', method: 'get_all_databases', concurrency: 32 },
    ];
    for (const w of workloads) {
      const { request: req, reply } = recorded.get(w.method)!;
      const noCheck = () => {};
      await drive(STANDIN_ROUTER_PORT, req, w.concurrency, 1, noCheck); // warm-up (JIT) of both paths
      await drive(RELAY_PORT, req, w.concurrency, 1, noCheck);
      await drive(WORKERS_ROUTER_PORT, req, w.concurrency, 1, noCheck);
      const viaRouter: CostRound[] = [];
      const viaRelay: CostRound[] = [];
      const viaWorkers: CostRound[] = [];
      const targets = [
        { port: STANDIN_ROUTER_PORT, pid: router.pid!, into: viaRouter },
        { port: RELAY_PORT, pid: relay.pid!, into: viaRelay },
        { port: WORKERS_ROUTER_PORT, pid: workers.pid!, into: viaWorkers },
      ];
      for (let r = 0; r < ROUNDS; r++) {
        // The order rotates from round to round.
        for (let k = 0; k < targets.length; k++) {
          const t = targets[(r + k) % targets.length]!;
          t.into.push(await costRun(t.port, t.pid, standin.pid!, req, reply, w.concurrency));
        }
      }
      const ratios = viaRouter.map((x, i) => x.cpuMsPerCall / viaRelay[i]!.cpuMsPerCall);
      const row = {
        workload: w.name,
        replyBytes: reply.length,
        router: summarizeCost(viaRouter),
        bareTcpRelay: summarizeCost(viaRelay),
        // Two workers on a 2-core machine that also runs the load generator and the stand-in:
        // calls per second shows what the cores had left, CPU per call what the workers cost.
        routerWorkers2: summarizeCost(viaWorkers),
        routerCpuPerCallOverRelay: round3(median(ratios)),
        routerCpuPerCallOverRelayPerRound: ratios.map(round3),
      };
      results.push(row);
      process.stderr.write(`${JSON.stringify({ workload: row.workload, routerCallsPerSec: row.router.callsPerSec, routerCpuMsPerCall: row.router.cpuMsPerCall,
        relayCpuMsPerCall: row.bareTcpRelay.cpuMsPerCall, workers2CallsPerSec: row.routerWorkers2.callsPerSec, workers2CpuMsPerCall: row.routerWorkers2.cpuMsPerCall, ratio: row.routerCpuPerCallOverRelay, perRound: row.routerCpuPerCallOverRelayPerRound })}\n`);
    }
    return { routerRssMiB: Math.round(rssBytes(router.pid!) / 2 ** 20), results };
  } finally {
    await stopRouterProcess(router);
    await stopRouterProcess(workers);
    await stopHelper(relay);
    await stopHelper(standin);
  }
}

async function realPart(recorded: Map<string, { request: Buffer; reply: Buffer }>) {
  const router = await startRouterProcess('capacity-real', routerConfig(stack.metastores.rw.port, REAL_ROUTER_PORT, REAL_ADMIN_PORT), REAL_ADMIN_PORT);
  const req = recorded.get('get_all_databases')!.request;
  // The database list changes while other work runs on the stack: a right answer is a reply with a success value.
  const check = (r: RawMessage) => {
    if (r.header.type !== MessageType.REPLY || r.header.seqid !== 1 || r.bytes[r.header.bodyOffset] !== 15 || r.bytes.readInt16BE(r.header.bodyOffset + 1) !== 0) {
      throw new Error('get_all_databases: not a successful reply with the seqid sent');
    }
  };
  const results = [];
  try {
    for (const concurrency of [16, 64]) {
      await drive(stack.metastores.rw.port, req, concurrency, 2, check); // warm-up: the metastore's JVM too
      await drive(REAL_ROUTER_PORT, req, concurrency, 2, check);
      const rounds: Array<{ direct: Run; router: Run; routerCpuMs: number }> = [];
      for (let r = 0; r < ROUNDS; r++) {
        let direct!: Run;
        let viaRouter!: Run;
        let routerCpuMs = 0;
        const order = r % 2 === 0 ? ['direct', 'router'] : ['router', 'direct'];
        for (const which of order) {
          if (which === 'direct') direct = await drive(stack.metastores.rw.port, req, concurrency, SECONDS, check);
          else {
            const cpu0 = cpuMs(router.pid!);
            viaRouter = await drive(REAL_ROUTER_PORT, req, concurrency, SECONDS, check);
            routerCpuMs = cpuMs(router.pid!) - cpu0;
          }
        }
        rounds.push({ direct, router: viaRouter, routerCpuMs });
      }
      const tput = (x: Run) => x.calls / x.seconds;
      const ratios = rounds.map((x) => tput(x.router) / tput(x.direct));
      const row = {
        workload: `get_all_databases x${concurrency}`,
        direct: { callsPerSec: Math.round(median(rounds.map((x) => tput(x.direct)))), p50Ms: round3(median(rounds.map((x) => percentile(x.direct.latenciesMs, 50)))) },
        router: {
          callsPerSec: Math.round(median(rounds.map((x) => tput(x.router)))),
          p50Ms: round3(median(rounds.map((x) => percentile(x.router.latenciesMs, 50)))),
          cpuMsPerCall: +median(rounds.map((x) => x.routerCpuMs / x.router.calls)).toFixed(4),
        },
        routerOverDirect: round3(median(ratios)),
        routerOverDirectPerRound: ratios.map(round3),
        directCallsPerSecPerRound: rounds.map((x) => Math.round(tput(x.direct))),
      };
      results.push(row);
      process.stderr.write(`${JSON.stringify({ workload: row.workload, direct: row.direct.callsPerSec, router: row.router.callsPerSec, ratio: row.routerOverDirect, perRound: row.routerOverDirectPerRound })}\n`);
    }
    return results;
  } finally {
    await stopRouterProcess(router);
  }
}

async function main(): Promise<void> {
  if (!stack.running) throw new Error("the local stack is not running; start it with 'npm run stack -- up'");
  mkdirSync(WORK_DIR, { recursive: true });
  const parts = (process.argv.find((a) => a.startsWith('--parts='))?.slice('--parts='.length) ?? 'standin,real').split(',');
  const recorded = await recordReplies();
  const loadBefore = loadAverage();
  try {
    const standin = parts.includes('standin') ? await standinPart(recorded) : null;
    const real = parts.includes('real') ? await realPart(recorded) : null;
    const report = {
      benchmark: 'capacity',
      date: new Date().toISOString(),
      hiveVersion: stack.hiveVersion,
      secondsPerRun: SECONDS,
      rounds: ROUNDS,
      method: 'Every figure is the median over rounds (each round runs every path once, the order alternating); '
        + 'the cores are shared by the load generator, the stand-in, the metastores and other work, so CPU per call is the figure to read. '
        + 'CPU is each process\'s own utime + stime from /proc/<pid>/stat (10 ms ticks).',
      machine: { ...machineInfo(), loadAverageBefore: loadBefore },
      goals: { routerCpuPerCallOverRelayAtMost: 1.3, getAllDatabasesRouterOverDirectAtLeast: 0.95 },
      standin: standin === null ? null : {
        backend: 'bench/fast-standin-metastore.ts: fixed reply bytes recorded from the real rw metastore (seqid written in); every reply checked byte for byte',
        ...standin,
      },
      real: real === null ? null : {
        backend: `the real rw metastore (port ${stack.metastores.rw.port}); the router has rw only (no replica, no federation): the same call on both paths`,
        results: real,
      },
    };
    mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
    if (parts.includes('standin') && parts.includes('real')) {
      writeFileSync(join(REPO_ROOT, 'bench', 'results', 'capacity.json'), `${JSON.stringify(report, null, 2)}\n`);
    }
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    const c = await HmsTestClient.connect(stack.metastores.rw.port);
    await c.call('drop_database', callArgs.dropDatabase(table.db));
    c.close();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
