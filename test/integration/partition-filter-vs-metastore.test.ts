/**
 * The router's partition filter evaluator (src/batching/partition-filter.ts) against the real
 * Hive 3.1.3 metastore of the local stack: for every case of test/support/partition-filter-cases.ts,
 * get_partitions_by_filter on the metastore and the evaluator over get_partition_names must agree
 * wherever the evaluator claims to know the answer. Then the same call through a router that
 * batches every listing of more than one partition must answer exactly as the metastore (errors
 * included), batched when the evaluator knows the answer and passed through otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '../../stack/stack';
import { HmsTestClient, args } from '../support/hms-test-client';
import { createTableArgs, dbTableArgs, partitionNamesArgs } from '../support/hms-objects';
import { FILTER_CASES, FILTER_TABLES, FilterCase, FilterExpectation, FilterTable } from '../support/partition-filter-cases';
import { compilePartitionFilter, PartitionKey } from '../../src/batching/partition-filter';
import { makePartitionName, partitionValuesFromName } from '../../src/batching/partition-name';
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { MessageType, TType } from '../../src/thrift/protocol';
import type { ThriftStruct } from '../../src/thrift/value-decoder';
import { startTestRouter, TestRouter } from '../support/router-harness';

const stack = status();

/** What the test knows about one table once it exists in the metastore. */
interface LoadedTable {
  readonly keys: readonly PartitionKey[];
  /** get_partition_names, in the metastore's order. */
  readonly names: readonly string[];
  /** Partition name -> values as stored (get_partitions). */
  readonly stored: ReadonlyMap<string, readonly string[]>;
}

/**
 * add_partitions(1: list<Partition>) without locations, so the metastore derives each location from
 * the escaped partition name (values with '/' or ':' would not make valid paths as given).
 */
function addPartitionsArgs(db: string, table: string, valueLists: ReadonlyArray<readonly string[]>) {
  return (w: BinaryWriter) => {
    w.fieldBegin(TType.LIST, 1).listBegin(TType.STRUCT, valueLists.length);
    for (const values of valueLists) {
      w.fieldBegin(TType.LIST, 1).listBegin(TType.STRING, values.length);
      for (const v of values) w.string(v);
      w.fieldBegin(TType.STRING, 2).string(db).fieldBegin(TType.STRING, 3).string(table)
        .fieldBegin(TType.I32, 4).i32(0).fieldBegin(TType.I32, 5).i32(0);
      w.fieldBegin(TType.STRUCT, 6)
        .fieldBegin(TType.LIST, 1).listBegin(TType.STRUCT, 1)
        .fieldBegin(TType.STRING, 1).string('x').fieldBegin(TType.STRING, 2).string('string').fieldStop()
        .fieldBegin(TType.STRING, 3).string('org.apache.hadoop.mapred.TextInputFormat')
        .fieldBegin(TType.STRING, 4).string('org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat')
        .fieldBegin(TType.BOOL, 5).bool(false)
        .fieldBegin(TType.I32, 6).i32(-1)
        .fieldBegin(TType.STRUCT, 7)
        .fieldBegin(TType.STRING, 1).string('lazy')
        .fieldBegin(TType.STRING, 2).string('org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe')
        .fieldBegin(TType.MAP, 3).mapBegin(TType.STRING, TType.STRING, 0)
        .fieldStop()
        .fieldBegin(TType.LIST, 8).listBegin(TType.STRING, 0)
        .fieldBegin(TType.LIST, 9).listBegin(TType.STRUCT, 0)
        .fieldBegin(TType.MAP, 10).mapBegin(TType.STRING, TType.STRING, 0)
        .fieldStop();
      w.fieldBegin(TType.MAP, 7).mapBegin(TType.STRING, TType.STRING, 0).fieldStop();
    }
  };
}

/** get_partitions_by_filter(1: db, 2: tbl, 3: filter, 4: i16 max_parts). */
function byFilterArgs(db: string, table: string, filter: string) {
  return (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(db).fieldBegin(TType.STRING, 2).string(table)
      .fieldBegin(TType.STRING, 3).string(filter).fieldBegin(TType.I16, 4).i16(-1);
  };
}

function partitionValues(partitions: unknown): string[][] {
  return (partitions as ThriftStruct[]).map((p) => p[1] as string[]);
}

/** The metastore's answer: partition values in its order, or the error it gave. */
type MetastoreAnswer = { readonly values: string[][] } | { readonly error: string };

