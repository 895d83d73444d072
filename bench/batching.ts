/**
 * Batching of large partition listings (issue #6): get_partitions(db, tbl, -1) on a table of
 * 100,000 partitions, directly against its metastore and through the router with batching on, in
 * the same run. Writes bench/results/batching.json (batching-passthrough.json with --no-batching).
 *
 *   npm run bench:batching [-- --runs 3 --partitions 100000 --batch-size 5000 --in-flight 2 --threshold 5000]
 *   (the flags default to the router's own batching defaults)
 *   npm run bench:batching -- --no-batching     (the router without batching: a pass-through of the call)
 *
 * The table lives on a metastore of its own (bench/large-table.ts: MariaDB on 13309, metastore on
 * 19086), built once and cached. The router runs built (dist/) as its own process (its memory is
 * measured from /proc), a fresh one per run, and reaches the metastore through a counting relay
 * (bench/counting-relay.ts) that records every call the metastore receives, independently of the
 * router. Per run: the direct call, the call through the router, and the direct call through the
 * relay alone (what the relay itself adds to the router's figure).
 */
import { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../stack/layout';
import { BackendConnection } from '../src/backends/backend-connection';
import { BinaryWriter } from '../src/thrift/binary-writer';
import { MessageType, TType } from '../src/thrift/protocol';
import type { RawMessage } from '../src/thrift/message-reader';
import { skipValue } from '../src/thrift/value-reader';
import { decodeStruct } from '../src/thrift/value-decoder';
import { configSchema } from '../src/config/schema';
import { DEFAULT_BATCHING } from '../src/batching/batching-policy';
import { bigintJson } from '../test/support/hms-test-client';
import { ensureLargeTable, LargeTable, LARGE_TABLE_METASTORE_HEAP } from './large-table';
import { startCountingRelay, CountingRelay, RelayReport } from './counting-relay';
import { numericFlag, startRouterProcess, stopRouterProcess } from './support';

const RUNS = numericFlag('--runs', 3);
const NO_BATCHING = process.argv.includes('--no-batching');
const RESULTS_FILE = NO_BATCHING ? 'batching-passthrough.json' : 'batching.json';
const PARTITIONS = numericFlag('--partitions', 100_000);

/** The router's batching settings under test (metastores.big.batching): change them here. */
const BATCHING = {
  enabled: true,
  threshold: numericFlag('--threshold', DEFAULT_BATCHING.threshold),
  batchSize: numericFlag('--batch-size', DEFAULT_BATCHING.batchSize),
  inFlight: numericFlag('--in-flight', DEFAULT_BATCHING.inFlight),
  pauseMs: DEFAULT_BATCHING.pauseMs,
} as const;

const GOALS = {
  /** Through the router (batched) at most this many times the direct call's time. */
  timeRatioAtMost: 1.2,
  /** Router RSS above its baseline at most this many times the encoded reply. */
  extraMemoryPerReplyByteAtMost: 1.5,
  /** No metastore call asks for or returns more partitions than this. */
  partitionsPerMetastoreCallAtMost: BATCHING.batchSize,
};

const ROUTER_PORT = 19986;
const ADMIN_PORT = 19987;
const RELAY_PORT = 19988;
const CALL_DEADLINE_MS = 600_000;
const RSS_SAMPLE_MS = 20;

interface Timed { readonly ms: number; readonly reply: RawMessage }

interface RouterRun {
  readonly ms: number;
  readonly baselineRssBytes: number;
  readonly peakRssBytes: number;
  /** How the peak was found: the kernel's high-water mark since just before the call, or 20 ms samples. */
  readonly peakFrom: 'VmHWM' | 'samples';
  readonly relay: RelayReport;
}

// ------------------------------------------------------------------ calls

function getPartitionsRequest(db: string, table: string): Buffer {
  return new BinaryWriter().messageBegin('get_partitions', MessageType.CALL, 1)
    .fieldBegin(TType.STRING, 1).string(db)
    .fieldBegin(TType.STRING, 2).string(table)
    .fieldBegin(TType.I16, 3).i16(-1)
    .fieldStop().finish();
}

/** One call on a new connection (as an engine makes it), timed from sending to the last reply byte. */
async function timedCall(port: number, request: Buffer): Promise<Timed> {
  const connection = await BackendConnection.connect({ host: '127.0.0.1', port, address: `127.0.0.1:${port}` },
    { transport: 'buffered', connectTimeoutMs: 5000, maxReplyBytes: 2 ** 31 - 1 });
  try {
    const t0 = performance.now();
    const reply = await connection.call(request, false, CALL_DEADLINE_MS);
    const ms = performance.now() - t0;
    if (reply === null) throw new Error('no reply');
    assertSuccess(reply, port);
    return { ms, reply };
  } finally {
    connection.destroy();
  }
}

/** A reply whose result struct holds field 0 (the list); anything else is reported with its text. */
function assertSuccess(reply: RawMessage, port: number): void {
  const { bytes, header } = reply;
  const body = header.bodyOffset;
  if (header.type === MessageType.REPLY && bytes[body] === TType.LIST && bytes.readInt16BE(body + 1) === 0) return;
  const shown = header.type === MessageType.REPLY && bytes.length > 64 * 1024 * 1024
    ? `${bytes.length} bytes` : JSON.stringify(decodeStruct(bytes, body).value, bigintJson).slice(0, 500);
  throw new Error(`get_partitions on port ${port} did not succeed (message type ${header.type}): ${shown}`);
}

/** The encoded partitions of a get_partitions reply, one slice each. */
function partitionSlices(reply: RawMessage): Buffer[] {
  const { bytes, header } = reply;
  const count = bytes.readInt32BE(header.bodyOffset + 4);
  let p = header.bodyOffset + 8;
  const slices: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const end = skipValue(bytes, p, TType.STRUCT);
    slices.push(bytes.subarray(p, end));
    p = end;
  }
  return slices;
}

