/**
 * One read of a metastore's notification log from one consistent snapshot of its primary MySQL, and
 * the GTID positions that bound it, per flavour. The SQL lives here; what the rows mean for the
 * feed's cursor (gaps, rewinds, the row limit) is decided by the pure `nextStep` below.
 *
 * MariaDB: the snapshot's own binlog position. START TRANSACTION WITH CONSISTENT SNAPSHOT takes the
 * InnoDB read view and the binlog position together, with commits held off in between (MariaDB's
 * commit ordering: a transaction is in the binlog and InnoDB in the same order, and the snapshot is
 * taken between two commits), and reports the position as Binlog_snapshot_file/position. Its GTID
 * position S = BINLOG_GTID_POS(file, pos) is exactly the set of transactions the snapshot sees: every
 * event row read committed at a GTID covered by S (upper bound), and every transaction covered by S
 * is visible, so all events up to S have been read (lower bound). changesUpTo = appliedUpTo = S.
 *
 * MySQL (not run against a real MySQL here: there is none on this machine): MySQL reports no
 * binlog position for a snapshot, so it is bracketed. L = @@GLOBAL.gtid_executed read before the
 * snapshot: MySQL adds a transaction's GTID to gtid_executed after its engine commit, so everything
 * in L is visible to the snapshot taken after it (a lower bound: appliedUpTo = L). U = gtid_executed
 * read after the rows: every row the snapshot shows committed before the snapshot, and its GTID
 * joined gtid_executed right after that engine commit, in the same commit stage, before U's read a
 * round trip later (an upper bound: changesUpTo = U). The window between an engine commit and its
 * GTID joining gtid_executed is what this relies on being shorter than that round trip; MariaDB
 * needs no such argument.
 */
import { gunzipSync } from 'node:zlib';
import type mysql from 'mysql2/promise';
import { GtidFlavor, GtidState, merge, parseGtid } from '../consistency/gtid';
import type { FeedEvent, FeedResetReason } from './feed-types';

/** What one snapshot held. */
export interface SnapshotRead {
  /** Date.now() just before the snapshot was taken. */
  readonly snapshotAt: number;
  /** MAX(EVENT_ID) in the snapshot; 0 when the log is empty. */
  readonly maxEventId: number;
  /** Events after the cursor, in EVENT_ID order, at most limit + 1 (empty on the first read). */
  readonly rows: readonly FeedEvent[];
  /** Upper bound of the rows' commit positions. */
  readonly changesUpTo: GtidState;
  /** Lower bound: every commit it covers is in the snapshot. */
  readonly readUpTo: GtidState;
}

/** A failure whose message is complete as is (it names the fix); the feed adds the server and schema. */
export class FeedSqlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeedSqlError';
  }
}

function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

type Rows = Array<Record<string, unknown>>;

async function q(conn: mysql.Connection, sql: string, values: unknown[], timeoutMs: number): Promise<Rows> {
  const [rows] = await conn.query({ sql, values, timeout: timeoutMs });
  return rows as Rows;
}

function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** A NOTIFICATION_LOG row as the feed tells it: names lower-cased, nothing else trimmed. */
export function toEvent(row: Record<string, unknown>): FeedEvent {
  const lower = (v: unknown) => text(v)?.toLowerCase() ?? null;
  const event: FeedEvent = {
    eventId: Number(row.EVENT_ID),
    type: text(row.EVENT_TYPE) ?? '',
    catalog: lower(row.CAT_NAME),
    db: lower(row.DB_NAME),
    table: lower(row.TBL_NAME),
  };
  const formerName = event.type === 'ALTER_TABLE' ? alteredTableBefore(text(row.MESSAGE), text(row.MESSAGE_FORMAT)) : null;
  return formerName === null ? event : { ...event, formerName };
}

