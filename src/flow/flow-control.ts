/**
 * Admission of calls by priority. Each metastore has a gate: its calls in flight and a moving
 * average of their latency. Under pressure (in flight at the limit, or latency above the bound),
 * high-priority calls still go; normal ones wait; low ones wait earlier (they may use only a share
 * of the limit). A waiting call is admitted as soon as the pressure passes, or refused with a clear
 * reason once its class's wait is over: never hung. Classes may also cap their own concurrency and
 * rate (token bucket).
 */
import type { RouterMetrics } from '../admin/metrics';
import type { CompiledFlow, FlowClass, PressureSettings, Priority } from './flow-policy';
import { TokenBucket } from './token-bucket';

export type ThrottleReason = 'pressure' | 'class_concurrency' | 'class_rate';

export type Admission =
  | { readonly ok: true; readonly waitedMs: number; release(latencyMs: number | null): void }
  | { readonly ok: false; readonly waitedMs: number; readonly reason: ThrottleReason };

/** Latency older than this says nothing about the metastore now (no call completed since). */
const LATENCY_MEMORY_MS = 2000;
/** Weight of the newest call in the latency average. */
const LATENCY_ALPHA = 0.2;
/** While calls wait, the gates are re-checked this often (latency memory and token refills expire without events). */
const RECHECK_MS = 20;

class MetastoreGate {
  inFlight = 0;
  private latency = 0;
  private latencyAt = -Infinity;

  constructor(private readonly now: () => number) {}

  recordLatency(ms: number): void {
    this.latency = this.latencyAt === -Infinity ? ms : this.latency + LATENCY_ALPHA * (ms - this.latency);
    this.latencyAt = this.now();
  }

  /** True when a call of this priority may not start now. */
  blocked(priority: Priority, s: PressureSettings): boolean {
    if (priority === 'high') return false;
    const slow = s.latencyMs !== undefined && this.now() - this.latencyAt < LATENCY_MEMORY_MS && this.latency > s.latencyMs;
    if (slow) return true;
    const limit = priority === 'normal' ? s.maxInFlight : Math.max(1, Math.floor(s.maxInFlight * s.lowShare));
    return this.inFlight >= limit;
  }
}

interface ClassState {
  inFlight: number;
  bucket: TokenBucket | null;
  /** The rate and burst the bucket was made for. */
  rateKey: string | null;
}

interface Waiter {
  readonly priority: Priority;
  readonly since: number;
  /** Tries to admit; true when it did (and resolved the caller). */
  tryAdmit(): boolean;
}

const RANK: Record<Priority, number> = { high: 0, normal: 1, low: 2 };