/**
 * Compares the router's reply with the direct one: byte-equal after the message header, else the
 * same partitions (each byte-equal) in another order, else how many differ.
 */
function compareReplies(direct: RawMessage, viaRouter: RawMessage): string {
  const a = direct.bytes.subarray(direct.header.bodyOffset);
  const b = viaRouter.bytes.subarray(viaRouter.header.bodyOffset);
  if (a.equals(b)) return 'byte-equal';
  const digest = (s: Buffer) => createHash('sha1').update(s).digest('hex');
  const da = partitionSlices(direct).map(digest);
  const db = partitionSlices(viaRouter).map(digest);
  if (da.length !== db.length) return `different: ${db.length} partitions through the router, ${da.length} direct`;
  if (da.every((d, i) => d === db[i])) return 'partitions byte-equal, result struct differs after the list';
  const inDirect = new Set(da);
  const missing = db.filter((d) => !inDirect.has(d)).length;
  if (missing === 0 && [...da].sort().join() === [...db].sort().join()) return 'same partitions (each byte-equal), different order';
  return `different: ${missing} of ${db.length} partitions through the router are not byte-equal to any direct one`;
}

// ------------------------------------------------------------------ router process and memory

function procStatus(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(/\s(\d+) kB/.exec(text.split('\n').find((l) => l.startsWith(key)) ?? '')?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS:'), hwm: kib('VmHWM:') };
}

/** Resets the process's peak RSS (VmHWM) to its current RSS; false where the kernel refuses. */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return procStatus(pid).hwm <= procStatus(pid).rss * 1.01;
  } catch {
    return false;
  }
}