/**
 * An ALTER_TABLE event names the table as it is after the change (a rename: the new name); its
 * message's top-level db and table are the names before (JSONAlterTableMessage, seen on Hive 3.1.3:
 * {"db":"d","table":"old_name",...} for TBL_NAME new_name). Formats: json-0.2 (Hive 3's default) and
 * gzip(json-2.0) (base64 of gzip, Hive 4's). Null when the message is absent or not understood: the
 * cache then drops every table's entries, which is safe.
 */
export function alteredTableBefore(message: string | null, format: string | null): { db: string; table: string } | null {
  if (message === null) return null;
  try {
    const json = format !== null && format.startsWith('gzip') ? gunzipSync(Buffer.from(message, 'base64')).toString('utf8') : message;
    const parsed = JSON.parse(json) as { db?: unknown; table?: unknown };
    if (typeof parsed.db !== 'string' || typeof parsed.table !== 'string' || parsed.db === '' || parsed.table === '') return null;
    return { db: parsed.db.toLowerCase(), table: parsed.table.toLowerCase() };
  } catch {
    return null;
  }
}

/** Which server `conn` reached: MySQL's server_uuid, MariaDB's server_id (it has no uuid). */
export async function serverIdentity(conn: mysql.Connection, flavor: GtidFlavor, timeoutMs: number): Promise<string> {
  const rows = await q(conn, flavor === 'mysql' ? 'SELECT @@server_uuid AS id' : 'SELECT @@server_id AS id', [], timeoutMs);
  return text(rows[0]?.id) ?? '?';
}

/** The flavour of the server behind `conn` (as src/consistency/gtid-server.ts tells it). */
export async function detectFlavor(conn: mysql.Connection, timeoutMs: number): Promise<GtidFlavor> {
  const rows = await q(conn, 'SELECT @@version AS v', [], timeoutMs);
  return /mariadb/i.test(text(rows[0]?.v) ?? '') ? 'mariadb' : 'mysql';
}

/** Once per connection: the snapshot must be a REPEATABLE READ one whatever the server's default. */
export async function prepareSession(conn: mysql.Connection, timeoutMs: number): Promise<void> {
  await q(conn, 'SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ', [], timeoutMs);
}

/**
 * Reads the log's newest EVENT_ID and, when `after` is not null, the events after it (at most
 * limit + 1), in one consistent snapshot with its GTID bounds. The transaction is committed; on
 * a failure the caller drops the connection anyway.
 */
export async function readSnapshot(conn: mysql.Connection, flavor: GtidFlavor, database: string,
  after: number | null, limit: number, timeoutMs: number, positions = new BinlogGtidPositions()): Promise<SnapshotRead> {
  const table = `${quoteIdent(database)}.NOTIFICATION_LOG`;
  let lower: GtidState | null = null;
  if (flavor === 'mysql') lower = await gtidExecuted(conn, timeoutMs);
  const snapshotAt = Date.now();
  await q(conn, 'START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY', [], timeoutMs);
  try {
    let snapshotPos: GtidState | null = null;
    if (flavor === 'mariadb') snapshotPos = await mariadbSnapshotPosition(conn, timeoutMs, positions);
    const maxRows = await q(conn, `SELECT MAX(EVENT_ID) AS m FROM ${table}`, [], timeoutMs);
    const maxEventId = Number(maxRows[0]?.m ?? 0);
    let rows: FeedEvent[] = [];
    if (after !== null && maxEventId > after) {
      const read = await q(conn,
        // The message only where the cache needs it (the former name of an altered table).
        `SELECT EVENT_ID, EVENT_TYPE, CAT_NAME, DB_NAME, TBL_NAME, MESSAGE_FORMAT, CASE WHEN EVENT_TYPE = 'ALTER_TABLE' THEN MESSAGE END AS MESSAGE FROM ${table} WHERE EVENT_ID > ? ORDER BY EVENT_ID LIMIT ?`,
        [after, limit + 1], timeoutMs);
      rows = read.map(toEvent);
    }
    const upper = flavor === 'mysql' ? await gtidExecuted(conn, timeoutMs) : snapshotPos;
    await q(conn, 'COMMIT', [], timeoutMs);
    // snapshotPos is set for MariaDB, lower for MySQL
    const readUpTo = (flavor === 'mysql' ? lower : snapshotPos) as GtidState;
    return { snapshotAt, maxEventId, rows, changesUpTo: upper as GtidState, readUpTo };
  } catch (err) {
    // No ROLLBACK: after a query timeout mysql2 keeps the timed-out query as the connection's
    // command, so a ROLLBACK queued behind it would never start (nor time out) and the poll would
    // never end. The caller destroys the connection; the server rolls the snapshot back with it.
    throw err;
  }
}

