/**
 * Fuzzing the protocol reader (issue #7, part 2), at two levels:
 *
 * - In process: seeded inputs (bench/fuzz-inputs.ts) through MessageReader in every transport mode
 *   and describeCall on every message it yields (bench/fuzz-worker.ts), in worker threads watched
 *   by this thread: an input that runs past its time budget is a hang (the worker is stopped and a
 *   new one goes on after it), an exception other than ProtocolError a crash.
 * - Over the network: the router as its own process in front of the rw metastore (writes refused:
 *   routing.access read-only), one connection per input. Each reply is checked against the calls
 *   the input holds (seqid, method name); every 500 inputs a separate connection must be served a
 *   get_database. A router that dies is started again; the inputs in flight when it died are
 *   replayed one at a time on a fresh router to name the one that kills it.
 *
 * The metastore is shared: writes are refused by the router, and the calls are reads of databases
 * and tables that do not exist (fuzz_*). Some make Hive 3.1 retry for about 20 s (names outside
 * latin1 meet the schema's collation; RetryingHMSHandler retries): the router's deadline answers them.
 */
import { Worker } from 'node:worker_threads';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { StackStatus } from '../stack/stack';
import { MessageReader, RawMessage, Transport } from '../src/thrift/message-reader';
import { MessageType } from '../src/thrift/protocol';
import { HmsTestClient, args as callArgs } from '../test/support/hms-test-client';
import { ALL_METHODS, FuzzInput, fuzzInput, NETWORK_METHODS, Rng } from './fuzz-inputs';
import { BatchReport, emptyReport, Failure, WorkerJob } from './fuzz-worker';
import { percentile, rssBytes, scrapeMetrics, startRouterProcess, stopRouterProcess } from './support';

/** An input (all three modes) that has not finished after this long is a hang. */
const INPUT_BUDGET_MS = 5000;
/** Seeds of the network fuzz start here, apart from the in-process ones. */
const NETWORK_SEED_OFFSET = 10_000_000;
const ROUTER_PORT = 19962;
const ADMIN_PORT = 19963;
const CONCURRENCY = 16;
const HEALTH_EVERY = 500;
/** How long a connection may wait for the router when its input holds no complete call. */
const QUIET_WAIT_MS = 1000;
/** ...and when it does, per call: the router's own deadline (callMs 8 s) plus a margin. */
const CALL_MS = 8000;
const REPLY_WAIT_MS = CALL_MS + 1000;
const MAX_LISTED = 20;

// ------------------------------------------------------------------ in process

export interface InProcessResult {
  readonly inputs: number;
  readonly seeds: { readonly base: number; readonly from: number; readonly to: number };
  readonly workers: number;
  readonly seconds: number;
  readonly inputsPerSecond: number;
  readonly byKind: Record<string, number>;
  readonly readerRuns: number;
  readonly pushes: number;
  readonly bytes: number;
  readonly messagesHandedOut: number;
  readonly readerRunsRefused: Record<string, number>;
  readonly describeCallRefused: Record<string, number>;
  readonly readerRunsLeftWaiting: number;
  readonly crashes: number;
  readonly hangs: number;
  readonly wrongReads: number;
  readonly failures: Failure[];
  readonly maxPushMs: number;
  readonly slowestPush: BatchReport['slowestPush'];
}

function merge(into: BatchReport, from: BatchReport): void {
  for (const key of ['inputs', 'readerRuns', 'pushes', 'bytes', 'messages', 'incomplete'] as const) into[key] += from[key];
  for (const key of ['byKind', 'readerErrors', 'describeErrors'] as const) {
    for (const [k, v] of Object.entries(from[key])) into[key][k] = (into[key][k] ?? 0) + v;
  }
  into.crashes.push(...from.crashes);
  into.hangs.push(...from.hangs);
  into.wrong.push(...from.wrong);
  if (from.maxPushMs > into.maxPushMs) {
    into.maxPushMs = from.maxPushMs;
    into.slowestPush = from.slowestPush;
  }
}