export class FlowControl {
  private readonly gates = new Map<string, MetastoreGate>();
  private readonly classStates = new Map<string, ClassState>();
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly metrics: RouterMetrics, private readonly now: () => number = () => performance.now()) {}

  /** Calls waiting for admission now (tests, admin). */
  get waiting(): number {
    return this.waiters.length;
  }

  inFlight(metastore: string): number {
    return this.gates.get(metastore)?.inFlight ?? 0;
  }

  async admit(flow: CompiledFlow, metastore: string, cls: FlowClass): Promise<Admission> {
    const gate = this.gate(metastore);
    const state = this.classState(cls);
    const settings = flow.pressureFor(metastore);
    const started = this.now();
    let reason: ThrottleReason = 'pressure';
    let rateReadyAt = 0;

    const attempt = (): Admission | null => {
      const now = this.now();
      if (now < rateReadyAt) { reason = 'class_rate'; return null; }
      if (cls.maxConcurrent !== null && state.inFlight >= cls.maxConcurrent) { reason = 'class_concurrency'; return null; }
      if (gate.blocked(cls.priority, settings)) { reason = 'pressure'; return null; }
      if (state.bucket !== null) {
        const wait = state.bucket.take(now);
        if (wait > 0) { rateReadyAt = now + wait; reason = 'class_rate'; return null; }
      }
      gate.inFlight += 1;
      state.inFlight += 1;
      this.metrics.flowInFlight.set({ metastore }, gate.inFlight);
      const waitedMs = now - started;
      let released = false;
      return {
        ok: true,
        waitedMs,
        release: (latencyMs) => {
          if (released) return;
          released = true;
          gate.inFlight -= 1;
          state.inFlight -= 1;
          this.metrics.flowInFlight.set({ metastore }, gate.inFlight);
          if (latencyMs !== null) gate.recordLatency(latencyMs);
          this.pump();
        },
      };
    };

    // Calls already waiting go first (unless this one outranks them).
    const queuedAhead = this.waiters.some((w) => RANK[w.priority] <= RANK[cls.priority]);
    const immediate = queuedAhead ? null : attempt();
    if (immediate !== null) {
      this.count(metastore, cls, 'admitted', 0);
      return immediate;
    }
    if (cls.maxWaitMs === 0) return this.refuse(metastore, cls, reason, 0);

    return new Promise<Admission>((resolve) => {
      const waiter: Waiter = {
        priority: cls.priority,
        since: started,
        tryAdmit: () => {
          const admission = attempt();
          if (admission === null) return false;
          clearTimeout(deadline);
          this.count(metastore, cls, 'waited', admission.waitedMs);
          resolve(admission);
          return true;
        },
      };
      const deadline = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(this.refuse(metastore, cls, reason, this.now() - started));
      }, cls.maxWaitMs);
      this.enqueue(waiter);
    });
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private enqueue(waiter: Waiter): void {
    // By priority, then by arrival: normal waiters are admitted before low ones.
    const at = this.waiters.findIndex((w) => RANK[w.priority] > RANK[waiter.priority]);
    if (at < 0) this.waiters.push(waiter);
    else this.waiters.splice(at, 0, waiter);
    this.timer ??= setInterval(() => this.pump(), RECHECK_MS);
  }

  /** Admits every waiter that may start now, in priority order. */
  private pump(): void {
    if (this.waiters.length === 0) {
      if (this.timer !== null) { clearInterval(this.timer); this.timer = null; }
      return;
    }
    this.waiters = this.waiters.filter((w) => !w.tryAdmit());
  }

  private refuse(metastore: string, cls: FlowClass, reason: ThrottleReason, waitedMs: number): Admission {
    this.metrics.flowThrottled.inc({ metastore, class: cls.name, reason });
    this.count(metastore, cls, 'throttled', waitedMs);
    return { ok: false, reason, waitedMs };
  }

  private count(metastore: string, cls: FlowClass, outcome: 'admitted' | 'waited' | 'throttled', waitedMs: number): void {
    this.metrics.flowAdmissions.inc({ metastore, class: cls.name, priority: cls.priority, outcome });
    if (outcome !== 'admitted') this.metrics.flowWait.observe({ class: cls.name, outcome }, waitedMs / 1000);
  }

  private gate(metastore: string): MetastoreGate {
    let gate = this.gates.get(metastore);
    if (gate === undefined) {
      gate = new MetastoreGate(this.now);
      this.gates.set(metastore, gate);
    }
    return gate;
  }

  /**
   * Per class name. A reload that changes a class's rate starts a new bucket; its calls in flight
   * keep counting against the class.
   */
  private classState(cls: FlowClass): ClassState {
    let state = this.classStates.get(cls.name);
    const rateKey = cls.ratePerSecond === null ? null : `${cls.ratePerSecond}/${cls.burst}`;
    if (state === undefined) {
      state = { inFlight: 0, bucket: null, rateKey: null };
      this.classStates.set(cls.name, state);
    }
    if (state.rateKey !== rateKey) {
      state.bucket = rateKey === null ? null : new TokenBucket(cls.ratePerSecond!, cls.burst, this.now());
      state.rateKey = rateKey;
    }
    return state;
  }
}