async function gtidExecuted(conn: mysql.Connection, timeoutMs: number): Promise<GtidState> {
  const rows = await q(conn, 'SELECT @@GLOBAL.gtid_executed AS g', [], timeoutMs);
  return parseGtid('mysql', text(rows[0]?.g) ?? '');
}

async function mariadbSnapshotPosition(conn: mysql.Connection, timeoutMs: number, positions: BinlogGtidPositions): Promise<GtidState> {
  const status = await q(conn, "SHOW STATUS LIKE 'binlog_snapshot_%'", [], timeoutMs);
  const value = (name: string) => text(status.find((r) => text(r.Variable_name)?.toLowerCase() === name)?.Value);
  const file = value('binlog_snapshot_file');
  const pos = value('binlog_snapshot_position');
  if (file === null || file === '' || pos === null) {
    throw new FeedSqlError('the server reports no Binlog_snapshot_file: is the binlog enabled (log_bin)? The feed needs it for GTID positions');
  }
  return positions.at(conn, file, Number(pos), timeoutMs);
}

/** Binlog events read per SHOW BINLOG EVENTS when the position is advanced from the last one. */
const EVENTS_PER_READ = 5000;
/** Beyond this many events since the last poll, one BINLOG_GTID_POS is cheaper than reading them. */
const MOST_EVENTS_TO_READ = 50_000;

/**
 * The GTID position at a binlog offset, MariaDB. BINLOG_GTID_POS(file, pos) reads the file from its
 * start on every call (40 ms at 214 MB on the stack, and binlog files grow to max_binlog_size, 1 GB
 * by default): once per poll, that is the primary's disk and the feed's lag. So after the first, the
 * position is carried forward: the GTID events between the last snapshot's offset and this one's
 * (SHOW BINLOG EVENTS from the last offset, which is an event boundary, like every snapshot offset)
 * are exactly the transactions committed in between, in commit order, and each moves its domain on.
 * The same offset again (no commits) costs nothing. A new file, or too many events, takes
 * BINLOG_GTID_POS once more.
 */
export class BinlogGtidPositions {
  private last: { readonly file: string; readonly pos: number; readonly gtid: GtidState } | null = null;
  /** False once SHOW BINLOG EVENTS was refused (it needs BINLOG MONITOR): every new offset then takes BINLOG_GTID_POS. */
  private mayReadEvents = true;

  /** Forget the last position (another server behind the connection). */
  reset(): void {
    this.last = null;
  }

  async at(conn: mysql.Connection, file: string, pos: number, timeoutMs: number): Promise<GtidState> {
    const last = this.last;
    let gtid: GtidState | null = null;
    if (last !== null && last.file === file && last.pos === pos) gtid = last.gtid;
    else if (last !== null && last.file === file && last.pos < pos && this.mayReadEvents) {
      try {
        gtid = await this.carriedForward(conn, last, pos, timeoutMs);
      } catch (err) {
        // ER_SPECIFIC_ACCESS_DENIED_ERROR: the feed's user lacks BINLOG MONITOR; slower, still exact.
        if ((err as { errno?: number }).errno !== 1227) throw err;
        this.mayReadEvents = false;
      }
    }
    if (gtid === null) gtid = await binlogGtidPos(conn, file, pos, timeoutMs);
    this.last = { file, pos, gtid };
    return gtid;
  }

