/**
 * The GTID a session's reads must see. A token is read from the primary when a session needs it and
 * has none; a write drops the session's token, so the next read takes a fresh one, which includes
 * the write (its commit is in the primary's GTID once its reply came back). This is the design's
 * "read the primary's GTID after each write", done lazily: one primary read covers any number of
 * writes before the next read.
 *
 * client mode keys tokens by client address and set_ugi user, for engines that open a connection
 * per call; entries expire clientTtlMs after their last use.
 */
import type { GtidState } from './gtid';

export interface TokenHolder {
  token: GtidState | null;
  /** Bumped by every write; a token read that started before a write must not be stored after it. */
  generation: number;
}

export class ClientTokens {
  private readonly entries = new Map<string, { holder: TokenHolder; expires: number }>();
  private sweeps = 0;

  constructor(private readonly ttlMs: number) {}

  static key(remoteAddress: string, user: string | null): string {
    const ip = remoteAddress.replace(/:\d+$/, '');
    return `${ip}|${user ?? ''}`;
  }

  /** The shared holder of one client; created empty (so the next read takes a fresh token). */
  holder(key: string): TokenHolder {
    const now = Date.now();
    if (++this.sweeps % 1024 === 0) this.sweep(now);
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.expires > now) {
      entry.expires = now + this.ttlMs;
      return entry.holder;
    }
    const holder: TokenHolder = { token: null, generation: 0 };
    this.entries.set(key, { holder, expires: now + this.ttlMs });
    return holder;
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(now: number): void {
    for (const [key, entry] of this.entries) if (entry.expires <= now) this.entries.delete(key);
  }
}
