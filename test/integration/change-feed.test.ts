/**
 * The change feed on the real stack: changes made straight on the rw metastore (no router between)
 * reach the feed as NOTIFICATION_LOG events with GTID positions of the MariaDB primary that bound
 * them; a killed MySQL connection loses nothing; gaps, rewinds and a missing table or grant are
 * reported. Gaps and rewinds are made in scratch schemas with a NOTIFICATION_LOG of the metastore's
 * columns, written as root, so the metastore's own log is never touched.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { status } from '../../stack/stack';
import { runAsRoot } from '../../stack/mariadb';
import mysql from 'mysql2/promise';
import { ChangeFeed, ChangeFeedOptions } from '../../src/cache/change-feed';
import { BinlogGtidPositions } from '../../src/cache/feed-snapshot';
import type { FeedBatch, FeedEvent, FeedResetReason } from '../../src/cache/feed-types';
import { GtidState, covers, formatGtid, parseGtid } from '../../src/consistency/gtid';
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { TType } from '../../src/thrift/protocol';
import { HmsTestClient, args } from '../support/hms-test-client';
import { CuttingRelay } from '../support/cutting-relay';
import { TableSpec, addPartitionsArgs, alterPartitionArgs, alterTableArgs, createTableArgs, dbTableArgs } from '../support/hms-objects';

const stack = status();
const primaryPort = stack.mysql.primary.port;
const metastoreSchema = stack.mysql.primary.database;
const log = pino({ level: 'silent' });

class Recorder {
  readonly resets: Array<{ reason: FeedResetReason; detail: string }> = [];
  readonly batches: FeedBatch[] = [];
  readonly errors: Error[] = [];
  readonly listener = {
    onReset: (reason: FeedResetReason, detail: string) => { this.resets.push({ reason, detail }); },
    onBatch: (batch: FeedBatch) => { this.batches.push(batch); },
    onError: (err: Error) => { this.errors.push(err); },
  };

  get events(): FeedEvent[] {
    return this.batches.flatMap((b) => b.events);
  }

  async until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; resets ${JSON.stringify(this.resets)}, errors ${this.errors.map((e) => e.message).join(' | ')}, `
          + `events ${JSON.stringify(this.events.slice(-10))}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** The first batch whose appliedUpTo covers `gtid`. */
  appliedCovering(gtid: GtidState): Promise<FeedBatch> {
    return this.until(`a batch applied up to ${formatGtid(gtid)}`,
      () => this.batches.find((b) => b.appliedUpTo !== null && covers(b.appliedUpTo, gtid)));
  }
}

const feeds: ChangeFeed[] = [];
async function startFeed(overrides: Partial<ChangeFeedOptions> = {}): Promise<{ feed: ChangeFeed; rec: Recorder }> {
  const rec = new Recorder();
  const feed = new ChangeFeed({
    metastore: 'rw', database: metastoreSchema, pollIntervalMs: 50, batchSize: 1000, queryTimeoutMs: 2000, log,
    mysql: { host: '127.0.0.1', port: primaryPort, user: stack.routerMysqlUser.user, password: stack.routerMysqlUser.password },
    ...overrides,
  }, rec.listener);
  feeds.push(feed);
  await feed.start();
  return { feed, rec };
}

afterEach(async () => {
  await Promise.all(feeds.splice(0).map((f) => f.stop()));
});

async function primaryGtid(): Promise<GtidState> {
  const [rows] = (await runAsRoot(primaryPort, 'SELECT @@GLOBAL.gtid_binlog_pos AS g')) as [[{ g: string }]];
  return parseGtid('mariadb', rows[0].g);
}

const createdDbs: string[] = [];
const scratchSchemas: string[] = [];
const tag = `${Date.now()}`;