  /** The last position moved on by the GTID events in [last.pos, pos); null when there are too many to read. */
  private async carriedForward(conn: mysql.Connection, last: { file: string; pos: number; gtid: GtidState }, pos: number, timeoutMs: number): Promise<GtidState | null> {
    let gtid = last.gtid;
    let from = last.pos;
    let read = 0;
    while (from < pos) {
      if (read >= MOST_EVENTS_TO_READ) return null;
      const rows = await q(conn, 'SHOW BINLOG EVENTS IN ? FROM ? LIMIT ?', [last.file, from, EVENTS_PER_READ], timeoutMs);
      if (rows.length === 0) break;
      for (const row of rows) {
        if (Number(row.Pos) >= pos) return gtid;
        if (text(row.Event_type) === 'Gtid') {
          const m = /GTID (\d+-\d+-\d+)/.exec(text(row.Info) ?? '');
          if (m === null) return null;
          gtid = merge(gtid, parseGtid('mariadb', m[1]!));
        }
      }
      read += rows.length;
      from = Number(rows[rows.length - 1]!.End_log_pos);
    }
    return gtid;
  }
}

async function binlogGtidPos(conn: mysql.Connection, file: string, pos: number, timeoutMs: number): Promise<GtidState> {
  const rows = await q(conn, 'SELECT BINLOG_GTID_POS(?, ?) AS g', [file, pos], timeoutMs);
  const g = text(rows[0]?.g);
  if (g === null) {
    throw new FeedSqlError(`BINLOG_GTID_POS('${file}', ${pos}) returned NULL: is the binlog enabled (log_bin) and the file still there?`);
  }
  return parseGtid('mariadb', g);
}

// ------------------------------------------------------------------ the cursor (pure)

/** What one read means for the feed: a reset first or not, the events to deliver, where to go on. */
export interface FeedStep {
  readonly reset: { readonly reason: FeedResetReason; readonly detail: string } | null;
  readonly events: readonly FeedEvent[];
  /** The last EVENT_ID delivered (or the restart point): the next read is after it. */
  readonly cursor: number;
  /** More events wait in the log than were delivered: appliedUpTo is null and the feed reads on at once. */
  readonly limited: boolean;
}

/**
 * Decides what a read means. `cursor` is the last EVENT_ID read, null before the first read.
 * - first read: reset 'started' at the log's newest EVENT_ID (the cache starts empty, older events are not needed);
 * - newest EVENT_ID below the cursor: reset 'rewound', restart at the newest;
 * - first row not cursor + 1: reset 'gap', go on from the rows read;
 * - at most `batchSize` events; a hole between two rows ends the batch before it (limited), so the
 *   next read reports that gap as its own.
 */
export function nextStep(cursor: number | null, read: Pick<SnapshotRead, 'maxEventId' | 'rows'>, batchSize: number): FeedStep {
  if (cursor === null) {
    return {
      reset: { reason: 'started', detail: `starting after EVENT_ID ${read.maxEventId}, the newest in the log` },
      events: [], cursor: read.maxEventId, limited: false,
    };
  }
  if (read.maxEventId < cursor) {
    return {
      reset: { reason: 'rewound', detail: `the log's newest EVENT_ID is ${read.maxEventId}, below ${cursor}, the last one read; restarting after ${read.maxEventId}` },
      events: [], cursor: read.maxEventId, limited: false,
    };
  }
  const rows = read.rows;
  let reset: FeedStep['reset'] = null;
  const first = rows[0];
  if (first !== undefined && first.eventId !== cursor + 1) {
    reset = {
      reason: 'gap',
      detail: `after EVENT_ID ${cursor} the log's next is ${first.eventId}: ${first.eventId - cursor - 1} event(s) from ${cursor + 1} to ${first.eventId - 1} are missing (cleaned or lost)`,
    };
  }
  let n = Math.min(rows.length, batchSize);
  for (let i = 1; i < n; i++) {
    if (rows[i]!.eventId !== rows[i - 1]!.eventId + 1) { n = i; break; }
  }
  const events = rows.slice(0, n);
  return { reset, events, cursor: events.at(-1)?.eventId ?? cursor, limited: n < rows.length };
}
