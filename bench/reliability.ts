/**
 * Reliability runs (issue #7) on the real local stack; writes bench/results/reliability.json.
 *
 *   npm run bench:reliability [-- --part connections,fuzz,soak] [--minutes 10] [--seed 1]
 *     connections: [--connections 2000 --seconds 30 --pause-ms 8000]
 *     fuzz:        [--fuzz-inputs 200000 --network-inputs 10000 --workers 2]
 *     soak:        [--minutes 10 --fault-every 60]
 *   npm run bench:reliability -- --replay <seed>[,<seed>]   (one network fuzz input on a fresh router)
 *
 * - connections: 2,000 client connections held open with calls flowing on all of them
 *   (bench/reliability-connections.ts).
 * - fuzz: the protocol reader in process and over the network (bench/reliability-fuzz.ts).
 * - soak: mixed reads and writes of 16 clients through a router with a replica and a federated
 *   metastore while the replica's metastore and MariaDB are killed and restarted and the routing
 *   map is reloaded (bench/reliability-soak.ts). The stack is restored at the end, even on failure.
 *
 * Parts run alone keep the other parts' last results in the file.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status, StackStatus } from '../stack/stack';
import { REPO_ROOT } from '../stack/layout';
import { connections } from './reliability-connections';
import { inProcessFuzz, networkFuzz, replay } from './reliability-fuzz';
import { soak } from './reliability-soak';
import { loadAverage, machineInfo, numericFlag } from './support';

const PARTS = ['connections', 'fuzz', 'soak'] as const;
type Part = typeof PARTS[number];
const RESULTS = join(REPO_ROOT, 'bench', 'results', 'reliability.json');
const SEED = numericFlag('--seed', 1);

function partsToRun(): Part[] {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--part');
  if (i < 0) return [...PARTS];
  const asked = (argv[i + 1] ?? '').split(',').filter((p) => p !== '');
  const bad = asked.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (asked.length === 0 || bad.length > 0) throw new Error(`--part takes ${PARTS.join(', ')} (comma-separated), got '${argv[i + 1] ?? ''}'`);
  return asked as Part[];
}

// ------------------------------------------------------------------ part 2: fuzz

async function fuzzPart(stack: StackStatus) {
  const loadAtStart = loadAverage();
  const inputs = numericFlag('--fuzz-inputs', 200_000);
  const networkInputs = numericFlag('--network-inputs', 10_000);
  const inProcess = await inProcessFuzz(inputs, SEED, numericFlag('--workers', 2));
  process.stderr.write(`fuzz (in process): ${JSON.stringify({ inputs: inProcess.inputs, crashes: inProcess.crashes, hangs: inProcess.hangs, wrong: inProcess.wrongReads })}\n`);
  const network = await networkFuzz(stack, networkInputs, SEED);
  return {
    date: new Date().toISOString(),
    machine: { ...machineInfo(), loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAverage() },
    goals: { crashes: 0, hangs: 0, badReplies: 0, routerDeaths: 0, healthCheckFailures: 0 },
    reproduce: 'inputs are fuzzInput(seed) in bench/fuzz-inputs.ts (in process: ALL_METHODS, network: NETWORK_METHODS); runInput(seed) in bench/fuzz-worker.ts replays one in process',
    inProcess,
    network,
  };
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const parts = partsToRun();
  const stack = status();
  if (!stack.running) throw new Error("the local stack is not running; start it with 'npm run stack -- up'");
  const replayAt = process.argv.indexOf('--replay');
  if (replayAt >= 0) {
    // One network fuzz input at a time on a fresh router: what it is, what came back, whether the router died.
    const seeds = (process.argv[replayAt + 1] ?? '').split(',').map(Number).filter(Number.isInteger);
    const crashing = await replay(stack, seeds, true);
    process.stdout.write(`${crashing.length} of ${seeds.length} input(s) killed the router\n`);
    return;
  }
  const previous = existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, 'utf8')) as Record<string, unknown> : {};
  const report: Record<string, unknown> = { ...previous, benchmark: 'reliability', hiveVersion: stack.hiveVersion };
  const save = () => {
    mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(report, null, 2)}\n`);
  };
  const lines = [`results: ${RESULTS}`];
  for (const part of parts) {
    process.stderr.write(`--- ${part}\n`);
    if (part === 'connections') {
      const result = await connections(stack, {
        connections: numericFlag('--connections', 2000), seconds: numericFlag('--seconds', 30), pauseMs: numericFlag('--pause-ms', 8000), seed: SEED,
      });
      report.connections = result;
      lines.push(connectionsSummary(result));
    } else if (part === 'fuzz') {
      const result = await fuzzPart(stack);
      report.fuzz = result;
      lines.push(fuzzSummary(result));
    } else {
      const result = await soak(stack, { minutes: numericFlag('--minutes', 10), seed: SEED, faultEvery: numericFlag('--fault-every', 60) });
      report.soak = result;
      lines.push(soakSummary(result));
    }
    report.date = new Date().toISOString();
    save();
    process.stderr.write(`${lines.at(-1)}\n`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

type ConnectionsResult = Awaited<ReturnType<typeof connections>>;
type FuzzResult = Awaited<ReturnType<typeof fuzzPart>>;
type SoakResult = Awaited<ReturnType<typeof soak>>;

function connectionsSummary(c: ConnectionsResult): string {
  return `connections: ${c.connectionsOpened} open (${c.connectionsStillOpenAtEnd} at the end), ${c.callsAnswered} calls answered (${c.callsPerSecond}/s), ` +
    `errors ${c.errors}, garbled ${c.garbledReplies}, p50 ${c.latency.p50Ms} ms, p99 ${c.latency.p99Ms} ms; router RSS ${c.routerRssMiB.baseline} MiB -> ` +
    `peak ${c.routerRssMiB.peak} MiB (+${c.routerRssMiB.perConnectionKiB} KiB per connection), ${c.routerRssMiB.afterClose} MiB after close; ` +
    `backend connections max ${c.routerBackendConnections.max}`;
}

function fuzzSummary(f: FuzzResult): string {
  const n = f.network;
  return [
    `fuzz in process: ${f.inProcess.inputs} inputs x 3 modes, ${f.inProcess.messagesHandedOut} messages to describeCall, crashes ${f.inProcess.crashes}, ` +
      `hangs ${f.inProcess.hangs}, wrong reads ${f.inProcess.wrongReads}, slowest push ${f.inProcess.maxPushMs} ms`,
    `fuzz network: ${n.inputs} connections, endings ${JSON.stringify(n.endings)}, bad replies ${n.badReplies}, unanswered ${n.unansweredCalls}, ` +
      `router deaths ${n.routerDeaths} (crash seeds: ${n.crashSeeds.map((s) => s.seed).join(', ') || 'none'}), ` +
      `health checks ${n.healthChecks.ok}/${n.healthChecks.run} ok, alive and serving at the end: ${n.aliveAtEnd && n.servesAtEnd}`,
  ].join('\n');
}

function soakSummary(s: SoakResult): string {
  return `soak: ${s.minutes} min, ${s.calls.total} calls (${s.calls.reads} reads, ${s.calls.writes} writes), garbled ${s.garbledReplies}, ` +
    `stale ${s.staleReads}, unexpected errors ${s.unexpectedErrors}, faults ${s.faults.length}, reloads ${JSON.stringify(s.reloads.outcomes)}, ` +
    `stack restored: ${s.stackRestored}`;
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
