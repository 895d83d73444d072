/**
 * Batching of large partition listings on the real stack: every listing call through the router
 * equals the same call made directly to the metastore (decoded replies compared), for tables of 0,
 * 1, threshold-1, threshold+1 and 20,000 partitions, with the batches really made (metrics) and no
 * metastore call larger than one batch. Partitions dropped during a batched listing are absent (or,
 * caught mid-drop by the metastore itself, come back without values).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { status } from '../../stack/stack';
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { MessageType, TType } from '../../src/thrift/protocol';
import type { ThriftStruct, ThriftValue } from '../../src/thrift/value-decoder';
import { HmsTestClient, args, bigintJson, CallResult } from '../support/hms-test-client';
import { addPartitionsArgs, createTableArgs, dbTableArgs, partitionName, partitionNamesArgs, TableSpec } from '../support/hms-objects';
import { startTestRouter, TestRouter } from '../support/router-harness';
import { prng } from '../support/prng';

const THRESHOLD = 50;
const BATCH = 16;
const BULK_THRESHOLD = 1000;
const BULK_BATCH = 700;

const stack = status();
const db = `batching_${Date.now()}`;
/**
 * Kept between runs on a running stack: 20,000 partitions take minutes to add and to drop on this
 * machine, and nothing here changes them.
 */
const bulkDb = 'batching_bulk_20000';
const BULK_PARTITIONS = 20_000;
const warehouse = stack.warehouse;

/** day string, hour int: names like day=2024-01-03/hour=7, ordered by the metastore as strings. */
function spec(database: string, table: string): TableSpec {
  return {
    db: database,
    table,
    location: `${warehouse}/${database}.db/${table}`,
    columns: [['id', 'bigint'], ['payload', 'string']],
    partitionKeys: [['day', 'string'], ['hour', 'int']],
  };
}

function dayHour(i: number): [string, string] {
  const day = new Date(Date.UTC(2024, 0, 1) + Math.floor(i / 24) * 86_400_000).toISOString().slice(0, 10);
  return [day, String(i % 24)];
}

const TABLES: Record<string, number> = { p0: 0, p1: 1, below: THRESHOLD - 1, above: THRESHOLD + 1, drops: 1500 };

let direct: HmsTestClient;
let router: TestRouter;
let viaRouter: HmsTestClient;

/**
 * Set-up adds partitions in calls of ADD_CHUNK on ADD_CONNECTIONS connections. Calls of 1,000 on
 * four connections once passed the 60 s default deadline on a fresh stack of a loaded 2-core machine
 * and skipped the whole file: the time of one add_partitions grows with its size and with the calls
 * beside it, and the metastore has no way to answer part of one. Calls of 250 on two connections,
 * measured on a fresh stack of a 2-core machine (2026-12-07, first run, table built): 89 calls,
 * median 2.6 s, slowest 4.7 s; the 20,000-partition table in 105 s, the whole set-up in 131 s.
 * ADD_DEADLINE_MS is over 35 times the slowest call, so a loaded machine makes the set-up longer,
 * not failed.
 */
const ADD_CHUNK = 250;
const ADD_CONNECTIONS = 2;
const ADD_DEADLINE_MS = 180_000;

/** Durations (ms) of this file's add_partitions calls, for the set-up's report line. */
const addTimes: number[] = [];

/** The success value of a call made with its own deadline (HmsTestClient.success keeps the default). */
function succeeded(method: string, r: CallResult): unknown {
  if (r.type === MessageType.EXCEPTION) throw new Error(`${method}: TApplicationException: ${String(r.result[1])}`);
  for (const [id, value] of Object.entries(r.result)) {
    if (id !== '0') throw new Error(`${method}: exception in field ${id}: ${JSON.stringify(value, bigintJson)}`);
  }
  return r.result[0];
}

/** Adds the partitions in calls of ADD_CHUNK, each timed; a failure names the call and its duration. */
async function addPartitions(client: HmsTestClient, s: TableSpec, values: ReadonlyArray<readonly [string, string]>): Promise<void> {
  for (let i = 0; i < values.length; i += ADD_CHUNK) {
    const chunk = values.slice(i, i + ADD_CHUNK);
    const started = performance.now();
    try {
      succeeded('add_partitions', await client.call('add_partitions', addPartitionsArgs(s, chunk), ADD_DEADLINE_MS));
    } catch (err) {
      throw new Error(`set-up: add_partitions of ${chunk.length} partitions to ${s.db}.${s.table} failed after `
        + `${((performance.now() - started) / 1000).toFixed(1)} s (deadline ${ADD_DEADLINE_MS / 1000} s): ${(err as Error).message}`);
    }
    addTimes.push(performance.now() - started);
  }
}

