/**
 * The primary's executed GTID, read on demand and coalesced: a caller needs a read that started
 * after it arrived (so the read includes every commit it has seen). Callers that arrive while a
 * read is in flight share the next one; at most one query is in flight per primary.
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

  current(): Promise<GtidState> {
    if (this.inFlight === null) {
      this.inFlight = this.read().finally(() => { this.inFlight = null; });
      return this.inFlight;
    }
    // The read in flight started before this caller arrived: it may miss a commit the caller saw.
    this.next ??= this.inFlight.then(() => undefined, () => undefined).then(() => {
      this.next = null;
      // A read started since the last one settled also started after these callers arrived.
      return this.inFlight ?? this.current();
    });
    return this.next;
  }

  private async read(): Promise<GtidState> {
    this.onQuery();
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
