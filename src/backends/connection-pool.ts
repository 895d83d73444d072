/**
 * A bounded pool of one identity's connections to one endpoint. It does what the router used
 * generic-pool for (max, a warm minimum, an acquire timeout, idle eviction, drain and clear), and
 * borrowing an idle connection is a synchronous step: no request object, timer or promise per
 * call. (generic-pool made every borrow a ResourceRequest with its own acquire-timeout timer, a
 * loan with its own promise and a dispense pass, a visible share of the router's CPU per call.)
 * Idle connections are lent first in, first out, as generic-pool did, so all stay in use.
 */

export interface PoolFactory<T> {
  create(): Promise<T>;
  destroy(resource: T): void;
}

export interface ConnectionPoolOptions {
  readonly max: number;
  /** Kept open (created at start and after a connection goes). */
  readonly min: number;
  /** An acquire that finds no idle connection waits at most this long. */
  readonly acquireTimeoutMs: number;
  /** A connection idle longer than this is closed (and the minimum made up again). */
  readonly idleTimeoutMs: number;
  readonly evictionRunIntervalMs: number;
  /** A create that failed (the acquirers waiting keep waiting for the next try). */
  readonly onCreateError?: (err: unknown) => void;
}

/** An acquire that waited acquireTimeoutMs (what generic-pool rejected with, by name). */
export class PoolTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

interface Waiter<T> {
  resolve(resource: T): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** Connections examined per eviction run (generic-pool's numTestsPerEvictionRun). */
const EVICTION_CHECKS_PER_RUN = 3;

export class ConnectionPool<T> {
  private idleList: Array<{ resource: T; idleSince: number }> = [];
  private readonly lent = new Set<T>();
  private readonly waiters: Waiter<T>[] = [];
  private creating = 0;
  private draining = false;
  private evictionTimer: NodeJS.Timeout | null = null;
  private readonly returnedWhileDraining: Array<() => void> = [];

  constructor(private readonly factory: PoolFactory<T>, private readonly options: ConnectionPoolOptions) {
    this.ensureMinimum();
    if (options.evictionRunIntervalMs > 0) {
      this.evictionTimer = setInterval(() => this.evict(), options.evictionRunIntervalMs).unref();
    }
  }

  /** Connections open, lent or being created. */
  get size(): number {
    return this.idleList.length + this.lent.size + this.creating;
  }

  get available(): number {
    return this.idleList.length;
  }

  get borrowed(): number {
    return this.lent.size;
  }

  get pending(): number {
    return this.waiters.length;
  }

  /** An idle connection, lent at once; undefined when there is none (then use acquire()). */
  takeIdle(): T | undefined {
    if (this.draining) return undefined;
    const entry = this.idleList.shift();
    if (entry === undefined) return undefined;
    this.lent.add(entry.resource);
    return entry.resource;
  }

  /** A connection: an idle one, a new one if below max, else the next one returned (or a timeout). */
  acquire(): Promise<T> {
    if (this.draining) return Promise.reject(new Error('pool is draining and cannot accept work'));
    const idle = this.takeIdle();
    if (idle !== undefined) return Promise.resolve(idle);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new PoolTimeoutError('ResourceRequest timed out'));
          this.settleReturn();
        }, this.options.acquireTimeoutMs),
      };
      this.waiters.push(waiter);
      this.createForWaiters();
    });
  }

  /** Takes a lent connection back; it goes to the next waiter or becomes idle. */
  release(resource: T): void {
    if (!this.lent.delete(resource)) {
      this.factory.destroy(resource);
      return;
    }
    this.settleReturn();
    this.lend(resource);
  }

  /** Closes a lent or idle connection for good; the minimum is made up again. */
  destroy(resource: T): void {
    if (!this.lent.delete(resource)) {
      const i = this.idleList.findIndex((e) => e.resource === resource);
      if (i >= 0) this.idleList.splice(i, 1);
    }
    this.factory.destroy(resource);
    this.settleReturn();
    this.ensureMinimum();
    this.createForWaiters();
  }

  /** No more lending; resolves once every lent connection is back and no acquire waits. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.evictionTimer !== null) clearInterval(this.evictionTimer);
    this.evictionTimer = null;
    if (this.lent.size === 0 && this.waiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.returnedWhileDraining.push(resolve));
  }

  /** Closes every idle connection (after drain: all of them), and those still being created. */
  async clear(): Promise<void> {
    const idle = this.idleList;
    this.idleList = [];
    for (const { resource } of idle) this.factory.destroy(resource);
  }

  private settleReturn(): void {
    if (this.draining && this.lent.size === 0 && this.waiters.length === 0) {
      for (const done of this.returnedWhileDraining.splice(0)) done();
    }
  }

  private lend(resource: T): void {
    const waiter = this.waiters.shift();
    if (waiter === undefined) {
      if (this.draining) {
        this.factory.destroy(resource);
        return;
      }
      this.idleList.push({ resource, idleSince: Date.now() });
      return;
    }
    clearTimeout(waiter.timer);
    this.lent.add(resource);
    waiter.resolve(resource);
  }

  /** Creates connections for acquires waiting beyond those already being created, up to max. */
  private createForWaiters(): void {
    const wanted = Math.min(this.waiters.length - this.creating, this.options.max - this.size);
    for (let i = 0; i < wanted; i++) this.create();
  }

  private ensureMinimum(): void {
    if (this.draining) return;
    const missing = Math.min(this.options.min, this.options.max) - this.size;
    for (let i = 0; i < missing; i++) this.create();
  }

  private create(): void {
    this.creating += 1;
    this.factory.create().then((resource) => {
      this.creating -= 1;
      if (this.draining && this.waiters.length === 0) {
        this.factory.destroy(resource);
        return;
      }
      this.lend(resource);
    }, (err: unknown) => {
      this.creating -= 1;
      this.options.onCreateError?.(err);
      // As generic-pool: try again while acquires wait (the factory paces its own retries); the
      // minimum is made up again when a connection goes, not after a failed create.
      this.createForWaiters();
    });
  }

  /** Closes connections idle longer than idleTimeoutMs (a few examined per run); the minimum is made up again. */
  private evict(): void {
    const now = Date.now();
    let checked = 0;
    for (let i = 0; i < this.idleList.length && checked < EVICTION_CHECKS_PER_RUN; checked++) {
      const entry = this.idleList[i]!;
      if (now - entry.idleSince > this.options.idleTimeoutMs) {
        this.idleList.splice(i, 1);
        this.factory.destroy(entry.resource);
        this.ensureMinimum();
      } else {
        i += 1;
      }
    }
  }
}