describe('partition filter evaluator vs the real metastore', () => {
  let client: HmsTestClient;
  let router: TestRouter;
  let viaRouter: HmsTestClient;
  const db = `filter_cases_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const tables = new Map<string, LoadedTable>();
  const refusals: string[] = [];

  async function createAndLoad(table: FilterTable): Promise<LoadedTable> {
    await client.success('create_table', createTableArgs({
      db, table: table.name, location: `${stack.warehouse}/${db}.db/${table.name}`,
      columns: [['x', 'string']], partitionKeys: table.keys.map((k) => [k.name, k.type] as [string, string]),
    }));
    await client.success('add_partitions', addPartitionsArgs(db, table.name, table.partitions));
    const got = (await client.success('get_table', dbTableArgs(db, table.name))) as ThriftStruct;
    const keys = (got[8] as ThriftStruct[]).map((fs) => ({ name: fs[1] as string, type: fs[2] as string }));
    const names = (await client.success('get_partition_names', partitionNamesArgs(db, table.name))) as string[];
    const all = partitionValues(await client.success('get_partitions', partitionNamesArgs(db, table.name)));
    return { keys, names, stored: new Map(all.map((values) => [makePartitionName(keys, values), values])) };
  }

  async function askMetastore(table: string, filter: string): Promise<MetastoreAnswer> {
    const r = await client.call('get_partitions_by_filter', byFilterArgs(db, table, filter));
    if (r.type === MessageType.EXCEPTION) return { error: `TApplicationException: ${String(r.result[1])}` };
    if (r.result[0] !== undefined) return { values: partitionValues(r.result[0]) };
    return { error: JSON.stringify(r.result) };
  }

  beforeAll(async () => {
    client = await HmsTestClient.connect(stack.metastores.rw.port);
    await client.success('create_database', args.createDatabase(db, `${stack.warehouse}/${db}.db`));
    for (const table of FILTER_TABLES) tables.set(table.name, await createAndLoad(table));
    router = await startTestRouter({
      metastores: { rw: { primary: { endpoints: [`127.0.0.1:${stack.metastores.rw.port}`] }, batching: { threshold: 1, batchSize: 2, inFlight: 2 } } },
    });
    viaRouter = await HmsTestClient.connect(router.port);
  });

  afterAll(async () => {
    if (refusals.length > 0) console.log(`refused filters (the router passes these through):\n${refusals.join('\n')}`);
    viaRouter?.close();
    await router?.close();
    await client?.call('drop_database', args.dropDatabase(db));
    client?.close();
  });

  it('names encode values exactly as the metastore escapes them', () => {
    for (const table of FILTER_TABLES) {
      const loaded = tables.get(table.name)!;
      expect(loaded.keys.map((k) => k.name)).toEqual(table.keys.map((k) => k.name.toLowerCase()));
      expect(loaded.names).toHaveLength(table.partitions.length);
      for (const name of loaded.names) {
        const stored = loaded.stored.get(name);
        expect(stored, `get_partitions has no partition named ${name}`).toBeDefined();
        const fromName = partitionValuesFromName(name, loaded.keys);
        // '' is stored as '' but named __HIVE_DEFAULT_PARTITION__; every other value reads back as stored.
        expect(fromName).toEqual(stored!.map((v) => (v === '' ? '__HIVE_DEFAULT_PARTITION__' : v)));
      }
      const sorted = [...loaded.names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      expect(loaded.names, 'names come back in binary (latin1_bin) order').toEqual(sorted);
    }
  });

  it('has a rich case table', () => {
    expect(FILTER_CASES.length).toBeGreaterThanOrEqual(40);
  });

  for (const c of FILTER_CASES) {
    it(`${c.table}: ${JSON.stringify(c.filter)} is ${c.expect} (${c.why})`, async () => {
      const expected = await checkCase(c);
      await checkThroughRouter(c, expected);
    });
  }

  /**
   * The router's answer equals the metastore's, and the plan follows the evaluator: batched when it
   * knows more than one matching partition, passed through when it refuses or cannot tell.
   */
  async function checkThroughRouter(c: FilterCase, matched: number | null): Promise<void> {
    const plans = ['batched', 'pass_small', 'pass_filter_inexact', 'pass_values_inexact'];
    const before = await Promise.all(plans.map((plan) => router.metric('hms_router_listings_total', { plan })));
    const direct = await client.call('get_partitions_by_filter', byFilterArgs(db, c.table, c.filter));
    const routed = await viaRouter.call('get_partitions_by_filter', byFilterArgs(db, c.table, c.filter));
    expect(routed.type).toBe(direct.type);
    expect(routed.result).toEqual(direct.result);
    const after = await Promise.all(plans.map((plan) => router.metric('hms_router_listings_total', { plan })));
    const used = plans.filter((_, i) => after[i]! > before[i]!);
    const expectedPlan = c.expect === 'refused' ? 'pass_filter_inexact' : c.expect === 'inexact' ? 'pass_values_inexact'
      : matched! > 1 ? 'batched' : 'pass_small';
    expect(used).toEqual([expectedPlan]);
  }

  /** Returns how many partitions the evaluator matched when it knows the answer, else null. */
  async function checkCase(c: FilterCase): Promise<number | null> {
    const table = tables.get(c.table)!;
    const answer = await askMetastore(c.table, c.filter);
    expect('values' in answer ? 'answers' : 'fails', `metastore: ${JSON.stringify(answer)}`).toBe(c.metastore);
    const compiled = compilePartitionFilter(c.filter, table.keys);
    if (!compiled.exact) {
      refusals.push(`  ${c.table}: ${JSON.stringify(c.filter)} -> ${compiled.reason}`);
      expect(c.expect, `refused: ${compiled.reason}`).toBe('refused');
      if (c.reason) expect(compiled.reason).toContain(c.reason);
      return null;
    }
    expect(c.expect, 'the evaluator compiled it').not.toBe('refused');
    if (!('values' in answer)) throw new Error(`the evaluator claims the filter but the metastore fails: ${answer.error}`);
    const returned = answer.values.map((values) => makePartitionName(table.keys, values));
    const chosen = new Set(returned);
    let kind: FilterExpectation = 'exact';
    const expected: string[] = [];
    for (const name of table.names) {
      const verdict = compiled.matches(partitionValuesFromName(name, table.keys)!);
      if (verdict === 'inexact') kind = 'inexact';
      else expect(verdict, `verdict on ${name}`).toBe(chosen.has(name));
      if (verdict === true) expected.push(name);
      // With the stored values (what the router learns by fetching a partition) nothing is ambiguous
      // but non-canonical and non-ASCII values.
      const storedVerdict = compiled.matchesStored(table.stored.get(name)!);
      if (storedVerdict !== 'inexact') expect(storedVerdict, `stored verdict on ${name}`).toBe(chosen.has(name));
    }
    expect(kind).toBe(c.expect);
    if (kind === 'exact') expect(expected, 'same partitions in the same order').toEqual(returned);
    return kind === 'exact' ? expected.length : null;
  }
});
