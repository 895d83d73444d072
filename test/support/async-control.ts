/**
 * Promise control for unit tests with stand-ins: a deferred the test settles by hand, and a flush
 * that lets every pending callback run.
 */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(err: Error): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run. */
export const flush = (): Promise<void> => new Promise((r) => setImmediate(r));