afterAll(async () => {
  const c = await HmsTestClient.connect(stack.metastores.rw.port);
  for (const name of createdDbs) await c.call('drop_database', args.dropDatabase(name));
  c.close();
  for (const s of scratchSchemas) {
    await runAsRoot(primaryPort, `DROP DATABASE IF EXISTS \`${s}\``);
    // a db-level grant outlives its database
    await runAsRoot(primaryPort, `REVOKE SELECT ON \`${s}\`.* FROM '${stack.routerMysqlUser.user}'@'127.0.0.1'`).catch(() => undefined);
  }
  await runAsRoot(primaryPort, "DROP USER IF EXISTS 'feed_kill_test'@'127.0.0.1'");
});

// ------------------------------------------------------------------ thrift arguments not in test/support

const COLUMNS: ReadonlyArray<[string, string]> = [['id', 'bigint'], ['name', 'string']];

const dropPartitionArgs = (spec: TableSpec, values: readonly string[]) => (w: BinaryWriter) => {
  w.fieldBegin(TType.STRING, 1).string(spec.db).fieldBegin(TType.STRING, 2).string(spec.table)
    .fieldBegin(TType.LIST, 3).listBegin(TType.STRING, values.length);
  for (const v of values) w.string(v);
  w.fieldBegin(TType.BOOL, 4).bool(true);
};
const dropTableArgs = (db: string, table: string) => (w: BinaryWriter) => {
  dbTableArgs(db, table)(w);
  w.fieldBegin(TType.BOOL, 3).bool(true);
};

// ------------------------------------------------------------------ scratch schemas

const LOG_COLUMNS = 'EVENT_ID BIGINT NOT NULL PRIMARY KEY, EVENT_TIME INT NOT NULL, EVENT_TYPE VARCHAR(32) NOT NULL, '
  + 'CAT_NAME VARCHAR(256), DB_NAME VARCHAR(128), TBL_NAME VARCHAR(256), MESSAGE LONGTEXT, MESSAGE_FORMAT VARCHAR(16)';

/** A scratch schema the router's user may read; with a NOTIFICATION_LOG of the metastore's columns unless told. */
async function scratchSchema(name: string, opts: { table?: boolean; grant?: boolean } = {}): Promise<string> {
  const schema = `feed_scratch_${name}_${tag}`;
  scratchSchemas.push(schema);
  const sql = [`CREATE DATABASE \`${schema}\``];
  if (opts.table ?? true) sql.push(`CREATE TABLE \`${schema}\`.NOTIFICATION_LOG (${LOG_COLUMNS}) ENGINE=InnoDB`);
  if (opts.grant ?? true) sql.push(`GRANT SELECT ON \`${schema}\`.* TO '${stack.routerMysqlUser.user}'@'127.0.0.1'`);
  await runAsRoot(primaryPort, sql);
  return schema;
}

async function insertEvents(schema: string, ids: number[], table = 't'): Promise<void> {
  if (ids.length === 0) return;
  const values = ids.map((id) => `(${id}, UNIX_TIMESTAMP(), 'ALTER_TABLE', 'hive', 'Scratch_DB', '${table}', '{}', 'json-0.2')`).join(', ');
  await runAsRoot(primaryPort, `INSERT INTO \`${schema}\`.NOTIFICATION_LOG VALUES ${values}`);
}

// ------------------------------------------------------------------ tests

