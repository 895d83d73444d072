/**
 * Whether a replica is applying, from the router's own polls of it (pure: no clock, no MySQL).
 *
 * Each poll gives a sample: the replica's executed GTID (cached, monotonic), whether its SQL thread
 * runs (SHOW SLAVE STATUS, read by that poll anyway), and the primary's last known position. From
 * them: the replica is "stalled" once it has not been applying for `stallAfterMs` (its SQL thread
 * stopped, or it is behind the primary and its position has not moved); and, while it applies and
 * is behind, its recent apply rate. A replica with nothing to apply (it covers the primary's last
 * known position) is idle, never stalled. Reads use `catchUp` to decide, with no query, whether a
 * wait can succeed.
 *
 * The rate is only used when the replica has a backlog it cannot apply within one wait (behind at
 * two polls in a row, and the backlog at the last one needs more than `maxWaitMs` at that rate):
 * between polls under steady writes a replica is a transaction or two behind and applies far faster
 * than the writes arrive, so a rate measured then says little about its capacity, and a read waits
 * as before.
 */
import { covers, type GtidState } from './gtid';
import { transactionsBehind } from './lag';

export interface ApplySample {
  /** When the poll finished (epoch ms). */
  readonly at: number;
  /** The replica's executed position after the poll. */
  readonly executed: GtidState;
  /** From the replica's status; null when it does not say (not a replica, or the column is absent). */
  readonly sqlThreadRunning: boolean | null;
  /** The replica's last SQL thread error, or null. */
  readonly sqlThreadError: string | null;
  /** The primary's position as last read (by a token read or its probe), or null before the first. */
  readonly primary: GtidState | null;
}

export type ApplyState =
  | {
      readonly kind: 'applying';
      /** Transactions per ms while it was behind between the last two polls, or null when unknown. */
      readonly ratePerMs: number | null;
      /** What it was behind at the last poll, in transactions (0 when it covered the primary). */
      readonly backlog: number;
      /** Why it is not applying, when it is not (yet for less than stallAfterMs), else null. */
      readonly notApplying: string | null;
    }
  | { readonly kind: 'stalled'; readonly reason: string; readonly since: number };

export type CatchUp = 'in_time' | 'stalled' | 'too_far_behind';

export class ApplyProgress {
  private previous: ApplySample | null = null;
  /** Start of the current episode of not applying (first poll that showed it), or null. */
  private notApplyingSince: number | null = null;
  private current: ApplyState = { kind: 'applying', ratePerMs: null, backlog: 0, notApplying: null };
  private lastSample: ApplySample | null = null;
  /** The interval ending at the previous poll: behind at both ends and progressing. */
  private progressedWhileBehind = false;

  constructor(private readonly stallAfterMs: number, private readonly maxWaitMs: number) {}

  get state(): ApplyState {
    return this.current;
  }

  get stalled(): boolean {
    return this.current.kind === 'stalled';
  }

  /** The sample the state was computed from. */
  get sample(): ApplySample | null {
    return this.lastSample;
  }

  /** Takes one poll's sample; returns the new state. */
  observe(sample: ApplySample): ApplyState {
    const prev = this.previous;
    const behind = sample.primary !== null && !covers(sample.executed, sample.primary);
    const progressed = prev !== null && !covers(prev.executed, sample.executed);
    const threadStarted = prev !== null && prev.sqlThreadRunning === false && sample.sqlThreadRunning !== false;
    let why: string | null = null;
    if (sample.sqlThreadRunning === false) {
      why = `its SQL thread is not running${sample.sqlThreadError ? ` (last SQL error: ${sample.sqlThreadError})` : ''}`;
    } else if (behind && !progressed && !threadStarted && prev !== null) {
      // A thread that just started gets its chance: the episode restarts with it.
      why = 'it is behind the primary and its executed GTID has not advanced';
    }
    if (why === null) this.notApplyingSince = null;
    else this.notApplyingSince ??= sample.at;

    if (why !== null && sample.at - this.notApplyingSince! >= this.stallAfterMs) {
      this.current = { kind: 'stalled', reason: why, since: this.notApplyingSince! };
    } else {
      // A rate says what the replica can do only when it had work throughout (behind at both polls)
      // and was already applying before (the interval after a stop or a lock holds idle time).
      const rate = prev !== null && progressed && behind && this.progressedWhileBehind && sample.at > prev.at
        ? Number(transactionsBehind(prev.executed, sample.executed)) / (sample.at - prev.at)
        : null;
      const backlog = behind ? Number(transactionsBehind(sample.executed, sample.primary!)) : 0;
      this.current = { kind: 'applying', ratePerMs: rate, backlog, notApplying: why };
    }
    this.progressedWhileBehind = progressed && behind && prev !== null && prev.primary !== null && !covers(prev.executed, prev.primary);
    this.previous = sample;
    this.lastSample = sample;
    return this.current;
  }

  /**
   * Can the replica execute `token` within `maxWaitMs` from `now`? `stalled` while it is not
   * applying; `too_far_behind` when it is working off a backlog larger than one wait and, at the
   * rate it applied between its last polls, the token is further than the wait (what it has applied
   * since the last poll counted in); else `in_time` (also when the rate is unknown: then only a
   * wait can tell).
   */
  catchUp(executed: GtidState, token: GtidState, now: number): CatchUp {
    const state = this.current;
    if (state.kind === 'stalled') return 'stalled';
    const rate = state.ratePerMs;
    if (rate === null || rate <= 0 || this.lastSample === null || state.backlog / rate <= this.maxWaitMs) return 'in_time';
    const missing = Number(transactionsBehind(executed, token));
    const neededMs = missing / rate - Math.max(0, now - this.lastSample.at);
    return neededMs > this.maxWaitMs ? 'too_far_behind' : 'in_time';
  }
}
