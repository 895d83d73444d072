/**
 * Encoders for the HMS objects tests and benchmarks create (Table, Partition), with field ids from
 * the HMS IDL. Every map is written (empty if need be): some metastore code paths dislike nulls.
 */
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { TType } from '../../src/thrift/protocol';

export interface TableSpec {
  readonly db: string;
  readonly table: string;
  readonly location: string;
  readonly columns: ReadonlyArray<[string, string]>;
  readonly partitionKeys: ReadonlyArray<[string, string]>;
  /** Table parameters (TBLPROPERTIES); none when absent. */
  readonly parameters?: Readonly<Record<string, string>>;
}

function fieldSchemas(w: BinaryWriter, id: number, cols: ReadonlyArray<[string, string]>): void {
  w.fieldBegin(TType.LIST, id).listBegin(TType.STRUCT, cols.length);
  for (const [name, type] of cols) {
    w.fieldBegin(TType.STRING, 1).string(name).fieldBegin(TType.STRING, 2).string(type).fieldStop();
  }
}

function emptyMap(w: BinaryWriter, id: number): void {
  w.fieldBegin(TType.MAP, id).mapBegin(TType.STRING, TType.STRING, 0);
}

function storageDescriptor(w: BinaryWriter, id: number, cols: ReadonlyArray<[string, string]>, location: string): void {
  w.fieldBegin(TType.STRUCT, id);
  fieldSchemas(w, 1, cols);
  w.fieldBegin(TType.STRING, 2).string(location)
    .fieldBegin(TType.STRING, 3).string('org.apache.hadoop.mapred.TextInputFormat')
    .fieldBegin(TType.STRING, 4).string('org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat')
    .fieldBegin(TType.BOOL, 5).bool(false)
    .fieldBegin(TType.I32, 6).i32(-1)
    .fieldBegin(TType.STRUCT, 7)
    .fieldBegin(TType.STRING, 1).string('lazy')
    .fieldBegin(TType.STRING, 2).string('org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe');
  emptyMap(w, 3);
  w.fieldStop();
  w.fieldBegin(TType.LIST, 8).listBegin(TType.STRING, 0);
  w.fieldBegin(TType.LIST, 9).listBegin(TType.STRUCT, 0);
  emptyMap(w, 10);
  w.fieldStop();
}

/** Arguments of create_table(1: Table). */
export function createTableArgs(spec: TableSpec) {
  return (w: BinaryWriter) => table(w, 1, spec);
}

/** Arguments of alter_table(1: dbname, 2: tbl_name, 3: Table). */
export function alterTableArgs(spec: TableSpec) {
  return (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(spec.db).fieldBegin(TType.STRING, 2).string(spec.table);
    table(w, 3, spec);
  };
}

function table(w: BinaryWriter, id: number, spec: TableSpec): void {
  w.fieldBegin(TType.STRUCT, id)
    .fieldBegin(TType.STRING, 1).string(spec.table)
    .fieldBegin(TType.STRING, 2).string(spec.db)
    .fieldBegin(TType.STRING, 3).string('hms-router-test')
    .fieldBegin(TType.I32, 4).i32(0)
    .fieldBegin(TType.I32, 5).i32(0)
    .fieldBegin(TType.I32, 6).i32(0);
  storageDescriptor(w, 7, spec.columns, spec.location);
  fieldSchemas(w, 8, spec.partitionKeys);
  const parameters = Object.entries(spec.parameters ?? {});
  w.fieldBegin(TType.MAP, 9).mapBegin(TType.STRING, TType.STRING, parameters.length);
  for (const [k, v] of parameters) w.string(k).string(v);
  w.fieldBegin(TType.STRING, 12).string('MANAGED_TABLE');
  w.fieldStop();
}

/** The partition name Hive derives from keys and values: k1=v1/k2=v2. */
export function partitionName(spec: TableSpec, values: readonly string[]): string {
  return spec.partitionKeys.map(([k], i) => `${k}=${values[i]}`).join('/');
}

/** The fields of a Partition (values, db, table, times, storage descriptor, parameters) and its STOP. */
function partitionFields(w: BinaryWriter, spec: TableSpec, values: readonly string[], parameters: Readonly<Record<string, string>> = {}): void {
  w.fieldBegin(TType.LIST, 1).listBegin(TType.STRING, values.length);
  for (const v of values) w.string(v);
  w.fieldBegin(TType.STRING, 2).string(spec.db)
    .fieldBegin(TType.STRING, 3).string(spec.table)
    .fieldBegin(TType.I32, 4).i32(0)
    .fieldBegin(TType.I32, 5).i32(0);
  storageDescriptor(w, 6, spec.columns, `${spec.location}/${partitionName(spec, values)}`);
  const entries = Object.entries(parameters);
  w.fieldBegin(TType.MAP, 7).mapBegin(TType.STRING, TType.STRING, entries.length);
  for (const [k, v] of entries) w.string(k).string(v);
  w.fieldStop();
}

/** Arguments of add_partitions(1: list<Partition>). */
export function addPartitionsArgs(spec: TableSpec, valueLists: ReadonlyArray<readonly string[]>) {
  return (w: BinaryWriter) => {
    w.fieldBegin(TType.LIST, 1).listBegin(TType.STRUCT, valueLists.length);
    for (const values of valueLists) partitionFields(w, spec, values);
  };
}

/** Arguments of alter_partition(1: db_name, 2: tbl_name, 3: Partition) with the given parameters. */
export function alterPartitionArgs(spec: TableSpec, values: readonly string[], parameters: Readonly<Record<string, string>>) {
  return (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(spec.db).fieldBegin(TType.STRING, 2).string(spec.table);
    w.fieldBegin(TType.STRUCT, 3);
    partitionFields(w, spec, values, parameters);
  };
}

/** Arguments (1: string db, 2: string table). */
export function dbTableArgs(db: string, table: string) {
  return (w: BinaryWriter) => { w.fieldBegin(TType.STRING, 1).string(db).fieldBegin(TType.STRING, 2).string(table); };
}

/** Arguments of get_partitions_by_names(1: db, 2: table, 3: list<string> names). */
export function partitionsByNamesArgs(db: string, table: string, names: readonly string[]) {
  return (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(db).fieldBegin(TType.STRING, 2).string(table)
      .fieldBegin(TType.LIST, 3).listBegin(TType.STRING, names.length);
    for (const n of names) w.string(n);
  };
}

/** Arguments of get_partition_names(1: db, 2: table, 3: i16 max_parts). */
export function partitionNamesArgs(db: string, table: string, max = -1) {
  return (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(db).fieldBegin(TType.STRING, 2).string(table).fieldBegin(TType.I16, 3).i16(max);
  };
}