describe('events of the rw metastore', () => {
  it('every change made straight on the metastore arrives with its type, db and table, bounded by the primary GTID', async () => {
    const { rec } = await startFeed();
    expect(rec.resets.map((r) => r.reason)).toEqual(['started']);
    expect(rec.batches.length).toBe(1);
    expect(rec.batches[0]!.appliedUpTo).not.toBeNull();

    const c = await HmsTestClient.connect(stack.metastores.rw.port);
    const db = `feed_${tag}`;
    createdDbs.push(db);
    const spec: TableSpec = { db, table: 'Events', location: `${stack.warehouse}/${db}.db/events`, columns: COLUMNS, partitionKeys: [['day', 'string']] };
    const other: TableSpec = { ...spec, table: 'other', location: `${stack.warehouse}/${db}.db/other`, partitionKeys: [] };
    const seen: Array<{ call: string; types: string[]; tables: Array<string | null> }> = [];

    /** Makes one change, then checks the feed told it, within positions that bound it. */
    async function change(call: string, method: string, writeArgs: (w: BinaryWriter) => void): Promise<FeedEvent[]> {
      const before = rec.events.length;
      const gtidBefore = await primaryGtid();
      await c.success(method, writeArgs);
      const gtidAfter = await primaryGtid();
      // Lower bound: once a batch is applied up to the position read after the reply, the change's events are in.
      const applied = await rec.appliedCovering(gtidAfter);
      const events = rec.events.slice(before);
      expect(events.length, `${call} made no event`).toBeGreaterThan(0);
      for (const e of events) {
        const batch = rec.batches.find((b) => b.events.includes(e))!;
        expect(rec.batches.indexOf(batch)).toBeLessThanOrEqual(rec.batches.indexOf(applied));
        // Upper bound: the batch's changesUpTo is past the state before the call and covers the state after it.
        expect(covers(gtidBefore, batch.changesUpTo)).toBe(false);
        expect(covers(batch.changesUpTo, gtidAfter), `${call}: changesUpTo ${formatGtid(batch.changesUpTo)} vs ${formatGtid(gtidAfter)}`).toBe(true);
        expect(e.db).toBe(db);
        expect(e.catalog).toBe('hive');
      }
      seen.push({ call, types: events.map((e) => e.type), tables: events.map((e) => e.table) });
      return events;
    }

    expect((await change('create_database', 'create_database', args.createDatabase(db, `${stack.warehouse}/${db}.db`))).map((e) => [e.type, e.table]))
      .toEqual([['CREATE_DATABASE', null]]);
    expect((await change('create_table', 'create_table', createTableArgs(spec))).map((e) => [e.type, e.table]))
      .toEqual([['CREATE_TABLE', 'events']]);
    expect((await change('add_partitions', 'add_partitions', addPartitionsArgs(spec, [['2026-01-01'], ['2026-01-02']]))).map((e) => [e.type, e.table]))
      .toEqual([['ADD_PARTITION', 'events']]);
    // A plain alter tells its own name as the former one.
    expect((await change('alter_table', 'alter_table', alterTableArgs({ ...spec, parameters: { feed: '1' } }))).map((e) => [e.type, e.table, e.formerName]))
      .toEqual([['ALTER_TABLE', 'events', { db, table: 'events' }]]);
    expect((await change('alter_partition', 'alter_partition', alterPartitionArgs(spec, ['2026-01-01'], { feed: '1' }))).map((e) => [e.type, e.table]))
      .toEqual([['ALTER_PARTITION', 'events']]);
    expect((await change('drop_partition', 'drop_partition', dropPartitionArgs(spec, ['2026-01-02']))).map((e) => [e.type, e.table]))
      .toEqual([['DROP_PARTITION', 'events']]);
    expect((await change('drop_table', 'drop_table', dropTableArgs(db, 'events'))).map((e) => [e.type, e.table]))
      .toEqual([['DROP_TABLE', 'events']]);
    await change('create_table (other)', 'create_table', createTableArgs(other));
    // A rename: the event names the new table, and tells the old name (the cache must drop its entries).
    const renamed = await change('alter_table (rename)', 'alter_table', (w) => {
      w.fieldBegin(TType.STRING, 1).string(db).fieldBegin(TType.STRING, 2).string('other');
      const table = new BinaryWriter();
      createTableArgs({ ...other, table: 'Renamed' })(table);
      const bytes = table.finish();
      bytes.writeInt16BE(3, 1); // create_table's Table is argument 1; alter_table's is 3
      w.raw(bytes);
    });
    expect(renamed.map((e) => [e.type, e.table, e.formerName])).toEqual([['ALTER_TABLE', 'renamed', { db, table: 'other' }]]);
    const cascade = await change('drop_database cascade', 'drop_database', args.dropDatabase(db));
    process.stderr.write(`change feed: events per call on Hive ${stack.hiveVersion}: ${JSON.stringify(seen)}\n`);
    // DROP DATABASE CASCADE: the metastore drops each table (its own DROP_TABLE event) before the database.
    expect(cascade.map((e) => [e.type, e.table])).toEqual([['DROP_TABLE', 'renamed'], ['DROP_DATABASE', null]]);
    c.close();

    // One consecutive run of EVENT_IDs, no reset but the first.
    const ids = rec.events.map((e) => e.eventId);
    expect(ids).toEqual(ids.map((_, i) => ids[0]! + i));
    expect(rec.resets.length).toBe(1);
    expect(rec.errors).toEqual([]);
  });

  it('appliedUpTo advances with no events, and status shows it', async () => {
    const { feed, rec } = await startFeed();
    const schema = await scratchSchema('noevents');
    await runAsRoot(primaryPort, [`CREATE TABLE \`${schema}\`.other (x INT) ENGINE=InnoDB`, `INSERT INTO \`${schema}\`.other VALUES (1)`]);
    const gtid = await primaryGtid();
    const batch = await rec.appliedCovering(gtid);
    expect(batch.events).toEqual([]);
    const s = feed.status();
    expect(s.state).toBe('ok');
    expect(s.error).toBeNull();
    expect(s.mysql).toBe(`127.0.0.1:${primaryPort}`);
    expect(covers(parseGtid('mariadb', s.appliedUpTo!), gtid)).toBe(true);
    expect(Date.parse(s.appliedAt!)).toBeGreaterThan(Date.now() - 10_000);
  });

  it('a killed MySQL connection is reported, and the feed resumes with no event lost and no reset', async () => {
    const user = 'feed_kill_test';
    await runAsRoot(primaryPort, [
      `CREATE USER IF NOT EXISTS '${user}'@'127.0.0.1' IDENTIFIED BY '${user}'`,
      `GRANT SELECT ON \`${metastoreSchema}\`.* TO '${user}'@'127.0.0.1'`,
    ]);
    const { rec } = await startFeed({ mysql: { host: '127.0.0.1', port: primaryPort, user, password: user } });
    const c = await HmsTestClient.connect(stack.metastores.rw.port);
    const dbs = [`feed_kill_a_${tag}`, `feed_kill_b_${tag}`];
    createdDbs.push(...dbs);
    await c.success('create_database', args.createDatabase(dbs[0]!, `${stack.warehouse}/${dbs[0]}.db`));
    await rec.appliedCovering(await primaryGtid());

    const [ids] = (await runAsRoot(primaryPort, `SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '${user}'`)) as [Array<{ ID: number }>];
    expect(ids.length).toBe(1);
    await runAsRoot(primaryPort, `KILL ${ids[0]!.ID}`);
    await c.success('create_database', args.createDatabase(dbs[1]!, `${stack.warehouse}/${dbs[1]}.db`));
    await rec.until('an error', () => rec.errors.length > 0);
    expect(rec.errors[0]!.message).toContain(`127.0.0.1:${primaryPort}`);
    await rec.appliedCovering(await primaryGtid());
    c.close();

    expect(rec.resets.map((r) => r.reason)).toEqual(['started']);
    const created = rec.events.filter((e) => e.type === 'CREATE_DATABASE').map((e) => e.db);
    expect(created).toEqual(dbs);
    const eventIds = rec.events.map((e) => e.eventId);
    expect(eventIds).toEqual(eventIds.map((_, i) => eventIds[0]! + i));
  });

  it('another server behind the address (a failover): the feed starts over with a server_changed reset and reads that server\'s log', async () => {
    // The relay plays the address a failover moves: first the primary, then another MariaDB (the
    // federated one, which holds a metastore schema of the same name with a log of its own).
    let relay = await CuttingRelay.start(primaryPort);
    const port = relay.port;
    try {
      const { rec } = await startFeed({ mysql: { host: '127.0.0.1', port, user: stack.routerMysqlUser.user, password: stack.routerMysqlUser.password } });
      await rec.until('a first applied batch', () => rec.batches.find((b) => b.appliedUpTo !== null));
      await relay.close();
      relay = await CuttingRelay.start(stack.mysql.federated.port, port);
      const reset = await rec.until('a server_changed reset', () => rec.resets.find((r) => r.reason === 'server_changed'));
      expect(reset.detail).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} is now server \\d+, was \\d+`));
      // From then on the events are the new server's.
      const c = await HmsTestClient.connect(stack.metastores.fed.port);
      const db = `feed_failover_${tag}`;
      await c.success('create_database', args.createDatabase(db, `${stack.warehouse}/${db}.db`));
      await rec.until('the new server\'s event', () => rec.events.find((e) => e.db === db && e.type === 'CREATE_DATABASE'));
      await c.call('drop_database', args.dropDatabase(db));
      c.close();
    } finally {
      await relay.close();
    }
  });

  it('the GTID position carried forward from poll to poll is the one BINLOG_GTID_POS computes', async () => {
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: primaryPort, user: stack.routerMysqlUser.user, password: stack.routerMysqlUser.password });
    const c = await HmsTestClient.connect(stack.metastores.rw.port);
    const db = `feed_positions_${tag}`;
    createdDbs.push(db);
    try {
      const positions = new BinlogGtidPositions();
      const masterStatus = async () => {
        const [rows] = await conn.query('SHOW MASTER STATUS') as [Array<{ File: string; Position: number }>, unknown];
        return { file: rows[0]!.File, pos: Number(rows[0]!.Position) };
      };
      const exact = async (file: string, pos: number) => {
        const [rows] = await conn.query('SELECT BINLOG_GTID_POS(?, ?) AS g', [file, pos]) as [Array<{ g: string }>, unknown];
        return parseGtid('mariadb', rows[0]!.g);
      };
      const writes: Array<() => Promise<unknown>> = [
        async () => undefined, // no commit in between: the same offset again
        () => c.success('create_database', args.createDatabase(db, `${stack.warehouse}/${db}.db`)),
        async () => { for (let i = 0; i < 5; i++) await c.success('alter_database', args.alterDatabase(db, `${stack.warehouse}/${db}.db`, { n: String(i) })); },
        () => c.success('drop_database', args.dropDatabase(db)),
      ];
      for (const write of writes) {
        await write();
        const { file, pos } = await masterStatus();
        expect(formatGtid(await positions.at(conn, file, pos, 2000))).toBe(formatGtid(await exact(file, pos)));
      }
    } finally {
      c.close();
      await conn.end();
    }
  });

  it('stop() ends polling: no callback after it, and a second stop is harmless', async () => {
    const { feed, rec } = await startFeed();
    await rec.until('a second batch', () => rec.batches.length >= 2);
    await feed.stop();
    const n = rec.batches.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(rec.batches.length).toBe(n);
    await feed.stop();
  });
});

describe('the cursor on a scratch log', () => {
  it('reads on from the newest event at start, then in batches of batchSize', async () => {
    const schema = await scratchSchema('batches');
    await insertEvents(schema, [1, 2, 3]);
    const { feed, rec } = await startFeed({ database: schema, batchSize: 2 });
    expect(rec.resets).toEqual([{ reason: 'started', detail: expect.stringContaining('3') }]);
    expect(feed.status().lastEventId).toBe(3);
    await insertEvents(schema, [4, 5, 6, 7, 8], 'Mixed_Case');
    const gtid = await primaryGtid();
    await rec.appliedCovering(gtid);
    const withEvents = rec.batches.filter((b) => b.events.length > 0);
    expect(withEvents.map((b) => b.events.map((e) => e.eventId))).toEqual([[4, 5], [6, 7], [8]]);
    expect(withEvents.map((b) => b.appliedUpTo === null)).toEqual([true, true, false]);
    expect(withEvents[0]!.events[0]).toEqual({ eventId: 4, type: 'ALTER_TABLE', catalog: 'hive', db: 'scratch_db', table: 'mixed_case' });
    for (const b of withEvents) expect(covers(b.changesUpTo, gtid)).toBe(true);
    expect(feed.status()).toMatchObject({ state: 'ok', lastEventId: 8, database: schema });
  });

  it('a gap gives a gap reset naming the missing ids, and the feed goes on from the rows read', async () => {
    const schema = await scratchSchema('gap');
    await insertEvents(schema, [1, 2]);
    const { rec } = await startFeed({ database: schema });
    await insertEvents(schema, [3]);
    await rec.until('event 3', () => rec.events.some((e) => e.eventId === 3));
    await insertEvents(schema, [6, 7]);
    await rec.until('event 7', () => rec.events.some((e) => e.eventId === 7));
    expect(rec.resets.map((r) => r.reason)).toEqual(['started', 'gap']);
    expect(rec.resets[1]!.detail).toContain('from 4 to 5');
    expect(rec.events.map((e) => e.eventId)).toEqual([3, 6, 7]);
  });

  it('a log whose newest EVENT_ID falls below the cursor gives a rewound reset and restarts there', async () => {
    const schema = await scratchSchema('rewound');
    await insertEvents(schema, [1, 2, 3, 4, 5]);
    const { feed, rec } = await startFeed({ database: schema });
    await runAsRoot(primaryPort, [`DELETE FROM \`${schema}\`.NOTIFICATION_LOG WHERE EVENT_ID > 2`]);
    await rec.until('a rewound reset', () => rec.resets.find((r) => r.reason === 'rewound'));
    expect(feed.status().lastEventId).toBe(2);
    await insertEvents(schema, [3]);
    await rec.until('event 3', () => rec.events.some((e) => e.eventId === 3));
    expect(rec.resets.map((r) => r.reason)).toEqual(['started', 'rewound']);
  });
});