/** Runs inputs [from, to) in one worker; resolves with the index to go on from (past a hang or a dead worker). */
function runWorker(job: Omit<WorkerJob, 'progress'>, total: BatchReport): Promise<number> {
  const progress = new SharedArrayBuffer(16);
  const view = new Float64Array(progress);
  view[0] = job.from;
  view[1] = Date.now() + 60_000; // start-up (tsx compiling the modules) is not an input's time
  const file = join(__dirname, 'fuzz-worker.ts');
  const worker = new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(file)});`,
    { eval: true, workerData: { ...job, progress } satisfies WorkerJob });
  return new Promise((resolve) => {
    let settled = false;
    const settle = (next: number) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void worker.terminate();
      resolve(next);
    };
    const failAt = (what: string) => {
      const index = view[0]!;
      total.crashes.push({ seed: job.baseSeed + index, mode: 'all', kind: fuzzInput(job.baseSeed + index, { methods: ALL_METHODS }).kind, what });
      settle(index + 1);
    };
    const watchdog = setInterval(() => {
      const ms = Date.now() - view[1]!;
      if (ms > INPUT_BUDGET_MS) {
        const index = view[0]!;
        total.hangs.push({ seed: job.baseSeed + index, mode: 'all', kind: '?', what: `input still running after ${ms} ms (worker stopped)` });
        settle(index + 1);
      }
    }, 250);
    worker.on('message', (m: { done: number; report: BatchReport; finished?: boolean }) => {
      merge(total, m.report);
      process.stderr.write(`\rfuzz (in process): ${total.inputs} inputs`);
      if (m.finished === true) settle(job.to);
    });
    worker.on('error', (err) => failAt(`worker died: ${err.message}`));
    worker.on('exit', (code) => { if (!settled) failAt(`worker exited with ${code}`); });
  });
}

export async function inProcessFuzz(inputs: number, baseSeed: number, workers: number): Promise<InProcessResult> {
  const total = emptyReport();
  const started = performance.now();
  const per = Math.ceil(inputs / workers);
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    const end = Math.min(inputs, (w + 1) * per);
    let next = w * per;
    while (next < end) next = await runWorker({ baseSeed, from: next, to: end }, total);
  }));
  process.stderr.write('\n');
  const seconds = (performance.now() - started) / 1000;
  const failures = [...total.crashes, ...total.hangs, ...total.wrong];
  return {
    inputs: total.inputs, seeds: { base: baseSeed, from: baseSeed, to: baseSeed + inputs - 1 }, workers,
    seconds: +seconds.toFixed(1), inputsPerSecond: Math.round(total.inputs / seconds), byKind: total.byKind,
    readerRuns: total.readerRuns, pushes: total.pushes, bytes: total.bytes, messagesHandedOut: total.messages,
    readerRunsRefused: total.readerErrors, describeCallRefused: total.describeErrors, readerRunsLeftWaiting: total.incomplete,
    crashes: total.crashes.length, hangs: total.hangs.length, wrongReads: total.wrong.length,
    failures: failures.slice(0, MAX_LISTED), maxPushMs: +total.maxPushMs.toFixed(2), slowestPush: total.slowestPush,
  };
}

// ------------------------------------------------------------------ over the network

type Ending = 'closed_by_router' | 'closed_after_client_end' | 'timeout';

interface Sent {
  readonly ending: Ending;
  readonly received: Buffer;
  /** True when the router could not be reached (it was down): the input did not run. */
  readonly unreachable: boolean;
}

/**
 * The calls the router may answer, in order: every call completed before the first byte it refuses
 * (fed one byte at a time, as the most finely split delivery would: how the input arrives decides
 * how many of them a refused input still gets answered), and whether it refuses the input at all.
 */
function expectedCalls(bytes: Buffer): { transport: Transport | null; calls: RawMessage[]; refused: boolean } {
  const reader = new MessageReader({ transport: 'detect', maxMessageBytes: 256 * 1024 * 1024 });
  const calls: RawMessage[] = [];
  try {
    for (let i = 0; i < bytes.length; i++) {
      for (const m of reader.push(bytes.subarray(i, i + 1))) {
        if (m.header.type === MessageType.CALL) calls.push(m);
        else if (m.header.type !== MessageType.ONEWAY) return { transport: reader.transport, calls, refused: true }; // the router closes here
      }
    }
  } catch {
    return { transport: reader.transport, calls, refused: true };
  }
  return { transport: reader.transport, calls, refused: false };
}

/** One connection, one input: sent in one to three writes, then (sometimes) the client's end. */
function send(input: FuzzInput, rng: Rng, transport: Transport | null, calls: number): Promise<Sent> {
  return new Promise((resolve) => {
    const socket = connect({ port: ROUTER_PORT, host: '127.0.0.1' });
    socket.setNoDelay(true);
    const received: Buffer[] = [];
    let connected = false;
    let clientEnded = false;
    let timer: NodeJS.Timeout | null = null;
    const finish = (ending: Ending) => {
      if (timer !== null) clearTimeout(timer);
      socket.destroy();
      resolve({ ending, received: Buffer.concat(received), unreachable: !connected });
    };
    socket.on('error', () => undefined);
    socket.on('close', () => finish(clientEnded ? 'closed_after_client_end' : 'closed_by_router'));
    socket.on('data', (d: Buffer) => {
      received.push(d);
      // Every expected reply is in: end our side, the router closes.
      if (calls > 0 && !clientEnded && countReplies(Buffer.concat(received), transport) >= calls) { clientEnded = true; socket.end(); }
    });
    socket.on('connect', () => {
      connected = true;
      const parts = rng.int(1, 3);
      const cuts = [0, ...Array.from({ length: parts - 1 }, () => rng.int(0, input.bytes.length)).sort((a, b) => a - b), input.bytes.length];
      let i = 0;
      const next = () => {
        if (i < parts) {
          socket.write(input.bytes.subarray(cuts[i]!, cuts[i + 1]!));
          i += 1;
          setImmediate(next);
          return;
        }
        if (rng.chance(0.25)) { clientEnded = true; socket.end(); }
        // Calls are answered one after another, each within the router's deadline.
        timer = setTimeout(() => finish('timeout'), calls > 0 ? 1000 + calls * REPLY_WAIT_MS : QUIET_WAIT_MS);
      };
      next();
    });
  });
}

function countReplies(bytes: Buffer, transport: Transport | null): number {
  try {
    return new MessageReader({ transport: transport ?? 'buffered', maxMessageBytes: 1 << 30 }).push(bytes).length;
  } catch {
    return 0;
  }
}

/** Problems with the replies to one input: each must answer the next call, by seqid and method name. */
function checkReplies(received: Buffer, transport: Transport | null, calls: readonly RawMessage[]): string | null {
  if (received.length === 0) return null;
  let replies: RawMessage[];
  const reader = new MessageReader({ transport: transport ?? 'buffered', maxMessageBytes: 1 << 30 });
  try {
    replies = reader.push(received);
  } catch (err) {
    return `reply does not parse: ${(err as Error).message}`;
  }
  if (reader.pendingBytes > 0) return `${reader.pendingBytes} bytes of an incomplete reply`;
  if (replies.length > calls.length) return `${replies.length} replies to ${calls.length} call(s)`;
  for (let i = 0; i < replies.length; i++) {
    const reply = replies[i]!.header;
    const call = calls[i]!.header;
    if (reply.type !== MessageType.REPLY && reply.type !== MessageType.EXCEPTION) return `reply ${i} has message type ${reply.type}`;
    if (reply.seqid !== call.seqid) return `reply ${i} has seqid ${reply.seqid}, the call ${call.seqid}`;
    // The metastore echoes names it decoded as UTF-8: compare printable ASCII names only.
    if (/^[\x20-\x7e]*$/.test(call.name) && reply.name !== call.name) return `reply ${i} is for ${reply.name}, the call was ${call.name}`;
  }
  return null;
}

export interface NetworkResult {
  readonly inputs: number;
  readonly seeds: { readonly from: number; readonly to: number };
  readonly concurrency: number;
  readonly seconds: number;
  readonly byKind: Record<string, number>;
  /** How each connection ended, and whether it got a reply first. */
  readonly endings: Record<string, number>;
  /** The first seed of each ending. */
  readonly endingExamples: Record<string, number>;
  readonly repliesChecked: number;
  readonly badReplies: number;
  readonly badReplyExamples: Array<{ seed: number; problem: string }>;
  /** Inputs whose calls did not all get replies (each within the router's 8 s deadline plus 1 s), the connection left open. */
  readonly unansweredCalls: number;
  readonly unansweredExamples: number[];
  readonly healthChecks: { readonly run: number; readonly ok: number; readonly failed: number; readonly p50Ms: number; readonly maxMs: number; readonly failures: string[] };
  readonly routerDeaths: number;
  /** Seeds that kill the router on their own (confirmed by replay), with the router's last words. */
  readonly crashSeeds: Array<{ seed: number; kind: string; method: string | null; mutations: readonly string[]; hex: string }>;
  readonly crashOutput: string[];
  readonly aliveAtEnd: boolean;
  readonly servesAtEnd: boolean;
  readonly routerProtocolErrors: Record<string, number>;
  readonly routerCallOutcomes: Record<string, number>;
  readonly routerRssMiB: { readonly start: number; readonly end: number };
}

function fuzzRouterConfig(stack: StackStatus): string[] {
  return [
    `server: { host: 127.0.0.1, port: ${ROUTER_PORT} }`,
    `admin: { port: ${ADMIN_PORT} }`,
    'log: { level: warn }',
    'metastores:',
    '  rw:',
    `    primary: { endpoints: ["127.0.0.1:${stack.metastores.rw.port}"] }`,
    '    pool: { minIdle: 2, max: 32 }',
    `    timeouts: { callMs: ${CALL_MS} }`,
    'defaultMetastore: rw',
    // The metastore is shared: nothing the fuzz sends may change it.
    'routing: { access: { rw: { mode: read-only } } }',
  ];
}

async function healthCheck(): Promise<{ ok: boolean; ms: number; problem?: string }> {
  const t0 = performance.now();
  try {
    const client = await HmsTestClient.connect(ROUTER_PORT);
    try {
      const r = await client.call('get_database', callArgs.name('default'), 10_000);
      const ok = r.type === MessageType.REPLY && r.result[0] !== undefined;
      return { ok, ms: performance.now() - t0, problem: ok ? undefined : `get_database answered ${JSON.stringify(r.result).slice(0, 200)}` };
    } finally {
      client.close();
    }
  } catch (err) {
    return { ok: false, ms: performance.now() - t0, problem: (err as Error).message };
  }
}

export async function networkFuzz(stack: StackStatus, inputs: number, baseSeed: number): Promise<NetworkResult> {
  const firstSeed = baseSeed + NETWORK_SEED_OFFSET;
  const crashOutput: string[] = [];
  let stderrTail = '';
  const start = () => startRouterProcess('reliability-fuzz', fuzzRouterConfig(stack), ADMIN_PORT,
    { onStderr: (text) => { stderrTail = (stderrTail + text).slice(-4000); } });
  let router: ChildProcess = await start();
  const rssStart = rssBytes(router.pid!);
  let restarting: Promise<void> | null = null;
  let deaths = 0;
  const suspects = new Set<number>();
  const inFlight = new Set<number>();
  const recent: number[] = [];

  const endings: Record<string, number> = {};
  const endingExamples: Record<string, number> = {};
  const byKind: Record<string, number> = {};
  const badReplies: Array<{ seed: number; problem: string }> = [];
  const unanswered: number[] = [];
  const health: Array<{ ok: boolean; ms: number; problem?: string }> = [];
  let repliesChecked = 0;
  let next = 0;
  let done = 0;
  let nextHealth = HEALTH_EVERY;
  const healthRuns: Promise<void>[] = [];
  const started = performance.now();

  /** The router died: remember what was in flight, start a new one. */
  const onDeath = (): Promise<void> => {
    restarting ??= (async () => {
      deaths += 1;
      for (const s of [...inFlight, ...recent]) suspects.add(s);
      crashOutput.push(stderrTail.trim().split('\n').slice(0, 12).join('\n'));
      stderrTail = '';
      process.stderr.write(`\nfuzz (network): the router died (${deaths}); ${suspects.size} suspect inputs; starting it again\n`);
      router = await start();
      restarting = null;
    })();
    return restarting;
  };

  const worker = async () => {
    while (next < inputs) {
      const index = next++;
      const seed = firstSeed + index;
      const input = fuzzInput(seed, { methods: NETWORK_METHODS });
      const { transport, calls, refused } = expectedCalls(input.bytes);
      for (;;) {
        if (restarting !== null) await restarting;
        inFlight.add(seed);
        const sent = await send(input, new Rng((seed ^ 0x2545f491) >>> 0), transport, calls.length);
        inFlight.delete(seed);
        if (router.exitCode !== null || router.signalCode !== null) {
          await onDeath();
          if (sent.unreachable) continue; // never reached a live router: run it again
        }
        if (sent.unreachable) continue;
        recent.push(seed);
        if (recent.length > 32) recent.shift();
        byKind[input.kind] = (byKind[input.kind] ?? 0) + 1;
        const ending = `${sent.received.length > 0 ? 'reply' : 'no_reply'}+${sent.ending}`;
        endings[ending] = (endings[ending] ?? 0) + 1;
        endingExamples[ending] ??= seed;
        const problem = checkReplies(sent.received, transport, calls);
        if (sent.received.length > 0) repliesChecked += 1;
        if (problem !== null) badReplies.push({ seed, problem });
        if (!refused && calls.length > 0 && sent.ending === 'timeout' && countReplies(sent.received, transport) < calls.length) unanswered.push(seed);
        break;
      }
      done += 1;
      if (done >= nextHealth) {
        nextHealth += HEALTH_EVERY;
        process.stderr.write(`\rfuzz (network): ${done} inputs`);
        healthRuns.push(healthCheck().then((h) => { health.push(h); }));
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await Promise.all(healthRuns);
  process.stderr.write('\n');
  const seconds = (performance.now() - started) / 1000;

  const alive = router.exitCode === null && router.signalCode === null;
  const final = alive ? await healthCheck() : { ok: false, ms: 0, problem: 'router dead' };
  const rssEnd = alive ? rssBytes(router.pid!) : 0;
  let protocolErrors: Record<string, number> = {};
  let outcomes: Record<string, number> = {};
  if (alive) {
    const metrics = await scrapeMetrics(ADMIN_PORT);
    protocolErrors = labelSums(metrics, 'hms_router_protocol_errors_total', 'reason');
    outcomes = labelSums(metrics, 'hms_router_calls_total', 'outcome');
    await stopRouterProcess(router);
  }

  const crashSeeds = await replay(stack, [...suspects].sort((a, b) => a - b));
  const ms = health.map((h) => h.ms);
  return {
    inputs: done, seeds: { from: firstSeed, to: firstSeed + inputs - 1 }, concurrency: CONCURRENCY, seconds: +seconds.toFixed(1), byKind, endings, endingExamples,
    repliesChecked, badReplies: badReplies.length, badReplyExamples: badReplies.slice(0, MAX_LISTED),
    unansweredCalls: unanswered.length, unansweredExamples: unanswered.slice(0, MAX_LISTED),
    healthChecks: {
      run: health.length, ok: health.filter((h) => h.ok).length, failed: health.filter((h) => !h.ok).length,
      p50Ms: +percentile(ms, 50).toFixed(1), maxMs: +Math.max(0, ...ms).toFixed(1),
      failures: health.filter((h) => !h.ok).map((h) => h.problem ?? '?').slice(0, MAX_LISTED),
    },
    routerDeaths: deaths, crashSeeds, crashOutput: crashOutput.slice(0, 3),
    aliveAtEnd: alive, servesAtEnd: final.ok,
    routerProtocolErrors: protocolErrors, routerCallOutcomes: outcomes,
    routerRssMiB: { start: Math.round(rssStart / 2 ** 20), end: Math.round(rssEnd / 2 ** 20) },
  };
}

/**
 * Sends each input alone to a fresh router (network seeds, NETWORK_METHODS): the ones that kill it.
 * Also `npm run bench:reliability -- --replay <seed>[,<seed>...]`.
 */
export async function replay(stack: StackStatus, seeds: readonly number[], log = false): Promise<NetworkResult['crashSeeds']> {
  const crashing: NetworkResult['crashSeeds'] = [];
  for (const seed of seeds) {
    const router = await startRouterProcess('reliability-fuzz-replay', fuzzRouterConfig(stack), ADMIN_PORT, { onStderr: () => undefined });
    const input = fuzzInput(seed, { methods: NETWORK_METHODS });
    const { transport, calls } = expectedCalls(input.bytes);
    const sent = await send(input, new Rng((seed ^ 0x2545f491) >>> 0), transport, calls.length);
    await new Promise((r) => setTimeout(r, 300));
    const died = router.exitCode !== null || router.signalCode !== null;
    if (log) {
      process.stderr.write(`${seed}: ${input.kind} ${input.encoding} ${input.method ?? ''} [${input.mutations.join(' ')}] ${input.bytes.length} B; ` +
        `calls ${calls.map((c) => c.header.name).join(',') || '-'}; ${sent.ending}, ${sent.received.length} B back; router ${died ? 'DIED' : 'alive'}\n` +
        `  ${input.bytes.toString('hex')}\n`);
    }
    if (died) crashing.push({ seed, kind: input.kind, method: input.method, mutations: input.mutations, hex: input.bytes.toString('hex').slice(0, 400) });
    else await stopRouterProcess(router);
  }
  return crashing;
}

/** Sums of a counter by one of its labels. */
function labelSums(metrics: ReadonlyMap<string, number>, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [series, value] of metrics) {
    if (!series.startsWith(`${name}{`)) continue;
    const m = new RegExp(`${label}="([^"]*)"`).exec(series);
    if (m !== null) out[m[1]!] = (out[m[1]!] ?? 0) + value;
  }
  return out;
}
