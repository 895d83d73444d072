/**
 * The in-process fuzz loop, run in a worker thread so the parent can stop a hang it cannot interrupt
 * otherwise: for each seed, the input goes through MessageReader in every transport mode ('detect',
 * 'buffered', 'framed') in random chunks, and every message it yields through toStrictMessage and
 * describeCall, as the router's client connection does. ProtocolError is the expected way to refuse
 * input; any other exception is a crash, and a push() over 1 s a hang.
 *
 * Progress is shared with the parent through a SharedArrayBuffer: [input index, its start time].
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MessageReader, toStrictMessage } from '../src/thrift/message-reader';
import { ProtocolError } from '../src/thrift/protocol';
import { DEFAULT_SCAN_LIMITS, ScanLimits } from '../src/thrift/struct-scanner';
import { describeCall } from '../src/hms/call-info';
import { ALL_METHODS, chunked, fuzzInput, Rng } from './fuzz-inputs';

export interface WorkerJob {
  readonly baseSeed: number;
  readonly from: number;
  readonly to: number;
  /** Float64Array over it: [index of the input being run, Date.now() when it started]. */
  readonly progress: SharedArrayBuffer;
}

export interface Failure {
  readonly seed: number;
  readonly mode: string;
  readonly kind: string;
  readonly what: string;
}

/** Counts for one batch of inputs (the parent adds them up). */
export interface BatchReport {
  inputs: number;
  readerRuns: number;
  pushes: number;
  bytes: number;
  messages: number;
  byKind: Record<string, number>;
  /** Reader runs that ended in ProtocolError, by reason. */
  readerErrors: Record<string, number>;
  /** describeCall refusals (ProtocolError), by reason. */
  describeErrors: Record<string, number>;
  /** Reader runs that ended waiting for more bytes (an incomplete message). */
  incomplete: number;
  crashes: Failure[];
  hangs: Failure[];
  /** Valid calls the reader did not hand out exactly as encoded (a correctness check). */
  wrong: Failure[];
  maxPushMs: number;
  /** Where the slowest push was, to replay it. */
  slowestPush: { seed: number; mode: string; bytes: number } | null;
}

export const MODES = ['detect', 'buffered', 'framed'] as const;
const HANG_MS = 1000;
const BATCH = 1000;
const SMALL_LIMITS: ScanLimits = { maxStringBytes: 64, maxContainerSize: 8, maxDepth: 4 };
const MESSAGE_LIMITS = [64, 4096, 1024 * 1024, 256 * 1024 * 1024];

export function emptyReport(): BatchReport {
  return { inputs: 0, readerRuns: 0, pushes: 0, bytes: 0, messages: 0, byKind: {}, readerErrors: {}, describeErrors: {}, incomplete: 0,
    crashes: [], hangs: [], wrong: [], maxPushMs: 0, slowestPush: null };
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function describe(err: unknown): string {
  const e = err as Error;
  return `${e?.name ?? typeof err}: ${e?.message ?? String(err)} ${(e?.stack ?? '').split('\n').slice(1, 4).map((l) => l.trim()).join(' | ')}`;
}

/** Runs one input through every mode; adds to `report`. */
export function runInput(seed: number, report: BatchReport): void {
  const input = fuzzInput(seed, { methods: ALL_METHODS });
  const rng = new Rng((seed ^ 0x5bd1e995) >>> 0);
  report.inputs += 1;
  report.bytes += input.bytes.length;
  bump(report.byKind, input.kind);
  for (const mode of MODES) {
    const strictLimits = rng.chance(0.2);
    const maxMessageBytes = rng.pick(MESSAGE_LIMITS);
    const reader = new MessageReader({ transport: mode, maxMessageBytes, scanLimits: strictLimits ? SMALL_LIMITS : DEFAULT_SCAN_LIMITS });
    report.readerRuns += 1;
    const handedOut: Buffer[] = [];
    try {
      for (const chunk of chunked(rng, input.bytes)) {
        const t0 = performance.now();
        const messages = reader.push(chunk);
        const ms = performance.now() - t0;
        report.pushes += 1;
        if (ms > report.maxPushMs) {
          report.maxPushMs = ms;
          report.slowestPush = { seed, mode, bytes: chunk.length };
        }
        if (ms > HANG_MS) report.hangs.push({ seed, mode, kind: input.kind, what: `push() took ${ms.toFixed(0)} ms` });
        for (const message of messages) {
          report.messages += 1;
          handedOut.push(message.bytes);
          try {
            describeCall(toStrictMessage(message));
          } catch (err) {
            if (err instanceof ProtocolError) bump(report.describeErrors, err.reason);
            else report.crashes.push({ seed, mode, kind: input.kind, what: `describeCall: ${describe(err)}` });
          }
        }
      }
      if (reader.pendingBytes > 0) report.incomplete += 1;
    } catch (err) {
      if (err instanceof ProtocolError) bump(report.readerErrors, err.reason);
      else report.crashes.push({ seed, mode, kind: input.kind, what: `push: ${describe(err)}` });
      continue;
    }
    // A valid call, read in its own transport with room to spare, comes out exactly as encoded.
    const own = input.encoding === 'framed' ? mode !== 'buffered' : mode !== 'framed';
    if (input.kind === 'valid' && own && !strictLimits && maxMessageBytes >= input.bytes.length) {
      const expected = input.encoding === 'framed' ? input.bytes.subarray(4) : input.bytes;
      if (handedOut.length !== 1 || !handedOut[0]!.equals(expected)) {
        report.wrong.push({ seed, mode, kind: input.kind, what: `valid ${input.method} call came out as ${handedOut.length} message(s)` });
      }
    }
  }
}

function main(job: WorkerJob): void {
  const progress = new Float64Array(job.progress);
  let report = emptyReport();
  for (let i = job.from; i < job.to; i++) {
    progress[0] = i;
    progress[1] = Date.now();
    runInput(job.baseSeed + i, report);
    if (report.inputs === BATCH) {
      parentPort!.postMessage({ done: i + 1, report });
      report = emptyReport();
    }
  }
  parentPort!.postMessage({ done: job.to, report, finished: true });
}

if (parentPort !== null && workerData !== undefined && workerData !== null) main(workerData as WorkerJob);
