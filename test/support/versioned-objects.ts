/**
 * Metastore objects that carry a version, for tests that check how old an answer is: a table's
 * version lives in its parameters, a partition's in its own parameters (VERSION_KEY). Encoders for
 * the calls that bump them and for the reads that show them, the decoders that read a version out
 * of an answer, and the ledger of acknowledged writes that stale answers are judged against.
 */
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { TType } from '../../src/thrift/protocol';
import type { ThriftStruct, ThriftValue } from '../../src/thrift/value-decoder';

export const VERSION_KEY = 'torture.version';

/** Arguments of alter_partition with the given parameters (the encoder lives with the others). */
export { alterPartitionArgs } from './hms-objects';

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