/** The generated config: the big metastore, reached through the relay, is the only one. */
function routerConfig(batching: object | null): string[] {
  return [
    `server: { host: 127.0.0.1, port: ${ROUTER_PORT}, drainTimeoutMs: 1000 }`,
    `admin: { port: ${ADMIN_PORT} }`,
    'log: { level: warn }',
    'metastores:',
    '  big:',
    `    primary: { endpoints: ["127.0.0.1:${RELAY_PORT}"] }`,
    '    consistency: { mode: off }',
    '    pool: { minIdle: 2, max: 16 }',
    `    timeouts: { callMs: ${CALL_DEADLINE_MS} }`,
    ...(batching === null ? [] : [`    batching: ${JSON.stringify(batching)}`]),
    'defaultMetastore: big',
  ];
}

/**
 * What goes under metastores.big.batching: BATCHING (or { enabled: false } with --no-batching),
 * or nothing when this checkout's config schema refuses it (before batching landed).
 */
function batchingSection(): { readonly section: object | null; readonly note: string } {
  const wanted = NO_BATCHING ? { enabled: false } : { ...BATCHING };
  const document = { metastores: { big: { primary: { endpoints: ['127.0.0.1:1'] }, batching: wanted } }, defaultMetastore: 'big' };
  const parsed = configSchema.safeParse(document);
  if (parsed.success) return { section: wanted, note: JSON.stringify(wanted) };
  const why = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  return { section: null, note: `left out of the config, which refuses it (${why}): a pass-through` };
}

async function routerRun(table: LargeTable, relay: CountingRelay, request: Buffer, batching: object | null, run: number): Promise<{ run: RouterRun; reply: RawMessage }> {
  const router: ChildProcess = await startRouterProcess(`batching-${run}`, routerConfig(batching), ADMIN_PORT);
  try {
    const pid = router.pid!;
    // Warm up the call path with calls well below the batching threshold, then let it settle.
    const small = new BinaryWriter().messageBegin('get_partitions', MessageType.CALL, 1)
      .fieldBegin(TType.STRING, 1).string(table.db).fieldBegin(TType.STRING, 2).string(table.table)
      .fieldBegin(TType.I16, 3).i16(10).fieldStop().finish();
    for (let i = 0; i < 3; i++) await timedCall(ROUTER_PORT, small);
    await new Promise((r) => setTimeout(r, 1000));
    await relay.reset();
    const baseline = procStatus(pid).rss;
    const hwmReset = resetPeakRss(pid);
    let sampledPeak = baseline;
    const sampler = setInterval(() => {
      try { sampledPeak = Math.max(sampledPeak, procStatus(pid).rss); } catch { /* exited */ }
    }, RSS_SAMPLE_MS);
    let timed: Timed;
    try {
      timed = await timedCall(ROUTER_PORT, request);
    } finally {
      clearInterval(sampler);
    }
    const after = procStatus(pid);
    sampledPeak = Math.max(sampledPeak, after.rss);
    const peak = hwmReset ? Math.max(after.hwm, sampledPeak) : sampledPeak;
    return {
      run: { ms: timed.ms, baselineRssBytes: baseline, peakRssBytes: peak, peakFrom: hwmReset ? 'VmHWM' : 'samples', relay: await relay.report() },
      reply: timed.reply,
    };
  } finally {
    await stopRouterProcess(router);
  }
}

