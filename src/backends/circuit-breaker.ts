/**
 * One endpoint's circuit breaker. Consecutive failures (connects, calls cut off, health probes)
 * open it: the endpoint is taken out of use while others can serve. After `openMs` it is half-open:
 * the next probe or call is a trial; success closes it, failure opens it again.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerSettings {
  readonly failureThreshold: number;
  readonly openMs: number;
}

export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | null = null;
  private lastReason: string | null = null;
  private changedAt: number;

  constructor(private readonly settings: BreakerSettings, private readonly now: () => number = Date.now,
    private readonly onChange: (state: BreakerState, reason: string | null) => void = () => {}) {
    this.changedAt = now();
  }

  get state(): BreakerState {
    if (this.openedAt === null) return 'closed';
    return this.now() - this.openedAt >= this.settings.openMs ? 'half-open' : 'open';
  }

  /** When the state last changed (ms since the epoch) and why the breaker opened. */
  describe(): { state: BreakerState; since: string; reason: string | null } {
    return { state: this.state, since: new Date(this.changedAt).toISOString(), reason: this.openedAt === null ? null : this.lastReason };
  }

  success(): void {
    this.failures = 0;
    if (this.openedAt !== null) {
      this.openedAt = null;
      this.changedAt = this.now();
      this.onChange('closed', null);
    }
  }

  failure(reason: string): void {
    this.failures += 1;
    this.lastReason = reason;
    const wasHalfOpen = this.state === 'half-open';
    if (wasHalfOpen || (this.openedAt === null && this.failures >= this.settings.failureThreshold)) {
      this.openedAt = this.now();
      this.changedAt = this.openedAt;
      this.onChange('open', reason);
    }
  }
}
