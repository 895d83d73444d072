/**
 * A metastore's change feed: polls its notification log (NOTIFICATION_LOG, written by
 * DbNotificationListener as a transactional listener, so each event commits with its change) on the
 * primary MySQL, and tells a FeedListener every event with the GTID positions bounding them (see
 * feed-snapshot.ts for the SQL and the reasoning per flavour, and docs/ARCHITECTURE.md "Change
 * feed").
 *
 * One dedicated mysql2 connection, opened on demand and dropped after any failure (its transaction
 * state is then unknown); the next poll opens a new one. Polls run one at a time: the next is
 * scheduled when the last ends, at once when it stopped at its row limit, after pollIntervalMs when
 * caught up, and after a growing backoff (at most 1 s, never under pollIntervalMs) while failing.
 * Nothing here throws out of the loop: failures go to onError, and a listener that throws is logged.
 */
import mysql from 'mysql2/promise';
import type { Logger } from 'pino';
import type { MysqlConfig } from '../config/schema';
import { GtidFlavor, formatGtid } from '../consistency/gtid';
import type { FeedBatch, FeedListener, FeedResetReason, FeedStatus } from './feed-types';
import { BinlogGtidPositions, FeedSqlError, detectFlavor, nextStep, prepareSession, readSnapshot, serverIdentity } from './feed-snapshot';

export interface ChangeFeedOptions {
  /** The metastore's name in the config: in logs and errors. */
  readonly metastore: string;
  readonly mysql: MysqlConfig;
  /** The metastore's schema on that server. */
  readonly database: string;
  readonly pollIntervalMs: number;
  readonly batchSize: number;
  readonly queryTimeoutMs: number;
  readonly log: Logger;
}

/** Longest wait between two attempts while failing. */
const MAX_BACKOFF_MS = 1000;
const FIRST_BACKOFF_MS = 50;

/** The wait before the next poll after `failures` failed polls in a row (0: the last succeeded). */
export function retryDelay(pollIntervalMs: number, failures: number): number {
  if (failures === 0) return pollIntervalMs;
  const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(failures, 10));
  return Math.max(pollIntervalMs, backoff);
}

interface OpenConnection {
  readonly conn: mysql.Connection;
  readonly flavor: GtidFlavor;
}

export class ChangeFeed {
  readonly address: string;
  private connection: OpenConnection | null = null;
  /** The connection being opened: stop() destroys it too. */
  private opening: mysql.Connection | null = null;
  private cursor: number | null = null;
  /** MariaDB: the snapshot's GTID position carried forward from poll to poll. */
  private readonly positions = new BinlogGtidPositions();
  /** The server the last connection reached (@@server_id, MySQL: @@server_uuid). */
  private server: string | null = null;
  /** Set when a new connection reached another server: the next read starts over with this reason. */
  private serverChanged: string | null = null;
  private failures = 0;
  private state: FeedStatus['state'] = 'starting';
  private appliedUpTo: string | null = null;
  private appliedAt: string | null = null;
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private started = false;
  private stopped = false;

  constructor(private readonly options: ChangeFeedOptions, private readonly listener: FeedListener) {
    this.address = `${options.mysql.host}:${options.mysql.port}`;
  }

  /** Starts polling; resolves once the first poll has ended, whether it succeeded or not. */
  async start(): Promise<void> {
    if (this.started) throw new Error(`change feed of ${this.options.metastore} was already started`);
    this.started = true;
    await this.runPoll();
  }

  /** Stops polling: no timer left, the MySQL connection closed, a poll in flight awaited. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    // Destroyed rather than ended: a query in flight fails at once instead of running to its timeout.
    this.opening?.destroy();
    this.connection?.conn.destroy();
    this.connection = null;
    // A query in flight ends by its own timeout at the latest; never wait longer than that for it.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([this.inFlight, new Promise<void>((resolve) => { bound = setTimeout(resolve, this.options.queryTimeoutMs + 1000); })]);
    clearTimeout(bound);
  }

  status(): FeedStatus {
    return {
      mysql: this.address, database: this.options.database, state: this.state,
      lastEventId: this.cursor, appliedUpTo: this.appliedUpTo, appliedAt: this.appliedAt, error: this.lastError,
    };
  }

  private runPoll(): Promise<void> {
    const poll = this.pollOnce().then((delay) => {
      this.inFlight = null;
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.runPoll();
      }, delay);
    });
    this.inFlight = poll;
    return poll;
  }

  /** One poll; resolves with the wait before the next. Never rejects. */
  private async pollOnce(): Promise<number> {
    const o = this.options;
    try {
      const { conn, flavor } = await this.connect();
      const read = await readSnapshot(conn, flavor, o.database, this.cursor, o.batchSize, o.queryTimeoutMs, this.positions);
      if (this.stopped) return 0;
      const step = nextStep(this.cursor, read, o.batchSize);
      if (step.reset !== null) {
        // A different server behind the address (a failover, a restored primary): its log may hold
        // other events under the same ids, so nothing read before counts.
        const reset = this.serverChanged === null ? step.reset : { reason: 'server_changed' as const, detail: `${this.serverChanged}; ${step.reset.detail}` };
        this.serverChanged = null;
        this.tell('onReset', () => this.listener.onReset(reset.reason, reset.detail), reset.reason);
      }
      this.cursor = step.cursor;
      const batch: FeedBatch = {
        events: step.events, changesUpTo: read.changesUpTo,
        appliedUpTo: step.limited ? null : read.readUpTo, snapshotAt: read.snapshotAt,
      };
      this.failures = 0;
      this.lastError = null;
      this.state = step.limited ? 'behind' : 'ok';
      if (batch.appliedUpTo !== null) {
        this.appliedUpTo = formatGtid(batch.appliedUpTo);
        this.appliedAt = new Date(batch.snapshotAt).toISOString();
      }
      this.tell('onBatch', () => this.listener.onBatch(batch));
      return step.limited ? 0 : o.pollIntervalMs;
    } catch (err) {
      this.dropConnection();
      if (this.stopped) return 0;
      this.failures += 1;
      const error = this.describe(err);
      this.state = 'failing';
      this.lastError = error.message;
      if (this.failures === 1) o.log.warn({ metastore: o.metastore, mysql: this.address, err: error.message }, 'change feed: poll failed');
      this.tell('onError', () => this.listener.onError(error));
      return retryDelay(o.pollIntervalMs, this.failures);
    }
  }