// ------------------------------------------------------------------ figures

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function spread(xs: readonly number[], digits = 0): { median: number; min: number; max: number; all: number[] } {
  const r = (x: number) => +x.toFixed(digits);
  return { median: r(median(xs)), min: r(Math.min(...xs)), max: r(Math.max(...xs)), all: xs.map(r) };
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const batching = batchingSection();
  if (batching.section === null) process.stderr.write(`bench: batching settings ${batching.note}\n`);
  const loadAverageAtStart = loadavg().map((x) => +x.toFixed(2));
  const table = await ensureLargeTable({ partitions: PARTITIONS });
  const cleanups: Array<() => Promise<void>> = [() => table.stop()];
  const cleanup = async () => { for (const f of cleanups.reverse()) await f().catch(() => undefined); cleanups.length = 0; };
  const onSignal = () => { void cleanup().then(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const relay = await startCountingRelay(RELAY_PORT, table.metastorePort);
    cleanups.push(() => relay.stop());
    const request = getPartitionsRequest(table.db, table.table);

    process.stderr.write('bench: warm-up: one direct get_partitions(-1)...\n');
    const warm = await timedCall(table.metastorePort, request);
    process.stderr.write(`bench: warm-up ${(warm.ms / 1000).toFixed(2)} s, reply ${mib(warm.reply.bytes.length)}\n`);
    let firstDirect: RawMessage | null = null;
    const direct: number[] = [];
    const replyBytes: number[] = [];
    const relayOnly: number[] = [];
    const routerRuns: RouterRun[] = [];
    const checks: string[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const d = await timedCall(table.metastorePort, request);
      direct.push(d.ms);
      replyBytes.push(d.reply.bytes.length);
      firstDirect ??= d.reply;
      await relay.reset();
      relayOnly.push((await timedCall(RELAY_PORT, request)).ms);
      const { run: r, reply } = await routerRun(table, relay, request, batching.section, run);
      routerRuns.push(r);
      checks.push(compareReplies(firstDirect, reply));
      process.stderr.write(`bench: run ${run}/${RUNS}: direct ${(d.ms / 1000).toFixed(2)} s, relay only ${(relayOnly.at(-1)! / 1000).toFixed(2)} s, ` +
        `router ${(r.ms / 1000).toFixed(2)} s (x${(r.ms / d.ms).toFixed(2)}), router +${mib(r.peakRssBytes - r.baselineRssBytes)} over ${mib(r.baselineRssBytes)}, ` +
        `metastore calls ${JSON.stringify(r.relay.callsByMethod)}, largest reply ${mib(r.relay.maxReplyBytes)}, ` +
        `most partitions in a call ${Math.max(r.relay.maxNamesPerCall ?? 0, r.relay.maxStructsReturned ?? 0)}, ` +
        `reply ${checks.at(-1)}\n`);
    }

    const encodedReplyBytes = median(replyBytes);
    const extra = routerRuns.map((r) => r.peakRssBytes - r.baselineRssBytes);
    const ratios = routerRuns.map((r, i) => r.ms / direct[i]!);
    const maxNames = Math.max(0, ...routerRuns.map((r) => r.relay.maxNamesPerCall ?? 0));
    const maxElements = Math.max(0, ...routerRuns.map((r) => r.relay.maxStructsReturned ?? 0));
    const maxNamesListed = Math.max(0, ...routerRuns.map((r) => r.relay.maxStringsReturned ?? 0));
    const maxReply = Math.max(...routerRuns.map((r) => r.relay.maxReplyBytes));
    const timeRatio = median(ratios);
    const memoryRatio = median(extra) / encodedReplyBytes;
    const largestCall = Math.max(maxNames, maxElements);
    const last = routerRuns.at(-1)!.relay;
    const report = {
      benchmark: 'batching',
      date: new Date().toISOString(),
      hiveVersion: table.hiveVersion,
      /** Load averages (1, 5, 15 min) at the start and the end: other work on the machine shows here. */
      machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverageAtStart, loadAverageAtEnd: loadavg().map((x) => +x.toFixed(2)) },
      table: {
        db: table.db, table: table.table, partitions: table.partitions, metastoreHeap: LARGE_TABLE_METASTORE_HEAP.join(' '),
        cache: table.archive, builtSecondsThisRun: table.builtSeconds === null ? null : Math.round(table.builtSeconds),
        unpackAndStartSeconds: +table.startSeconds.toFixed(1),
      },
      /** What the router's config had under metastores.big.batching (null: no such key), and why. */
      batching: { inRouterConfig: batching.section, note: batching.note },
      call: 'get_partitions(db, tbl, -1), a new connection per call',
      runs: RUNS,
      goals: GOALS,
      direct: { ms: spread(direct), encodedReplyBytes, encodedReplyBytesAll: replyBytes },
      router: {
        ms: spread(routerRuns.map((r) => r.ms)),
        timeRatioToDirect: spread(ratios, 3),
        baselineRssBytes: spread(routerRuns.map((r) => r.baselineRssBytes)),
        peakRssBytes: spread(routerRuns.map((r) => r.peakRssBytes)),
        extraRssBytes: spread(extra),
        extraRssPerReplyByte: spread(extra.map((e) => e / encodedReplyBytes), 3),
        peakFrom: routerRuns.map((r) => r.peakFrom),
        reply: checks,
      },
      /** The direct call through the counting relay alone: what the relay adds to the router's time. */
      relayOnly: { ms: spread(relayOnly), ratioToDirect: spread(relayOnly.map((ms, i) => ms / direct[i]!), 3) },
      metastoreCallsDuringRouterRuns: {
        maxNamesPerCall: maxNames,
        maxPartitionsPerReply: maxElements,
        maxNamesPerReply: maxNamesListed,
        maxReplyBytes: maxReply,
        callsByMethodPerRun: routerRuns.map((r) => r.relay.callsByMethod),
        lastRun: last.perCall.length <= 400 ? last.perCall : `${last.perCall.length} calls (not listed)`,
      },
      goalsMet: {
        time: timeRatio <= GOALS.timeRatioAtMost,
        memory: memoryRatio <= GOALS.extraMemoryPerReplyByteAtMost,
        metastoreCallSize: largestCall <= GOALS.partitionsPerMetastoreCallAtMost,
        replyEqual: checks.every((c) => c === 'byte-equal'),
      },
    };
    mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'bench', 'results', RESULTS_FILE), `${JSON.stringify(report, null, 2)}\n`);
    const ok = (met: boolean) => (met ? 'met' : 'NOT met');
    process.stdout.write([
      `get_partitions(-1) of ${table.partitions.toLocaleString('en')} partitions, Hive ${table.hiveVersion}, ${RUNS} runs (median [min..max]); batching ${batching.note}`,
      `  direct            ${(median(direct) / 1000).toFixed(2)} s [${(Math.min(...direct) / 1000).toFixed(2)}..${(Math.max(...direct) / 1000).toFixed(2)}], reply ${mib(encodedReplyBytes)} (${encodedReplyBytes} bytes)`,
      `  router            ${(median(routerRuns.map((r) => r.ms)) / 1000).toFixed(2)} s, x${timeRatio.toFixed(2)} direct [${Math.min(...ratios).toFixed(2)}..${Math.max(...ratios).toFixed(2)}]   goal <= x${GOALS.timeRatioAtMost}: ${ok(report.goalsMet.time)}`,
      `  router memory     +${mib(median(extra))} over baseline ${mib(median(routerRuns.map((r) => r.baselineRssBytes)))}, ${memoryRatio.toFixed(2)}x the reply   goal <= ${GOALS.extraMemoryPerReplyByteAtMost}x: ${ok(report.goalsMet.memory)}`,
      `  metastore calls   largest: ${maxNames} names asked, ${maxElements} partitions returned, ${mib(maxReply)} reply (${maxNamesListed} names listed); by method ${JSON.stringify(last.callsByMethod)}   goal <= ${GOALS.partitionsPerMetastoreCallAtMost}: ${ok(report.goalsMet.metastoreCallSize)}`,
      `  relay alone       x${median(relayOnly.map((ms, i) => ms / direct[i]!)).toFixed(2)} direct (included in the router's time)`,
      `  reply             ${[...new Set(checks)].join('; ')}`,
      `  written to bench/results/${RESULTS_FILE}`,
      '',
    ].join('\n'));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exit(1);
});
