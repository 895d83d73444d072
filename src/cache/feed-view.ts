/**
 * What the cache knows of its change feed: how far it has read (the position and when), whether it
 * can vouch for that now, and the rule that decides whether a cached answer may be given.
 */
import { covers, formatGtid, type GtidState } from '../consistency/gtid';
import type { FeedBatch, FeedListener, FeedResetReason } from './feed-types';
import { eventObjects } from './dependencies';
import type { MetadataCache } from './metadata-cache';

/** Why a read the cache could serve is not answered from it (counted per reason). */
export type CacheBypass =
  | 'feed_starting'        // no complete read of the notification log yet
  | 'feed_failing'         // the last read of the log failed (until one succeeds)
  | 'feed_behind'          // the log holds more events than the last read took: reading on
  | 'feed_lagging'         // the last complete read began more than maxLagMs ago
  | 'token_ahead_of_feed'  // the caller's token is beyond what the feed has read and what the entry reflects
  | 'token_unavailable'    // the caller's token could not be had (primary's MySQL failing)
  | 'own_write_not_in_feed' // the caller wrote through this router after the feed's last complete read began
  | 'pinned_connection'    // the caller owns a metastore connection with its own settings (setMetaConf)
  | 'not_cacheable_request'; // the arguments lack what the answer's key needs

export interface FeedCounters {
  event(type: string): void;
  reset(reason: FeedResetReason): void;
  error(): void;
  invalidated(entries: number): void;
}

export class FeedView implements FeedListener {
  private state: 'starting' | 'ok' | 'behind' | 'failing' = 'starting';
  private applied: GtidState | null = null;
  private appliedAtMs: number | null = null;
  private errorText: string | null = null;

  constructor(private readonly cache: MetadataCache, private readonly counters: FeedCounters) {}

  onReset(reason: FeedResetReason, _detail: string): void {
    this.cache.reset(0);
    this.counters.reset(reason);
  }

  onBatch(batch: FeedBatch): void {
    for (const event of batch.events) {
      this.counters.event(event.type);
      const removed = this.cache.changed(eventObjects(event), event.eventId, batch.changesUpTo);
      if (removed > 0) this.counters.invalidated(removed);
    }
    const last = batch.events[batch.events.length - 1];
    if (last !== undefined) this.cache.advance(last.eventId);
    if (batch.appliedUpTo === null) {
      this.state = 'behind';
      return;
    }
    this.applied = batch.appliedUpTo;
    this.appliedAtMs = batch.snapshotAt;
    this.state = 'ok';
    this.errorText = null;
  }

  onError(err: Error): void {
    this.state = 'failing';
    this.errorText = err.message;
    this.counters.error();
  }

  /** The position answers may be given at, or why none may be now. */
  vouch(now: number, maxLagMs: number): { readonly position: GtidState; readonly at: number } | { readonly bypass: CacheBypass } {
    if (this.state === 'starting' || this.applied === null || this.appliedAtMs === null) return { bypass: 'feed_starting' };
    if (this.state === 'failing') return { bypass: 'feed_failing' };
    if (this.state === 'behind') return { bypass: 'feed_behind' };
    if (now - this.appliedAtMs > maxLagMs) return { bypass: 'feed_lagging' };
    return { position: this.applied, at: this.appliedAtMs };
  }

  /** Seconds since the snapshot of the last complete read (null before the first). */
  lagSeconds(now: number): number | null {
    return this.appliedAtMs === null ? null : Math.max(0, now - this.appliedAtMs) / 1000;
  }

  status(): { state: string; appliedUpTo: string | null; appliedAt: string | null; error: string | null } {
    return {
      state: this.state,
      appliedUpTo: this.applied === null ? null : formatGtid(this.applied),
      appliedAt: this.appliedAtMs === null ? null : new Date(this.appliedAtMs).toISOString(),
      error: this.errorText,
    };
  }
}

/** A token (null: the read needs none) is within what the feed vouches for. */
export function feedCovers(feedPosition: GtidState, token: GtidState | null): boolean {
  return token === null || (token.flavor === feedPosition.flavor && covers(feedPosition, token));
}

/** An entry read at `position` may answer a read that needs `token`. */
export function entryCovers(position: GtidState | null, token: GtidState | null): boolean {
  if (token === null) return true;
  return position !== null && position.flavor === token.flavor && covers(position, token);
}
