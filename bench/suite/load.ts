/**
 * The load generator every suite workload uses: `concurrency` callers, each on one persistent
 * connection or a new connection per call, calling for `seconds`. A wrong answer is counted as an
 * error with its text (the run goes on: a proxy that fails some calls is measured, not aborted).
 */
import { HmsTestClient } from '../../test/support/hms-test-client';

export interface CallContext {
  /** The caller's index (0..concurrency-1): workloads that own per-caller objects use it. */
  readonly worker: number;
  /** Adds to one of the run's counters (e.g. 'staleReads'); they end up in the result's `extra`. */
  count(key: string, by?: number): void;
}

/** One call of the workload: throws when the answer is wrong. */
export type WorkloadCall = (client: HmsTestClient, ctx: CallContext) => Promise<void>;

export interface LoadOptions {
  readonly port: number;
  readonly concurrency: number;
  readonly connectionPerCall: boolean;
  readonly seconds: number;
  /** Per-call deadline: a hung proxy costs an error, not the benchmark. */
  readonly deadlineMs?: number;
}

export interface LoadSample {
  readonly calls: number;
  readonly seconds: number;
  readonly latenciesMs: Float64Array;
  readonly errors: number;
  readonly errorSamples: string[];
  readonly counters: Record<string, number>;
}

const MAX_ERROR_SAMPLES = 5;

export async function runLoad(options: LoadOptions, call: WorkloadCall): Promise<LoadSample> {
  const latencies: number[] = [];
  const counters: Record<string, number> = {};
  const errorSamples: string[] = [];
  let errors = 0;
  const deadline = performance.now() + options.seconds * 1000;
  const fail = (err: unknown) => {
    errors += 1;
    const text = (err as Error).message ?? String(err);
    if (errorSamples.length < MAX_ERROR_SAMPLES && !errorSamples.includes(text)) errorSamples.push(text);
  };
  const worker = async (index: number) => {
    const ctx: CallContext = { worker: index, count: (key, by = 1) => { counters[key] = (counters[key] ?? 0) + by; } };
    let client: HmsTestClient | null = null;
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        if (client === null || !client.usable) {
          client?.close();
          client = await HmsTestClient.connect(options.port);
        }
        await withDeadline(call(client, ctx), options.deadlineMs ?? 60_000);
        latencies.push(performance.now() - t0);
      } catch (err) {
        fail(err);
        client?.close();
        client = null;
        // A proxy refusing connections must not turn the loop into a busy spin.
        await new Promise((r) => setTimeout(r, 20));
      }
      if (options.connectionPerCall) {
        client?.close();
        client = null;
      }
    }
    client?.close();
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: options.concurrency }, (_, i) => worker(i)));
  return {
    calls: latencies.length,
    seconds: (performance.now() - started) / 1000,
    latenciesMs: Float64Array.from(latencies),
    errors,
    errorSamples,
    counters,
  };
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
