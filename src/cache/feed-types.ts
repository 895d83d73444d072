/**
 * What a metastore's change feed tells the metadata cache (src/cache/): every change to metastore
 * objects, read from the metastore's notification log, and the primary's GTID position the changes
 * it has read so far are bounded by.
 */
import type { GtidState } from '../consistency/gtid';

/** One row of the metastore's NOTIFICATION_LOG (names as the metastore wrote them, lower-cased). */
export interface FeedEvent {
  /** NOTIFICATION_LOG.EVENT_ID: assigned in commit order (NOTIFICATION_SEQUENCE is locked by each writer). */
  readonly eventId: number;
  /** EVENT_TYPE, e.g. CREATE_TABLE, ALTER_PARTITION, ADD_PARTITION, DROP_DATABASE. */
  readonly type: string;
  readonly catalog: string | null;
  readonly db: string | null;
  readonly table: string | null;
  /**
   * ALTER_TABLE only: the table's database and name before the change, when the event's message says
   * (a rename's event names the table after it).
   */
  readonly formerName?: { readonly db: string; readonly table: string };
}

/** The events one poll read from one consistent snapshot of the primary's metastore schema. */
export interface FeedBatch {
  readonly events: readonly FeedEvent[];
  /**
   * Every event in `events` committed at a GTID covered by this (an upper bound of their positions):
   * a reply read at a position covering it reflects them.
   */
  readonly changesUpTo: GtidState;
  /**
   * When the batch holds every event of its snapshot: the position every change up to which the feed
   * has now read (a lower bound: all commits it covers are in the log read so far). Null when the poll
   * stopped at its row limit (more events wait in the same snapshot; the feed reads on at once).
   */
  readonly appliedUpTo: GtidState | null;
  /** Date.now() just before the snapshot was taken: the answer of an applied batch is current as of then. */
  readonly snapshotAt: number;
}

/** Why the feed cannot vouch for what it told before: the cache must forget everything. */
export type FeedResetReason =
  | 'started'   // the first poll of this process (nothing was known before)
  | 'gap'       // the next EVENT_ID is not the one after the last read (events were cleaned or lost)
  | 'rewound'   // the log's newest EVENT_ID is below the last one read (a restored or replaced schema)
  | 'server_changed'; // a new connection reached another server (failover): its ids may mean other events

export interface FeedListener {
  /** Called before the first batch and whenever events may have been missed. */
  onReset(reason: FeedResetReason, detail: string): void;
  /** Called for each poll, in order; `events` may be empty (the position still advances). */
  onBatch(batch: FeedBatch): void;
  /** A poll failed (MySQL unreachable, query timeout, no NOTIFICATION_LOG, no privilege); the feed retries. */
  onError(err: Error): void;
}

/** What the admin API and status page show of a feed. */
export interface FeedStatus {
  readonly mysql: string;
  readonly database: string;
  readonly state: 'starting' | 'ok' | 'behind' | 'failing';
  readonly lastEventId: number | null;
  readonly appliedUpTo: string | null;
  /** ISO time of the last applied batch's snapshot. */
  readonly appliedAt: string | null;
  readonly error: string | null;
}
