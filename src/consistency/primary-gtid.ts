/**
 * The primary's executed GTID, read on demand and coalesced: a caller needs a read that started
 * after it arrived (so the read includes every commit it has seen). Callers that arrive while a
 * read is in flight share the next one; at most one query is in flight per primary.
 * A periodic probe (`probe()`) keeps the health and the last position fresh between reads.
 */
import type { GtidState } from './gtid';
import type { GtidServer } from './gtid-server';

export class PrimaryGtid {
  private inFlight: Promise<GtidState> | null = null;
  private next: Promise<GtidState> | null = null;
  /** The last value read, for lag metrics. */
  last: GtidState | null = null;
  /** When `last` was read (epoch ms). */
  lastReadAt: number | null = null;
  lastError: string | null = null;

  constructor(private readonly server: GtidServer, private readonly onQuery: () => void) {}

  /** True when the last read (a token read or a probe) failed: reads go to the primary until one succeeds. */
  get failing(): boolean {
    return this.lastError !== null;
  }

  current(): Promise<GtidState> {
    if (this.inFlight === null) return this.start(true);
    // The read in flight started before this caller arrived: it may miss a commit the caller saw.
    this.next ??= this.inFlight.then(() => undefined, () => undefined).then(() => {
      this.next = null;
      // A read started since the last one settled also started after these callers arrived.
      return this.inFlight ?? this.current();
    });
    return this.next;
  }

  /**
   * The periodic health read: skipped while another read is in flight (that one tells the same).
   * Not counted as a token query. Never rejects.
   */
  async probe(): Promise<void> {
    if (this.inFlight !== null) return;
    await this.start(false).catch(() => undefined);
  }

  private start(forToken: boolean): Promise<GtidState> {
    this.inFlight = this.read(forToken).finally(() => { this.inFlight = null; });
    return this.inFlight;
  }

  private async read(forToken: boolean): Promise<GtidState> {
    if (forToken) this.onQuery();
    try {
      const state = await this.server.executed('primary');
      this.last = state;
      this.lastReadAt = Date.now();
      this.lastError = null;
      return state;
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
  }
}