  private async connect(): Promise<OpenConnection> {
    if (this.connection !== null) return this.connection;
    const o = this.options;
    const conn = await mysql.createConnection({
      host: o.mysql.host, port: o.mysql.port, user: o.mysql.user, password: o.mysql.password,
      connectTimeout: Math.max(1000, o.queryTimeoutMs), enableKeepAlive: true,
      // EVENT_ID is a BIGINT: numbers beyond 2^53 come as strings rather than rounded
      supportBigNumbers: true,
    });
    this.opening = conn;
    // A broken connection is reported by the query that hits it.
    conn.on('error', () => undefined);
    try {
      if (this.stopped) throw new Error('stopped');
      const flavor = await detectFlavor(conn, o.queryTimeoutMs);
      const server = await serverIdentity(conn, flavor, o.queryTimeoutMs);
      if (this.server !== null && server !== this.server) this.positions.reset();
      if (this.server !== null && server !== this.server && this.cursor !== null) {
        this.serverChanged = `${this.address} is now server ${server}, was ${this.server}`;
        this.cursor = null;
      }
      this.server = server;
      await prepareSession(conn, o.queryTimeoutMs);
      if (this.stopped) throw new Error('stopped');
      this.connection = { conn, flavor };
      return this.connection;
    } catch (err) {
      conn.destroy();
      throw err;
    } finally {
      this.opening = null;
    }
  }

  private dropConnection(): void {
    this.connection?.conn.destroy();
    this.connection = null;
  }

  /** The error as the listener and the status show it: the server, the schema, what to do. */
  private describe(err: unknown): Error {
    const o = this.options;
    const e = err as { code?: string; errno?: number; sqlMessage?: string; message?: string };
    const where = `change feed of metastore ${o.metastore}: MySQL ${this.address}, schema ${o.database}`;
    const schema = o.database;
    let what: string;
    if (err instanceof FeedSqlError) what = err.message;
    else if (e.code === 'ER_NO_SUCH_TABLE') {
      what = `no NOTIFICATION_LOG in schema ${schema}: is it the metastore's schema, and is the metastore configured with `
        + 'DbNotificationListener as a transactional listener (metastore.transactional.event.listeners)?';
    } else if (e.code === 'ER_BAD_DB_ERROR') {
      what = `schema ${schema} does not exist: set cache.feed.database to the metastore's schema`;
    } else if (e.code === 'ER_TABLEACCESS_DENIED_ERROR' || e.code === 'ER_DBACCESS_DENIED_ERROR' || e.code === 'ER_COLUMNACCESS_DENIED_ERROR') {
      what = `SELECT denied (${e.sqlMessage ?? e.message}): grant SELECT on ${schema}.* to the feed's user ${o.mysql.user}`;
    } else if (e.code === 'ER_ACCESS_DENIED_ERROR') {
      what = `login refused for ${o.mysql.user} (${e.sqlMessage ?? e.message}): check the feed's user and password`;
    } else if (e.code === 'PROTOCOL_SEQUENCE_TIMEOUT') {
      what = `a feed query took longer than queryTimeoutMs (${o.queryTimeoutMs} ms)`;
    } else if (e.code === 'ECONNREFUSED' || e.code === 'ETIMEDOUT' || e.code === 'EHOSTUNREACH' || e.code === 'ENOTFOUND') {
      what = `cannot connect (${e.code}): is the server up and cache.feed.mysql right?`;
    } else {
      what = e.message ?? String(err);
    }
    return new Error(`${where}: ${what}`);
  }

  /** Calls the listener; a listener that throws is logged, never let into the poll loop. */
  private tell(what: 'onReset' | 'onBatch' | 'onError', call: () => void, reason?: FeedResetReason): void {
    try {
      call();
    } catch (err) {
      this.options.log.error({ metastore: this.options.metastore, reason, err: (err as Error).message }, `change feed: the listener's ${what} threw`);
    }
  }
}