describe('errors name the server, the schema and the fix', () => {
  it('a schema without NOTIFICATION_LOG: the error asks for the listener; the feed recovers once the table is there', async () => {
    const schema = await scratchSchema('notable', { table: false });
    const { feed, rec } = await startFeed({ database: schema });
    expect(rec.errors.length).toBe(1);
    const message = rec.errors[0]!.message;
    expect(message).toContain(`127.0.0.1:${primaryPort}`);
    expect(message).toContain(`no NOTIFICATION_LOG in schema ${schema}`);
    expect(message).toContain('DbNotificationListener');
    expect(feed.status()).toMatchObject({ state: 'failing', error: message, lastEventId: null });
    expect(rec.resets).toEqual([]);

    await runAsRoot(primaryPort, `CREATE TABLE \`${schema}\`.NOTIFICATION_LOG (${LOG_COLUMNS}) ENGINE=InnoDB`);
    await rec.until('a reset after recovery', () => rec.resets.length > 0);
    expect(rec.resets.map((r) => r.reason)).toEqual(['started']);
    await rec.until('state ok', () => feed.status().state === 'ok');
    expect(feed.status().error).toBeNull();
  });

  it('a schema the user may not read: the error asks for the grant', async () => {
    const schema = await scratchSchema('nogrant', { grant: false });
    const { rec } = await startFeed({ database: schema });
    expect(rec.errors[0]!.message).toContain(`127.0.0.1:${primaryPort}`);
    expect(rec.errors[0]!.message).toContain(`SELECT denied`);
    expect(rec.errors[0]!.message).toContain(`grant SELECT on ${schema}.* to the feed's user router`);
  });

  it('a server that is not there: the error names it, and retries are spaced by the backoff', async () => {
    const { feed, rec } = await startFeed({ mysql: { host: '127.0.0.1', port: 1, user: 'router', password: 'router' }, pollIntervalMs: 10 });
    expect(rec.errors[0]!.message).toContain('MySQL 127.0.0.1:1');
    expect(rec.errors[0]!.message).toContain('ECONNREFUSED');
    await new Promise((r) => setTimeout(r, 1000));
    // 10 ms polls without a backoff would be ~100 attempts; with it (50 ms doubling to 1 s) a handful
    expect(rec.errors.length).toBeLessThan(10);
    expect(feed.status().state).toBe('failing');
  });
});
