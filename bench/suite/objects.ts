/**
 * What the suite's workloads read and write, created once per run on the real metastores: a
 * partitioned table on the rw metastore (reads, mixed) and one on the fed metastore (federation).
 */
import { HmsTestClient, args } from '../../test/support/hms-test-client';
import { addPartitionsArgs, createTableArgs, partitionName, TableSpec } from '../../test/support/hms-objects';

export const READS_DB = 'bench_suite';
export const MIXED_DB = 'bench_suite_mixed';
export const FED_DB = 'bench_suite_fed';
export const TABLE = 'events';

export function tableSpec(db: string, warehouse: string, table = TABLE, parameters?: Record<string, string>): TableSpec {
  return {
    db, table, location: `${warehouse}/${db}.db/${table}`,
    columns: [['id', 'bigint'], ['payload', 'string']], partitionKeys: [['day', 'string'], ['hour', 'int']],
    ...(parameters === undefined ? {} : { parameters }),
  };
}

/** 240 partitions (10 days x 24 hours): engines list a few hundred per query. Returns 100 names for by-names calls. */
export async function createPartitionedTable(port: number, db: string, warehouse: string): Promise<string[]> {
  const c = await HmsTestClient.connect(port);
  try {
    await c.call('drop_database', args.dropDatabase(db));
    await c.success('create_database', args.createDatabase(db, `${warehouse}/${db}.db`));
    const spec = tableSpec(db, warehouse);
    await c.success('create_table', createTableArgs(spec));
    const values: string[][] = [];
    for (let d = 1; d <= 10; d++) for (let h = 0; h < 24; h++) values.push([`2026-11-${String(d).padStart(2, '0')}`, String(h)]);
    await c.success('add_partitions', addPartitionsArgs(spec, values));
    return values.slice(0, 100).map((v) => partitionName(spec, v));
  } finally {
    c.close();
  }
}

/** One table per caller (`t0`, `t1`, ...) with parameter seq=0: the mixed workload alters and reads them. */
export async function createMixedTables(port: number, warehouse: string, count: number): Promise<void> {
  const c = await HmsTestClient.connect(port);
  try {
    await c.call('drop_database', args.dropDatabase(MIXED_DB));
    await c.success('create_database', args.createDatabase(MIXED_DB, `${warehouse}/${MIXED_DB}.db`));
    for (let i = 0; i < count; i++) await c.success('create_table', createTableArgs(tableSpec(MIXED_DB, warehouse, `t${i}`, { seq: '0' })));
  } finally {
    c.close();
  }
}

export async function dropDatabases(port: number, names: readonly string[]): Promise<void> {
  const c = await HmsTestClient.connect(port);
  try {
    for (const name of names) await c.call('drop_database', args.dropDatabase(name));
  } finally {
    c.close();
  }
}
