/**
 * Metastore objects that carry a version, for tests that check how old an answer is: a table's
 * version lives in its parameters, a partition's in its own parameters (VERSION_KEY). Encoders for
 * the calls that bump them and for the reads that show them, the decoders that read a version out
 * of an answer, and the ledger of acknowledged writes that stale answers are judged against.
 */
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { TType } from '../../src/thrift/protocol';
import type { ThriftStruct, ThriftValue } from '../../src/thrift/value-decoder';
import { partitionName, type TableSpec } from './hms-objects';

export const VERSION_KEY = 'torture.version';

/** Arguments of alter_partition(1: db_name, 2: tbl_name, 3: Partition) with the given parameters. */
export function alterPartitionArgs(spec: TableSpec, values: readonly string[], parameters: Readonly<Record<string, string>>) {
  return (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(spec.db).fieldBegin(TType.STRING, 2).string(spec.table);
    w.fieldBegin(TType.STRUCT, 3).fieldBegin(TType.LIST, 1).listBegin(TType.STRING, values.length);
    for (const v of values) w.string(v);
    w.fieldBegin(TType.STRING, 2).string(spec.db)
      .fieldBegin(TType.STRING, 3).string(spec.table)
      .fieldBegin(TType.I32, 4).i32(0)
      .fieldBegin(TType.I32, 5).i32(0);
    // The storage descriptor as addPartitionsArgs writes it (hms-objects.ts), at the same location.
    w.fieldBegin(TType.STRUCT, 6).fieldBegin(TType.LIST, 1).listBegin(TType.STRUCT, spec.columns.length);
    for (const [name, type] of spec.columns) w.fieldBegin(TType.STRING, 1).string(name).fieldBegin(TType.STRING, 2).string(type).fieldStop();
    w.fieldBegin(TType.STRING, 2).string(`${spec.location}/${partitionName(spec, values)}`)
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
    const entries = Object.entries(parameters);
    w.fieldBegin(TType.MAP, 7).mapBegin(TType.STRING, TType.STRING, entries.length);
    for (const [k, v] of entries) w.string(k).string(v);
    w.fieldStop();
  };
}

/** Arguments of get_table_req(1: GetTableRequest{1: dbName, 2: tblName}). */
export function getTableReqArgs(db: string, table: string) {
  return (w: BinaryWriter) => {
    w.fieldBegin(TType.STRUCT, 1).fieldBegin(TType.STRING, 1).string(db).fieldBegin(TType.STRING, 2).string(table).fieldStop();
  };
}

/** Arguments of get_tables(1: db_name, 2: pattern). */
export function getTablesArgs(db: string, pattern: string) {
  return (w: BinaryWriter) => { w.fieldBegin(TType.STRING, 1).string(db).fieldBegin(TType.STRING, 2).string(pattern); };
}

function parameters(value: ThriftValue | undefined): Map<string, string> {
  return new Map((value as Array<[string, string]> | undefined) ?? []);
}

/** The version in a parameters map (field `field` of `struct`): 0 when the key is absent. */
export function versionIn(struct: ThriftStruct | undefined, field: number): number {
  const raw = parameters(struct?.[field]).get(VERSION_KEY);
  return raw === undefined ? 0 : Number(raw);
}

/** Table{9: parameters}. */
export const tableVersion = (table: ThriftStruct | undefined): number => versionIn(table, 9);
/** Partition{7: parameters}. */
export const partitionVersion = (partition: ThriftStruct | undefined): number => versionIn(partition, 7);
/** Database{4: parameters}. */
export const databaseVersion = (database: ThriftStruct | undefined): number => versionIn(database, 4);

/** Partition{1: values}: the name "k=v" of a partition with a single key `key`. */
export function singleKeyPartitionName(partition: ThriftStruct, key: string): string {
  const values = partition[1] as string[];
  return `${key}=${values[0]}`;
}

interface Acked {
  readonly version: number;
  /** Date.now() when the write's reply arrived (its change was committed before). */
  readonly ackAt: number;
}

/**
 * Every acknowledged write, per object. Each object has one writer that bumps its version by one
 * per write, so an object's writes are in version order and in acknowledgement order.
 */
export class WriteLedger {
  private readonly writes = new Map<string, Acked[]>();

  record(object: string, version: number, ackAt: number): void {
    let list = this.writes.get(object);
    if (list === undefined) {
      list = [];
      this.writes.set(object, list);
    }
    const last = list[list.length - 1];
    if (last !== undefined && (version <= last.version || ackAt < last.ackAt)) {
      throw new Error(`ledger: ${object} version ${version} at ${ackAt} after ${last.version} at ${last.ackAt}: one writer per object, versions rising`);
    }
    list.push({ version, ackAt });
  }

  /** The newest version of `object` acknowledged at or before `time` (0: none). */
  ackedBy(object: string, time: number): number {
    const list = this.writes.get(object);
    if (list === undefined) return 0;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.ackAt <= time) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : list[lo - 1]!.version;
  }

  get count(): number {
    let n = 0;
    for (const list of this.writes.values()) n += list.length;
    return n;
  }
}