async function createTable(client: HmsTestClient, database: string, table: string, count: number): Promise<void> {
  const s = spec(database, table);
  await client.success('create_table', createTableArgs(s));
  await addPartitions(client, s, Array.from({ length: count }, (_, i) => dayHour(i)));
}

async function partitionNames(database: string, table: string): Promise<string[] | null> {
  const r = await direct.call('get_partition_names', partitionNamesArgs(database, table), ADD_DEADLINE_MS);
  return Array.isArray(r.result[0]) ? r.result[0].map(String) : null;
}

/**
 * The 20,000-partition table, made once per stack and completed where an earlier set-up stopped
 * (only the missing partitions are added): dropping a half-made table of thousands of partitions
 * takes minutes. A table holding partitions this file would not make is dropped and made again.
 * Returns whether it had to add any.
 */
async function ensureBulkTable(): Promise<boolean> {
  const s = spec(bulkDb, 'big');
  const all = Array.from({ length: BULK_PARTITIONS }, (_, i) => dayHour(i));
  const wanted = new Map(all.map((v) => [partitionName(s, v), v] as const));
  const table = await direct.call('get_table', dbTableArgs(bulkDb, 'big'));
  let have = table.result[0] === undefined ? null : await partitionNames(bulkDb, 'big');
  if (have !== null && have.length === BULK_PARTITIONS && have.every((n) => wanted.has(n))) return false;
  if (have === null || !have.every((n) => wanted.has(n))) {
    await direct.call('drop_database', args.dropDatabase(bulkDb), 600_000);
    await direct.success('create_database', args.createDatabase(bulkDb, `${warehouse}/${bulkDb}.db`));
    await direct.success('create_table', createTableArgs(s));
    have = [];
  }
  const present = new Set(have);
  const missing = [...wanted].filter(([name]) => !present.has(name)).map(([, v]) => v);
  // Chunks taken in turn by each connection: a slow call delays only its own connection's next one.
  let next = 0;
  const writers = await Promise.all(Array.from({ length: ADD_CONNECTIONS }, () => HmsTestClient.connect(stack.metastores.rw.port)));
  try {
    await Promise.all(writers.map(async (w) => {
      while (next < missing.length) {
        const chunk = missing.slice(next, next + ADD_CHUNK);
        next += ADD_CHUNK;
        await addPartitions(w, s, chunk);
      }
    }));
  } finally {
    for (const w of writers) w.close();
  }
  const made = await partitionNames(bulkDb, 'big');
  if (made?.length !== BULK_PARTITIONS) {
    throw new Error(`set-up: ${bulkDb}.big has ${made?.length ?? 'no'} partitions after adding, not ${BULK_PARTITIONS}`);
  }
  return true;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

beforeAll(async () => {
  const started = performance.now();
  direct = await HmsTestClient.connect(stack.metastores.rw.port);
  await direct.success('create_database', args.createDatabase(db, `${warehouse}/${db}.db`));
  for (const [table, count] of Object.entries(TABLES)) await createTable(direct, db, table, count);
  const tablesDone = performance.now();
  const built = await ensureBulkTable();
  const sorted = [...addTimes].sort((a, b) => a - b);
  // One line for whoever reads a slow CI log: which part took the time, and how close calls came to the deadline.
  process.stderr.write(`batching set-up: small tables ${seconds(tablesDone - started)}; ${bulkDb}.big `
    + `${built ? `built in ${seconds(performance.now() - tablesDone)}` : 'kept from an earlier run'}; `
    + `${sorted.length} add_partitions calls of <= ${ADD_CHUNK} on <= ${ADD_CONNECTIONS} connections: `
    + `median ${seconds(sorted[Math.floor(sorted.length / 2)] ?? 0)}, slowest ${seconds(sorted.at(-1) ?? 0)} `
    + `(deadline ${seconds(ADD_DEADLINE_MS)})\n`);

  const rwPort = stack.metastores.rw.port;
  const mysql = (port: number) => ({ host: '127.0.0.1', port, user: stack.routerMysqlUser.user, password: stack.routerMysqlUser.password });
  router = await startTestRouter({
    metastores: {
      // Small batches, read/write split on: batches are reads like any other.
      rw: {
        primary: { endpoints: [`127.0.0.1:${rwPort}`], mysql: mysql(stack.mysql.primary.port) },
        replicas: [{ name: 'r1', endpoints: [`127.0.0.1:${stack.metastores.ro.port}`], mysql: mysql(stack.mysql.replica.port) }],
        consistency: { mode: 'session', maxWaitMs: 2000 },
        batching: { threshold: THRESHOLD, batchSize: BATCH, inFlight: 3 },
      },
      // The same metastore under another name, with bulk-sized batches, for the 20,000-partition table.
      bulk: {
        primary: { endpoints: [`127.0.0.1:${rwPort}`] },
        batching: { threshold: BULK_THRESHOLD, batchSize: BULK_BATCH, inFlight: 3 },
      },
    },
    routing: { routes: [{ glob: 'batching_bulk_*', metastore: 'bulk' }] },
  });
  viaRouter = await HmsTestClient.connect(router.port);
  // A backstop, not a budget: every call has its own deadline. Building the table took 131 s on a
  // quiet machine and may take several times that on a busy one; 10 minutes was too near.
}, 1_800_000);

afterAll(async () => {
  viaRouter?.close();
  await router?.close();
  if (direct !== undefined) {
    // Over a thousand partitions to drop: more than the default 60 s on a loaded machine.
    await direct.call('drop_database', args.dropDatabase(db), 600_000);
    direct.close();
  }
});

// Argument writers of the listing calls (field ids from the HMS IDL).
const strings = (w: BinaryWriter, id: number, values: readonly string[]) => {
  w.fieldBegin(TType.LIST, id).listBegin(TType.STRING, values.length);
  for (const v of values) w.string(v);
};
const call = {
  getPartitions: (d: string, t: string, max = -1) => (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(d).fieldBegin(TType.STRING, 2).string(t).fieldBegin(TType.I16, 3).i16(max);
  },
  withAuth: (d: string, t: string, max = -1) => (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(d).fieldBegin(TType.STRING, 2).string(t).fieldBegin(TType.I16, 3).i16(max)
      .fieldBegin(TType.STRING, 4).string('alice');
    strings(w, 5, ['analysts']);
  },
  ps: (d: string, t: string, vals: string[], max = -1) => (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(d).fieldBegin(TType.STRING, 2).string(t);
    strings(w, 3, vals);
    w.fieldBegin(TType.I16, 4).i16(max);
  },
  psWithAuth: (d: string, t: string, vals: string[], max = -1) => (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(d).fieldBegin(TType.STRING, 2).string(t);
    strings(w, 3, vals);
    w.fieldBegin(TType.I16, 4).i16(max).fieldBegin(TType.STRING, 5).string('alice');
    strings(w, 6, ['analysts']);
  },
  byFilter: (d: string, t: string, filter: string, max = -1) => (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(d).fieldBegin(TType.STRING, 2).string(t).fieldBegin(TType.STRING, 3).string(filter)
      .fieldBegin(TType.I16, 4).i16(max);
  },
  byNames: (d: string, t: string, names: readonly string[]) => (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(d).fieldBegin(TType.STRING, 2).string(t);
    strings(w, 3, names);
  },
};

/**
 * Makes the call directly and through the router; the decoded replies must be equal. Generous
 * deadlines: the metastore's with_auth forms read partitions through JDO, over a minute for 20,000.
 */
async function same(method: string, writeArgs: (w: BinaryWriter) => void): Promise<CallResult> {
  const expected = await direct.call(method, writeArgs, 400_000);
  const actual = await viaRouter.call(method, writeArgs, 400_000);
  expect(actual.type, `${method}: message type`).toBe(expected.type);
  expect(actual.result, `${method}: reply`).toEqual(expected.result);
  return expected;
}

function partitions(result: CallResult): ThriftStruct[] {
  expect(result.type).toBe(MessageType.REPLY);
  return (result.result[0] ?? []) as ThriftStruct[];
}

function values(p: ThriftStruct): string[] {
  return (p[1] as ThriftValue[]).map(String);
}

function namesOf(list: ThriftStruct[]): string[] {
  return list.map((p) => `day=${values(p)[0]}/hour=${values(p)[1]}`);
}

async function listingMetric(plan: string): Promise<number> {
  return router.metric('hms_router_listings_total', { plan });
}

describe.each(Object.entries(TABLES))('table %s (%i partitions)', (table, count) => {
  it('get_partitions and get_partitions_with_auth equal the direct calls, with every max_parts', async () => {
    for (const max of [-1, 0, 1, THRESHOLD + 3]) {
      const r = await same('get_partitions', call.getPartitions(db, table, max));
      expect(partitions(r)).toHaveLength(max < 0 ? count : Math.min(max, count));
      await same('get_partitions_with_auth', call.withAuth(db, table, max));
    }
  });

  it('get_partitions_ps and get_partitions_ps_with_auth equal the direct calls', async () => {
    for (const vals of [['2024-01-01'], ['2024-01-02', ''], ['', '3'], ['2024-01-01', '0'], ['1999-01-01']]) {
      await same('get_partitions_ps', call.ps(db, table, vals));
      await same('get_partitions_ps', call.ps(db, table, vals, 5));
      await same('get_partitions_ps_with_auth', call.psWithAuth(db, table, vals));
    }
  });

  it('get_partitions_by_names equals the direct call for shuffled, repeated and missing names', async () => {
    const all = namesOf(partitions(await direct.call('get_partitions', call.getPartitions(db, table))));
    const random = prng(count + 1);
    const shuffled = [...all, ...all.slice(0, 5), 'day=1999-01-01/hour=1'].sort(() => random() - 0.5);
    const r = await same('get_partitions_by_names', call.byNames(db, table, shuffled));
    expect(namesOf(partitions(r))).toEqual(all);
  });

  it('get_partitions_by_filter equals the direct call', async () => {
    for (const filter of ['day >= "2024-01-02"', 'day = "2024-01-01" and hour < 12', 'hour = 5 or day > "2024-01-03"', 'day like "2024-01-0.*"']) {
      await same('get_partitions_by_filter', call.byFilter(db, table, filter));
      await same('get_partitions_by_filter', call.byFilter(db, table, filter, 3));
    }
  });
});

describe('batching really happens, and only above the threshold', () => {
  it('a listing of threshold-1 partitions passes through; threshold+1 is batched into calls of at most B names', async () => {
    const smallBefore = await listingMetric('pass_small');
    await same('get_partitions', call.getPartitions(db, 'below'));
    expect(await listingMetric('pass_small')).toBe(smallBefore + 1);

    const batchedBefore = await listingMetric('batched');
    const batchesBefore = await router.metric('hms_router_listing_batches_total', { metastore: 'rw' });
    await same('get_partitions', call.getPartitions(db, 'above'));
    expect(await listingMetric('batched')).toBe(batchedBefore + 1);
    expect(await router.metric('hms_router_listing_batches_total', { metastore: 'rw' }) - batchesBefore).toBe(Math.ceil((THRESHOLD + 1) / BATCH));
  });

  it('batches are reads like any other: the replica serves them when it has the session\'s writes', async () => {
    const before = await router.metric('hms_router_calls_total', { method: 'get_partitions', role: 'replica' });
    await same('get_partitions', call.getPartitions(db, 'drops'));
    expect(await router.metric('hms_router_calls_total', { method: 'get_partitions', role: 'replica' })).toBe(before + 1);
  });
});

describe('batching settings reload with the routing map', () => {
  it('a new threshold applies to the next listing; a bad setting is refused by name and the old one keeps serving', async () => {
    const original = readFileSync(router.configPath, 'utf8');
    const doc = JSON.parse(original) as { metastores: Record<string, { batching: Record<string, number> }> };
    try {
      doc.metastores.rw!.batching.batchSize = 0;
      writeFileSync(router.configPath, JSON.stringify(doc));
      const refused = router.reloadRouting();
      expect(refused.ok).toBe(false);
      expect(!refused.ok && refused.problems.join('\n')).toMatch(/metastores\.rw\.batching\.batchSize: .*>=\s*1/);
      let batched = await listingMetric('batched');
      await same('get_partitions', call.getPartitions(db, 'above'));
      expect(await listingMetric('batched')).toBe(batched + 1);

      doc.metastores.rw!.batching = { threshold: 10_000, batchSize: BATCH, inFlight: 3 };
      writeFileSync(router.configPath, JSON.stringify(doc));
      expect(router.reloadRouting()).toMatchObject({ ok: true, changed: true });
      const body = await fetch(`http://127.0.0.1:${router.adminPort}/routing`).then((r) => r.json()) as { batching: Record<string, { threshold: number }> };
      expect(body.batching.rw!.threshold).toBe(10_000);
      batched = await listingMetric('batched');
      await same('get_partitions', call.getPartitions(db, 'above'));
      expect(await listingMetric('batched')).toBe(batched);
    } finally {
      writeFileSync(router.configPath, original);
      expect(router.reloadRouting()).toMatchObject({ ok: true });
    }
  });
});

describe('missing tables and databases', () => {
  it.each([
    ['get_partitions', call.getPartitions(db, 'no_such_table')],
    ['get_partitions', call.getPartitions('no_such_db_batching', 'x')],
    ['get_partitions_with_auth', call.withAuth(db, 'no_such_table')],
    ['get_partitions_ps', call.ps(db, 'no_such_table', ['2024-01-01'])],
    ['get_partitions_ps_with_auth', call.psWithAuth(db, 'no_such_table', ['2024-01-01'])],
    ['get_partitions_by_filter', call.byFilter(db, 'no_such_table', 'day = "x"')],
    ['get_partitions_by_names', call.byNames(db, 'no_such_table', Array.from({ length: THRESHOLD + 5 }, (_, i) => `day=x/hour=${i}`))],
    ['get_partitions_ps', call.ps(db, 'above', ['2024-01-01', '1', 'extra'])],
    ['get_partitions_by_filter', call.byFilter(db, 'above', 'no_such_key = "1"')],
    ['get_partitions_by_filter', call.byFilter(db, 'above', 'day = ')],
  ])('%s: the same answer as the metastore (%#)', async (method, writeArgs) => {
    await same(method, writeArgs);
  });
});

describe('20,000 partitions on two levels, bulk batches', () => {
  it('every listing call equals the direct call and is batched', async () => {
    const before = await router.metric('hms_router_listing_batches_total', { metastore: 'bulk' });
    const r = await same('get_partitions', call.getPartitions(bulkDb, 'big'));
    expect(partitions(r)).toHaveLength(BULK_PARTITIONS);
    expect(await router.metric('hms_router_listing_batches_total', { metastore: 'bulk' }) - before).toBe(Math.ceil(BULK_PARTITIONS / BULK_BATCH));
    await same('get_partitions_with_auth', call.withAuth(bulkDb, 'big'));
    await same('get_partitions', call.getPartitions(bulkDb, 'big', 5000));
    await same('get_partitions_ps', call.ps(bulkDb, 'big', ['', '7']));
    await same('get_partitions_by_filter', call.byFilter(bulkDb, 'big', 'day >= "2024-06-01" and day < "2025-01-01"'));
    const names = namesOf(partitions(r));
    await same('get_partitions_by_names', call.byNames(bulkDb, 'big', names.filter((_, i) => i % 3 === 0).reverse()));
  }, 900_000);
});

/** The partition name at the end of a partition's storage location (StorageDescriptor.location). */
function locationName(p: ThriftStruct, table: string): string {
  const location = String((p[6] as ThriftStruct | undefined)?.[2]);
  return location.slice(location.lastIndexOf(`/${table}/`) + table.length + 2);
}

describe('partitions dropped during a batched listing', () => {
  it('are absent or, caught mid-drop by the metastore, a victim without values: no error, no duplicate, order kept', async () => {
    const before = namesOf(partitions(await direct.call('get_partitions', call.getPartitions(db, 'drops'))));
    const random = prng(7);
    const victims = before.filter(() => random() < 0.15);
    const droppers = await Promise.all([0, 1, 2].map(() => HmsTestClient.connect(stack.metastores.rw.port)));
    const listing = viaRouter.call('get_partitions', call.getPartitions(db, 'drops'));
    await Promise.all(droppers.map(async (c, k) => {
      for (let i = k; i < victims.length; i += droppers.length) {
        await c.success('drop_partition_by_name', (w) => {
          w.fieldBegin(TType.STRING, 1).string(db).fieldBegin(TType.STRING, 2).string('drops')
            .fieldBegin(TType.STRING, 3).string(victims[i]!).fieldBegin(TType.BOOL, 4).bool(false);
        });
      }
      c.close();
    }));
    // Hive 3.1's direct SQL reads a partition's row and its values in separate queries, so a
    // partition dropped between the two comes back with an empty values list: the metastore's own
    // race (a direct listing meets it too), passed on as bytes. Seen once in two runs here. Such a
    // partition must be one of the victims (known by its location) and is left out of the checks.
    const listed = partitions(await listing);
    const caughtMidDrop = listed.filter((p) => (p[1] as ThriftValue[]).length === 0);
    for (const p of caughtMidDrop) expect(victims, 'a partition without values').toContain(locationName(p, 'drops'));
    const got = namesOf(listed.filter((p) => !caughtMidDrop.includes(p)));
    expect(new Set(got).size).toBe(got.length);
    expect(got).toEqual(before.filter((n) => got.includes(n)));
    expect(got.length).toBeGreaterThanOrEqual(before.length - victims.length);
    // After the drops, the router and the metastore agree again.
    await same('get_partitions', call.getPartitions(db, 'drops'));
  });
});
