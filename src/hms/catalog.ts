/**
 * The HMS method catalog: one entry per method of `ThriftHiveMetastore` (Hive 2.3, 3.1 and 4.x) and
 * of its fb303 base service `FacebookService`. See method-entry.ts for the meaning of each field.
 *
 * Field ids were taken from the IDL of each release (hive_metastore.thrift, fb303.thrift) and checked
 * against the code Thrift generated from it for Hive 2.3.0/2.3.9/2.3.10, 3.1.0/3.1.3 and
 * 4.0.0/4.0.1/4.1.0. Where a layout differs between versions, the 3.1 layout is used and the entry
 * says so. '4' means "declared by at least one 4.x release" (4.0.1 dropped a few 4.0.0 methods).
 *
 * Notes that apply throughout:
 * - In Hive 3+, the plain-string database arguments of the older methods may carry a catalog,
 *   encoded as "@<catalog>#<database>"; the request structs carry it in a separate catName field.
 * - `meta` below is the field id of MetaException in the method's result struct.
 */
import type { CacheShape, FanOut, FieldPath, InterfaceVersion, ListingShape, MethodEntry, MethodKind } from './method-entry';

type Versions = readonly InterfaceVersion[];

/** Declared by 2.3, 3.1 and 4.x. */
const ALL: Versions = ['2.3', '3.1', '4'];
/** Added in Hive 3.0 (so in 3.1 and 4.x). */
const V3: Versions = ['3.1', '4'];
/** Added in Hive 4. */
const V4: Versions = ['4'];
/** Hive 2.3 only (indexes were removed in 3.0). */
const V2: Versions = ['2.3'];
/** fb303 base service methods, inherited by ThriftHiveMetastore in every version. */
const FB: Versions = ['2.3', '3.1', '4', 'fb303'];

interface Where {
  readonly db?: FieldPath;
  readonly table?: FieldPath;
  readonly catalog?: FieldPath;
  readonly otherDbs?: readonly FieldPath[];
  readonly fanOut?: FanOut;
  readonly oneway?: true;
  /** Field id of MetaException in the result struct. */
  readonly meta?: number;
  readonly listing?: ListingShape;
  readonly credentials?: 'token-get' | 'token' | 'store';
  readonly cache?: CacheShape;
}

function entry(name: string, kind: MethodKind, mutates: boolean, versions: Versions, where: Where): MethodEntry {
  const { meta, ...rest } = where;
  return meta === undefined
    ? { name, kind, mutates, versions, ...rest }
    : { name, kind, mutates, versions, ...rest, metaException: meta };
}

const read = (name: string, versions: Versions, where: Where = {}): MethodEntry =>
  entry(name, 'read', false, versions, where);
const write = (name: string, versions: Versions, where: Where = {}): MethodEntry =>
  entry(name, 'write', true, versions, where);
const txn = (name: string, mutates: boolean, versions: Versions, where: Where = {}): MethodEntry =>
  entry(name, 'txn', mutates, versions, where);
const global = (name: string, mutates: boolean, versions: Versions, where: Where = {}): MethodEntry =>
  entry(name, 'global', mutates, versions, where);
const session = (name: string, mutates: boolean, versions: Versions, where: Where = {}): MethodEntry =>
  entry(name, 'session', mutates, versions, where);

// Frequent argument layouts.
/** (1: string db_name, 2: string tbl_name, ...) */
const DT = { db: [1], table: [2] } as const;
/** (1: Table): Table{1: tableName, 2: dbName, 17: catName} (catName is 16 in 2.3.10, absent before). */
const TBL = { db: [1, 2], table: [1, 1], catalog: [1, 17] } as const;
/** (1: Partition): Partition{2: dbName, 3: tableName, 9: catName} */
const PART = { db: [1, 2], table: [1, 3], catalog: [1, 9] } as const;
/** (1: req{1: dbName, 2: tblName, ...}) with the catalog at the given field id of the request. */
const req12 = (cat?: number): Where =>
  cat === undefined ? { db: [1, 1], table: [1, 2] } : { db: [1, 1], table: [1, 2], catalog: [1, cat] };
/** (1: req{1: catName, 2: dbName, 3: tblName, ...}) */
const REQ_CDT = { db: [1, 2], table: [1, 3], catalog: [1, 1] } as const;
/** (1: ColumnStatistics{1: ColumnStatisticsDesc{2: dbName, 3: tableName, 6: catName}}) */
const COLSTATS = { db: [1, 1, 2], table: [1, 1, 3], catalog: [1, 1, 6] } as const;
/** (1: SetPartitionsStatsRequest{1: list<ColumnStatistics>}) */
const SETSTATS = { db: [1, 1, '*', 1, 2], table: [1, 1, '*', 1, 3], catalog: [1, 1, '*', 1, 6] } as const;
/** (1: req{1: list<SQL*Constraint{1: catName, 2: table_db, 3: table_name}>}) */
const CONSTRAINTS = { db: [1, 1, '*', 2], table: [1, 1, '*', 3], catalog: [1, 1, '*', 1] } as const;
// What cached answers depend on (src/cache/): only reads whose answer is a function of the metastore's
// objects and the caller. Never the *_with_auth forms (privileges) nor anything of transactions.
const TABLE: CacheShape = { depends: 'table' };
const DATABASE: CacheShape = { depends: 'database' };
const DATABASES: CacheShape = { depends: 'databases' };
const TABLES: CacheShape = { depends: 'tables' };
/** (1: CompactionInfoStruct{2: dbname, 3: tablename}) */
const CINFO = { db: [1, 2], table: [1, 3] } as const;
/** (1: ISchemaName{1: catName, 2: dbName, 3: schemaName}) */
const ISCHEMA_NAME = { db: [1, 2], catalog: [1, 1] } as const;
/** (1: SchemaVersionDescriptor{1: ISchemaName}) */
const SCHEMA_VERSION = { db: [1, 1, 2], catalog: [1, 1, 1] } as const;

export const METHOD_CATALOG: readonly MethodEntry[] = [
  // --- fb303 base service (FacebookService); reinitialize and shutdown are oneway ---
  global('getName', false, FB),
  global('getVersion', false, FB),
  global('getStatus', false, FB),
  global('getStatusDetails', false, FB),
  global('getCounters', false, FB),
  global('getCounter', false, FB),
  global('setOption', true, FB),
  global('getOption', false, FB),
  global('getOptions', false, FB),
  global('getCpuProfile', false, FB),
  global('aliveSince', false, FB),
  global('reinitialize', true, FB, { oneway: true }),
  global('shutdown', true, FB, { oneway: true }),

  // --- session state and server configuration ---
  // set_ugi / setMetaConf change only the state of the connection, not the metastore: mutates false.
  session('set_ugi', false, ALL, { meta: 1 }),
  session('setMetaConf', false, ALL, { meta: 1 }),
  session('getMetaConf', false, ALL, { meta: 1 }),
  global('get_config_value', false, ALL), // throws only ConfigValSecurityException
  global('flushCache', false, ALL), // drops server-side caches; no metadata change
  global('get_metastore_db_uuid', false, V3, { meta: 1 }),

  // --- catalogs (Hive 3+) ---
  global('create_catalog', true, V3, { catalog: [1, 1, 1], meta: 3 }), // CreateCatalogRequest{1: Catalog{1: name}}
  global('alter_catalog', true, V3, { catalog: [1, 1], meta: 3 }),
  global('get_catalog', false, V3, { catalog: [1, 1], meta: 2 }),
  global('get_catalogs', false, V3, { meta: 1 }),
  global('drop_catalog', true, V3, { catalog: [1, 1], meta: 3 }),

  // --- databases ---
  write('create_database', ALL, { db: [1, 1], catalog: [1, 8], meta: 3 }), // Database{1: name, 8: catalogName}
  write('create_database_req', V4, { db: [1, 1], catalog: [1, 8], meta: 3 }), // CreateDatabaseRequest{1: databaseName, 8: catalogName}
  read('get_database', ALL, { db: [1], meta: 2, cache: DATABASE }),
  read('get_database_req', V4, { db: [1, 1], catalog: [1, 2], meta: 2, cache: DATABASE }),
  write('drop_database', ALL, { db: [1], meta: 3 }),
  write('drop_database_req', V4, { db: [1, 1], catalog: [1, 2], meta: 3 }),
  read('get_databases', ALL, { fanOut: 'databases', meta: 1, cache: DATABASES }), // (1: pattern)
  read('get_all_databases', ALL, { fanOut: 'databases', meta: 1, cache: DATABASES }),
  read('get_databases_req', V4, { fanOut: 'databases', catalog: [1, 1], meta: 1 }), // GetDatabaseObjectsRequest{1: catalogName, 2: pattern}
  write('alter_database', ALL, { db: [1], otherDbs: [[2, 1]], catalog: [2, 8], meta: 1 }),
  write('alter_database_req', V4, { db: [1, 1], otherDbs: [[1, 2, 1]], catalog: [1, 2, 8], meta: 1 }), // {1: oldDbName, 2: newDb}

  // --- data connectors (Hive 4): metastore-wide objects, no database ---
  global('create_dataconnector', true, V4, { meta: 3 }), // 4.0.0 only
  global('create_dataconnector_req', true, V4, { meta: 3 }),
  global('get_dataconnector_req', false, V4, { meta: 2 }),
  global('get_dataconnectors', false, V4, { meta: 1 }),
  global('alter_dataconnector', true, V4, { meta: 1 }), // 4.0.0 only
  global('alter_dataconnector_req', true, V4, { meta: 1 }),
  global('drop_dataconnector', true, V4, { meta: 3 }), // 4.0.0 only
  global('drop_dataconnector_req', true, V4, { meta: 3 }),

  // --- legacy user-defined types: metastore-wide, no database ---
  write('create_type', ALL, { meta: 3 }),
  write('drop_type', ALL, { meta: 1 }),
  read('get_type', ALL, { meta: 1 }),
  read('get_type_all', ALL, { meta: 1 }),

  // --- tables: reads ---
  read('get_fields', ALL, { ...DT, meta: 1 }),
  read('get_fields_with_environment_context', ALL, { ...DT, meta: 1 }),
  read('get_fields_req', V4, { ...REQ_CDT, meta: 1 }),
  read('get_schema', ALL, { ...DT, meta: 1 }),
  read('get_schema_with_environment_context', ALL, { ...DT, meta: 1 }),
  read('get_schema_req', V4, { ...REQ_CDT, meta: 1 }),
  read('get_tables', ALL, { db: [1], meta: 1, cache: TABLES }),
  read('get_tables_by_type', ALL, { db: [1], meta: 1, cache: TABLES }),
  read('get_all_tables', ALL, { db: [1], meta: 1, cache: TABLES }),
  read('get_tables_ext', V4, { db: [1, 2], catalog: [1, 1], meta: 1 }), // GetTablesExtRequest{1: catalog, 2: database}
  read('get_table_meta', ALL, { fanOut: 'table-meta', meta: 1 }), // (1: db_patterns, 2: tbl_patterns, 3: tbl_types)
  read('get_table', ALL, { ...DT, meta: 1, cache: TABLE }), // removed in 4.0.1
  read('get_table_req', ALL, { ...req12(4), meta: 1, cache: TABLE }), // GetTableRequest{1: dbName, 2: tblName, 4: catName}
  // (1: dbname, 2: list<string> tbl_names); removed in 4.0.1. Declares no exceptions in 2.3.0-2.3.9,
  // 3.1 and 4.0.0; 2.3.10 added throws (1: MetaException, ...): 3.1 layout kept (no metaException).
  read('get_table_objects_by_name', ALL, { db: [1] }),
  read('get_table_objects_by_name_req', ALL, { db: [1, 1], catalog: [1, 4], meta: 1 }), // GetTablesRequest
  read('get_table_names_by_filter', ALL, { db: [1], meta: 1 }),
  read('get_materialized_views_for_rewriting', V3, { db: [1], meta: 1 }),
  // Lists materialized views of every database: answered by the default metastore only.
  read('get_all_materialized_view_objects_for_rewriting', V4, { meta: 1 }),
  // (1: CreationMetadata{1: catName, 2: dbName, 3: tblName}, 2: validTxnList)
  read('get_materialization_invalidation_info', V3, { ...REQ_CDT, meta: 1 }),
  read('translate_table_dryrun', V4, { db: [1, 1, 2], table: [1, 1, 1], catalog: [1, 1, 17], meta: 3 }), // CreateTableRequest{1: Table}; dry run

  // --- tables: writes ---
  write('create_table', ALL, { ...TBL, meta: 3 }),
  write('create_table_with_environment_context', ALL, { ...TBL, meta: 3 }),
  // Foreign keys (3: list<SQLForeignKey{1: pktable_db}>) may reference a table of another database.
  write('create_table_with_constraints', ALL, { ...TBL, otherDbs: [[3, '*', 1]], meta: 3 }),
  write('create_table_req', V4, {
    db: [1, 1, 2],
    table: [1, 1, 1],
    catalog: [1, 1, 17],
    otherDbs: [[1, 4, '*', 1]], // CreateTableRequest{4: list<SQLForeignKey{1: pktable_db}>}
    meta: 3,
  }),
  write('drop_table', ALL, { ...DT, meta: 2 }),
  write('drop_table_with_environment_context', ALL, { ...DT, meta: 2 }),
  write('drop_table_req', V4, { ...REQ_CDT, meta: 2 }), // DropTableRequest{1: catalogName, 2: dbName, 3: tableName}
  write('truncate_table', V3, { ...DT, meta: 1 }),
  write('truncate_table_req', V4, { ...req12(), meta: 1 }),
  // alter_table* may rename a table into another database: the new Table's dbName is in otherDbs.
  write('alter_table', ALL, { ...DT, otherDbs: [[3, 2]], catalog: [3, 17], meta: 2 }),
  write('alter_table_with_environment_context', ALL, { ...DT, otherDbs: [[3, 2]], catalog: [3, 17], meta: 2 }),
  write('alter_table_with_cascade', ALL, { ...DT, otherDbs: [[3, 2]], catalog: [3, 17], meta: 2 }),
  write('alter_table_req', V4, { ...REQ_CDT, otherDbs: [[1, 4, 2]], meta: 2 }), // AlterTableRequest{4: Table}
  write('update_creation_metadata', V3, { db: [2], table: [3], catalog: [1], meta: 1 }), // (1: catName, 2: dbname, 3: tbl_name, ...)

  // --- constraints ---
  read('get_primary_keys', ALL, { ...req12(3), meta: 1, cache: TABLE }), // PrimaryKeysRequest{1: db_name, 2: tbl_name, 3: catName}
  // ForeignKeysRequest{1: parent_db_name, 2: parent_tbl_name, 3: foreign_db_name, 4: foreign_tbl_name, 5: catName}:
  // clients ask for the keys of the foreign (child) table; the parent may be unset or in another database.
  read('get_foreign_keys', ALL, { db: [1, 3], table: [1, 4], otherDbs: [[1, 1]], catalog: [1, 5], meta: 1 }),
  read('get_unique_constraints', V3, { ...REQ_CDT, meta: 1, cache: TABLE }),
  read('get_not_null_constraints', V3, { ...REQ_CDT, meta: 1 }),
  read('get_default_constraints', V3, { ...REQ_CDT, meta: 1 }),
  read('get_check_constraints', V3, { ...REQ_CDT, meta: 1 }),
  read('get_all_table_constraints', V4, { ...req12(3), meta: 1 }), // AllTableConstraintsRequest{1: dbName, 2: tblName, 3: catName}
  // AddPrimaryKeyRequest{1: list<SQLPrimaryKey{1: table_db, 2: table_name, 9: catName}>}
  write('add_primary_key', ALL, { db: [1, 1, '*', 1], table: [1, 1, '*', 2], catalog: [1, 1, '*', 9], meta: 2 }),
  // AddForeignKeyRequest{1: list<SQLForeignKey{1: pktable_db, 4: fktable_db, 5: fktable_name, 15: catName}>}:
  // the key is added to the foreign (child) table; the referenced table may be in another database.
  write('add_foreign_key', ALL, {
    db: [1, 1, '*', 4],
    table: [1, 1, '*', 5],
    otherDbs: [[1, 1, '*', 1]],
    catalog: [1, 1, '*', 15],
    meta: 2,
  }),
  write('add_unique_constraint', V3, { ...CONSTRAINTS, meta: 2 }),
  write('add_not_null_constraint', V3, { ...CONSTRAINTS, meta: 2 }),
  write('add_default_constraint', V3, { ...CONSTRAINTS, meta: 2 }),
  write('add_check_constraint', V3, { ...CONSTRAINTS, meta: 2 }),
  write('drop_constraint', ALL, { ...req12(4), meta: 2 }), // DropConstraintRequest{1: dbname, 2: tablename, 4: catName}

  // --- partitions: writes ---
  write('add_partition', ALL, { ...PART, meta: 3 }),
  write('add_partition_with_environment_context', ALL, { ...PART, meta: 3 }),
  write('add_partitions', ALL, { db: [1, '*', 2], table: [1, '*', 3], catalog: [1, '*', 9], meta: 3 }),
  // list<PartitionSpec{1: dbName, 2: tableName, 6: catName}>
  write('add_partitions_pspec', ALL, { db: [1, '*', 1], table: [1, '*', 2], catalog: [1, '*', 6], meta: 3 }),
  write('add_partitions_req', ALL, { ...req12(6), meta: 3 }), // AddPartitionsRequest{1: dbName, 2: tblName, 6: catName}
  write('append_partition', ALL, { ...DT, meta: 3 }),
  write('append_partition_with_environment_context', ALL, { ...DT, meta: 3 }),
  write('append_partition_by_name', ALL, { ...DT, meta: 3 }),
  write('append_partition_by_name_with_environment_context', ALL, { ...DT, meta: 3 }),
  write('append_partition_req', V4, { ...REQ_CDT, meta: 3 }), // AppendPartitionsRequest{1: catalogName, 2: dbName, 3: tableName}
  write('drop_partition', ALL, { ...DT, meta: 2 }),
  write('drop_partition_with_environment_context', ALL, { ...DT, meta: 2 }),
  write('drop_partition_by_name', ALL, { ...DT, meta: 2 }),
  write('drop_partition_by_name_with_environment_context', ALL, { ...DT, meta: 2 }),
  write('drop_partition_req', V4, { ...REQ_CDT, meta: 2 }),
  write('drop_partitions_req', ALL, { ...req12(9), meta: 2 }), // DropPartitionsRequest{1: dbName, 2: tblName, 9: catName}
  // (1: partitionSpecs, 2: source_db, 3: source_table_name, 4: dest_db, 5: dest_table_name)
  write('exchange_partition', ALL, { db: [2], table: [3], otherDbs: [[4]], meta: 1 }),
  write('exchange_partitions', ALL, { db: [2], table: [3], otherDbs: [[4]], meta: 1 }),
  write('alter_partition', ALL, { ...DT, meta: 2 }),
  write('alter_partition_with_environment_context', ALL, { ...DT, meta: 2 }),
  write('alter_partitions', ALL, { ...DT, meta: 2 }),
  write('alter_partitions_with_environment_context', ALL, { ...DT, meta: 2 }),
  write('alter_partitions_req', V4, { ...REQ_CDT, meta: 2 }), // AlterPartitionsRequest{1: catName, 2: dbName, 3: tableName}
  write('rename_partition', ALL, { ...DT, meta: 2 }),
  write('rename_partition_req', V4, { ...REQ_CDT, meta: 2 }),
  write('markPartitionForEvent', ALL, { ...DT, meta: 1 }),

  // --- partitions: reads ---
  read('get_partition', ALL, { ...DT, meta: 1, cache: TABLE }),
  read('get_partition_req', V4, { ...REQ_CDT, meta: 1 }),
  read('get_partition_with_auth', ALL, { ...DT, meta: 1 }),
  read('get_partition_by_name', ALL, { ...DT, meta: 1 }),
  read('get_partitions', ALL, { ...DT, meta: 2, listing: { names: 'all', maxParts: 3, noSuchObject: 1 } }),
  read('get_partitions_req', V4, { ...REQ_CDT, meta: 2 }), // PartitionsRequest{1: catName, 2: dbName, 3: tblName}
  read('get_partitions_with_auth', ALL, { ...DT, meta: 2, listing: { names: 'all', maxParts: 3, noSuchObject: 1, withAuth: true } }),
  read('get_partitions_pspec', ALL, { ...DT, meta: 2 }),
  // MetaException is field 1 in 2.3 (throws only MetaException) and 2 from 3.0 on: 3.1 layout kept.
  read('get_partition_names', ALL, { ...DT, meta: 2, cache: TABLE }),
  read('fetch_partition_names_req', V4, { ...REQ_CDT, meta: 2 }), // PartitionsRequest
  read('get_partition_values', ALL, { ...req12(9), meta: 1 }), // PartitionValuesRequest{1: dbName, 2: tblName, 9: catName}
  read('get_partitions_ps', ALL, { ...DT, meta: 1, listing: { names: 'spec', partVals: 3, maxParts: 4, noSuchObject: 2 } }),
  read('get_partitions_ps_with_auth', ALL, { ...DT, meta: 2, listing: { names: 'spec', partVals: 3, maxParts: 4, noSuchObject: 1, withAuth: true } }),
  read('get_partitions_ps_with_auth_req', V4, { ...REQ_CDT, meta: 1 }),
  read('get_partition_names_ps', ALL, { ...DT, meta: 1, cache: TABLE }),
  read('get_partition_names_ps_req', V4, { ...REQ_CDT, meta: 1 }),
  read('get_partition_names_req', V4, { ...req12(6), meta: 1 }), // PartitionsByExprRequest{1: dbName, 2: tblName, 6: catName}
  read('get_partitions_by_filter', ALL, { ...DT, meta: 1, listing: { names: 'filter', filter: 3, maxParts: 4, noSuchObject: 2 } }),
  read('get_partitions_by_filter_req', V4, { ...REQ_CDT, meta: 1 }),
  read('get_part_specs_by_filter', ALL, { ...DT, meta: 1 }),
  read('get_partitions_by_expr', ALL, { ...req12(6), meta: 1 }), // PartitionsByExprRequest
  read('get_partitions_spec_by_expr', V4, { ...req12(6), meta: 1 }),
  read('get_num_partitions_by_filter', ALL, { ...DT, meta: 1 }),
  read('get_partitions_by_names', ALL, { ...DT, meta: 1, listing: { names: 'given', givenNames: 3, noSuchObject: 2 }, cache: { depends: 'table', partitionNames: 3 } }),
  read('get_partitions_by_names_req', V4, { ...req12(), meta: 1 }), // GetPartitionsByNamesRequest{1: db_name, 2: tbl_name}: no catName
  read('get_partitions_with_specs', V4, { ...REQ_CDT, meta: 1 }), // GetPartitionsRequest{1: catName, 2: dbName, 3: tblName}
  read('isPartitionMarkedForEvent', ALL, { ...DT, meta: 1 }),
  // Pure helpers on partition names: no database, answered by the default metastore.
  read('partition_name_has_valid_characters', ALL, { meta: 1 }),
  read('partition_name_to_vals', ALL, { meta: 1 }),
  read('partition_name_to_spec', ALL, { meta: 1 }),

  // --- indexes (Hive 2.3 only; removed in 3.0) ---
  write('add_index', V2, { db: [1, 3], table: [1, 4], meta: 3 }), // (1: Index{3: dbName, 4: origTableName}, 2: Table index_table)
  write('alter_index', V2, { ...DT, meta: 2 }),
  write('drop_index_by_name', V2, { ...DT, meta: 2 }),
  read('get_index_by_name', V2, { ...DT, meta: 1 }),
  read('get_indexes', V2, { ...DT, meta: 2 }),
  read('get_index_names', V2, { ...DT, meta: 1 }),

  // --- column statistics ---
  write('update_table_column_statistics', ALL, { ...COLSTATS, meta: 3 }),
  write('update_partition_column_statistics', ALL, { ...COLSTATS, meta: 3 }),
  write('update_table_column_statistics_req', V4, { ...SETSTATS, meta: 3 }),
  write('update_partition_column_statistics_req', V4, { ...SETSTATS, meta: 3 }),
  write('set_aggr_stats_for', ALL, { ...SETSTATS, meta: 3 }),
  write('delete_partition_column_statistics', ALL, { ...DT, meta: 2 }),
  write('delete_table_column_statistics', ALL, { ...DT, meta: 2 }),
  write('delete_column_statistics_req', V4, { ...REQ_CDT, meta: 2 }), // DeleteColumnStatisticsRequest{1: cat_name, 2: db_name, 3: tbl_name}
  read('get_table_column_statistics', ALL, { ...DT, meta: 2 }),
  read('get_partition_column_statistics', ALL, { ...DT, meta: 2 }),
  read('get_table_statistics_req', ALL, { ...req12(4), meta: 2 }), // TableStatsRequest{1: dbName, 2: tblName, 4: catName}
  read('get_partitions_statistics_req', ALL, { ...req12(5), meta: 2 }), // PartitionsStatsRequest{..., 5: catName}
  read('get_aggr_stats_for', ALL, { ...req12(5), meta: 2 }), // PartitionsStatsRequest

  // --- file metadata cache (ORC footers), addressed by file id ---
  read('get_file_metadata_by_expr', ALL),
  read('get_file_metadata', ALL),
  write('put_file_metadata', ALL),
  write('clear_file_metadata', ALL),
  write('cache_file_metadata', ALL, req12()), // CacheFileMetadataRequest{1: dbName, 2: tblName}

  // --- functions ---
  write('create_function', ALL, { db: [1, 2], catalog: [1, 9], meta: 3 }), // Function{1: functionName, 2: dbName, 9: catName}
  write('drop_function', ALL, { db: [1], meta: 2 }),
  // (1: dbName, 2: funcName, 3: Function newFunc): the metastore moves the function to newFunc's database.
  write('alter_function', ALL, { db: [1], otherDbs: [[3, 2]], catalog: [3, 9], meta: 2 }),
  read('get_functions', ALL, { db: [1], meta: 1 }),
  read('get_functions_req', V4, { db: [1, 1], catalog: [1, 2], meta: 1 }), // GetFunctionsRequest{1: dbName, 2: catalogName}
  read('get_function', ALL, { db: [1], meta: 1 }),
  // Functions of every database: answered by the default metastore only.
  read('get_all_functions', ALL, { meta: 1 }),

  // --- stored procedures and packages (Hive 4) ---
  write('create_stored_procedure', V4, { db: [1, 2], catalog: [1, 3], meta: 2 }), // StoredProcedure{1: name, 2: dbName, 3: catName}
  read('get_stored_procedure', V4, { db: [1, 2], catalog: [1, 1], meta: 1 }), // StoredProcedureRequest{1: catName, 2: dbName}
  write('drop_stored_procedure', V4, { db: [1, 2], catalog: [1, 1], meta: 1 }),
  read('get_all_stored_procedures', V4, { db: [1, 2], catalog: [1, 1], meta: 1 }), // dbName is optional
  read('find_package', V4, { db: [1, 2], catalog: [1, 1], meta: 1 }),
  write('add_package', V4, { db: [1, 2], catalog: [1, 1], meta: 1 }),
  read('get_all_packages', V4, { db: [1, 2], catalog: [1, 1], meta: 1 }), // dbName is optional
  write('drop_package', V4, { db: [1, 2], catalog: [1, 1], meta: 1 }),

  // --- transactions and locks ---
  txn('get_open_txns', false, ALL),
  txn('get_open_txns_info', false, ALL),
  txn('get_open_txns_req', false, V4),
  txn('open_txns', true, ALL),
  txn('abort_txn', true, ALL),
  txn('abort_txns', true, ALL),
  txn('commit_txn', true, ALL),
  txn('get_latest_txnid_in_conflict', false, V4, { meta: 1 }),
  txn('seed_txn_id', true, V4, { meta: 1 }),
  // ReplTblWriteIdStateRequest{4: dbName, 5: tableName}
  txn('repl_tbl_writeid_state', true, V3, { db: [1, 4], table: [1, 5] }),
  // GetValidWriteIdsRequest names tables as "db.table" strings (1: fullTableNames): no db field.
  txn('get_valid_write_ids', false, V3, { meta: 2 }),
  txn('add_write_ids_to_min_history', true, V4, { meta: 1 }),
  txn('allocate_table_write_ids', true, V3, { ...req12(), meta: 3 }), // AllocateTableWriteIdsRequest{1: dbName, 2: tableName}
  txn('get_max_allocated_table_write_id', false, V4, { ...req12(), meta: 1 }),
  txn('seed_write_id', true, V4, { ...req12(), meta: 1 }),
  // LockRequest{1: list<LockComponent{3: dbname, 4: tablename}>}
  txn('lock', true, ALL, { db: [1, 1, '*', 3], table: [1, 1, '*', 4] }),
  txn('check_lock', true, ALL), // may acquire a waiting lock
  txn('unlock', true, ALL),
  txn('show_locks', false, ALL, req12()), // ShowLocksRequest{1: dbname, 2: tablename}: optional filters
  txn('heartbeat', true, ALL),
  txn('heartbeat_txn_range', true, ALL),
  // AddDynamicPartitions{3: dbname, 4: tablename} (3.1 layout; in 2.3 dbname is 2 and tablename 3).
  txn('add_dynamic_partitions', true, ALL, { db: [1, 3], table: [1, 4] }),
  // Hive 4's update of basic stats inside a transaction, addressed by table id.
  txn('update_transaction_statistics', true, V4, { meta: 1 }),
  txn('get_lock_materialization_rebuild', true, V3, DT), // takes the rebuild lock
  txn('heartbeat_lock_materialization_rebuild', true, V3, DT),

  // --- compaction ---
  txn('compact', true, ALL, req12()), // CompactionRequest{1: dbname, 2: tablename}
  txn('compact2', true, ALL, req12()),
  txn('submit_for_cleanup', true, V4, { ...req12(), meta: 1 }),
  // ShowCompactRequest has no fields in 2.3/3.1; Hive 4 adds the filters {3: dbName, 4: tbName}.
  txn('show_compact', false, ALL, { db: [1, 3], table: [1, 4] }),
  txn('abort_Compactions', true, V4),
  txn('find_next_compact', true, V4, { meta: 1 }), // claims the compaction for a worker
  txn('find_next_compact2', true, V4, { meta: 1 }),
  txn('update_compactor_state', true, V4, CINFO),
  txn('find_columns_with_stats', false, V4, CINFO),
  txn('mark_cleaned', true, V4, { ...CINFO, meta: 1 }),
  txn('mark_compacted', true, V4, { ...CINFO, meta: 1 }),
  txn('mark_failed', true, V4, { ...CINFO, meta: 1 }),
  txn('mark_refused', true, V4, { ...CINFO, meta: 1 }),
  txn('set_hadoop_jobid', true, V4),
  txn('get_latest_committed_compaction_info', false, V4, req12()), // {1: dbname, 2: tablename}
  txn('update_compaction_metrics_data', true, V4, { ...req12(), meta: 1 }), // CompactionMetricsDataStruct{1: dbname, 2: tblname}
  txn('remove_compaction_metrics_data', true, V4, { ...req12(), meta: 1 }),

  // --- notifications and replication bookkeeping ---
  // NotificationEventRequest: Hive 4 adds the optional filters {4: catName, 5: dbName}.
  txn('get_next_notification', false, ALL, { db: [1, 5], catalog: [1, 4] }),
  txn('get_current_notificationEventId', false, ALL),
  txn('get_notification_events_count', false, V3, { db: [1, 2], catalog: [1, 3] }), // {2: dbName, 3: catName}
  // FireEventRequest{3: dbName, 4: tableName, 6: catName}
  txn('fire_listener_event', true, ALL, { db: [1, 3], table: [1, 4], catalog: [1, 6] }),
  txn('cm_recycle', true, V3, { meta: 1 }),
  txn('add_write_notification_log', true, V4, { db: [1, 3], table: [1, 4] }), // WriteNotificationLogRequest{3: db, 4: table}
  // WriteNotificationLogBatchRequest{1: catalog, 2: db, 3: table}
  txn('add_write_notification_log_in_batch', true, V4, { db: [1, 2], table: [1, 3], catalog: [1, 1] }),
  txn('get_all_write_event_info', false, V4, { db: [1, 2], table: [1, 3], meta: 1 }),
  txn('add_replication_metrics', true, V4, { meta: 1 }),
  txn('get_replication_metrics', false, V4, { meta: 1 }),

  // --- roles ---
  global('create_role', true, ALL, { meta: 1 }),
  global('drop_role', true, ALL, { meta: 1 }),
  global('get_role_names', false, ALL, { meta: 1 }),
  global('grant_role', true, ALL, { meta: 1 }),
  global('revoke_role', true, ALL, { meta: 1 }),
  global('grant_revoke_role', true, ALL, { meta: 1 }),
  global('list_roles', false, ALL, { meta: 1 }),
  global('get_principals_in_role', false, ALL, { meta: 1 }),
  global('get_role_grants_for_principal', false, ALL, { meta: 1 }),

  // --- privileges ---
  // Privileges on a database object (HiveObjectRef{2: dbName, 6: catName}) are stored with that object,
  // so these are classified by effect and carry the database; a GLOBAL object leaves dbName unset.
  read('get_privilege_set', ALL, { db: [1, 2], catalog: [1, 6], meta: 1 }), // (1: HiveObjectRef, 2: user, 3: groups)
  read('list_privileges', ALL, { db: [3, 2], catalog: [3, 6], meta: 1 }), // (1: principal, 2: type, 3: HiveObjectRef)
  // PrivilegeBag{1: list<HiveObjectPrivilege{1: HiveObjectRef}>}
  write('grant_privileges', ALL, { db: [1, 1, '*', 1, 2], catalog: [1, 1, '*', 1, 6], meta: 1 }),
  write('revoke_privileges', ALL, { db: [1, 1, '*', 1, 2], catalog: [1, 1, '*', 1, 6], meta: 1 }),
  // GrantRevokePrivilegeRequest{2: PrivilegeBag}
  write('grant_revoke_privileges', ALL, { db: [1, 2, 1, '*', 1, 2], catalog: [1, 2, 1, '*', 1, 6], meta: 1 }),
  write('refresh_privileges', V3, { db: [1, 2], catalog: [1, 6], meta: 1 }), // (1: HiveObjectRef objToRefresh, ...)

  // --- delegation tokens and master keys ---
  global('get_delegation_token', true, ALL, { meta: 1, credentials: 'token-get' }),
  global('renew_delegation_token', true, ALL, { meta: 1, credentials: 'token' }),
  global('cancel_delegation_token', true, ALL, { meta: 1, credentials: 'token' }),
  global('add_token', true, ALL, { credentials: 'store' }),
  global('remove_token', true, ALL, { credentials: 'store' }),
  global('get_token', false, ALL, { credentials: 'store' }),
  global('get_all_token_identifiers', false, ALL, { credentials: 'store' }),
  global('add_master_key', true, ALL, { meta: 1, credentials: 'store' }),
  global('update_master_key', true, ALL, { meta: 2, credentials: 'store' }),
  global('remove_master_key', true, ALL, { credentials: 'store' }),
  global('get_master_keys', false, ALL, { credentials: 'store' }),

  // --- workload management: resource plans, triggers, pools, mappings ---
  global('create_resource_plan', true, V3, { meta: 3 }),
  global('get_resource_plan', false, V3, { meta: 2 }),
  global('get_active_resource_plan', false, V3, { meta: 1 }),
  global('get_all_resource_plans', false, V3, { meta: 1 }),
  global('alter_resource_plan', true, V3, { meta: 3 }),
  global('validate_resource_plan', false, V3, { meta: 2 }),
  global('drop_resource_plan', true, V3, { meta: 3 }),
  global('create_wm_trigger', true, V3, { meta: 4 }),
  global('alter_wm_trigger', true, V3, { meta: 3 }),
  global('drop_wm_trigger', true, V3, { meta: 3 }),
  global('get_triggers_for_resourceplan', false, V3, { meta: 2 }),
  global('create_wm_pool', true, V3, { meta: 4 }),
  global('alter_wm_pool', true, V3, { meta: 4 }),
  global('drop_wm_pool', true, V3, { meta: 3 }),
  global('create_or_update_wm_mapping', true, V3, { meta: 4 }),
  global('drop_wm_mapping', true, V3, { meta: 3 }),
  global('create_or_drop_wm_trigger_to_pool_mapping', true, V3, { meta: 4 }),

  // --- schema registry (ISchema lives in a database: classified by effect) ---
  write('create_ischema', V3, { db: [1, 4], catalog: [1, 3], meta: 3 }), // ISchema{3: catName, 4: dbName}
  write('alter_ischema', V3, { db: [1, 1, 2], catalog: [1, 1, 1], meta: 2 }), // AlterISchemaRequest{1: ISchemaName}
  read('get_ischema', V3, { ...ISCHEMA_NAME, meta: 2 }),
  write('drop_ischema', V3, { ...ISCHEMA_NAME, meta: 3 }),
  write('add_schema_version', V3, { ...SCHEMA_VERSION, meta: 3 }), // SchemaVersion{1: ISchemaName}
  read('get_schema_version', V3, { ...SCHEMA_VERSION, meta: 2 }),
  read('get_schema_latest_version', V3, { ...ISCHEMA_NAME, meta: 2 }),
  read('get_schema_all_versions', V3, { ...ISCHEMA_NAME, meta: 2 }),
  write('drop_schema_version', V3, { ...SCHEMA_VERSION, meta: 2 }),
  global('get_schemas_by_cols', false, V3, { meta: 1 }), // searches every database
  // {1: SchemaVersionDescriptor{1: ISchemaName}}
  write('map_schema_version_to_serde', V3, { db: [1, 1, 1, 2], catalog: [1, 1, 1, 1], meta: 2 }),
  write('set_schema_version_state', V3, { db: [1, 1, 1, 2], catalog: [1, 1, 1, 1], meta: 3 }),
  global('add_serde', true, V3, { meta: 2 }),
  global('get_serde', false, V3, { meta: 2 }),

  // --- runtime statistics ---
  global('add_runtime_stats', true, V3, { meta: 1 }),
  global('get_runtime_stats', false, V3, { meta: 1 }),

  // --- scheduled queries (Hive 4) ---
  global('scheduled_query_poll', true, V4, { meta: 1 }), // marks the polled query as executing
  global('scheduled_query_maintenance', true, V4, { meta: 1 }),
  global('scheduled_query_progress', true, V4, { meta: 1 }),
  global('get_scheduled_query', false, V4, { meta: 1 }),

  // --- metastore properties (Hive 4) ---
  global('get_properties', false, V4, { meta: 1 }),
  global('set_properties', true, V4, { meta: 1 }),
];

const BY_NAME: ReadonlyMap<string, MethodEntry> = new Map(METHOD_CATALOG.map((e) => [e.name, e]));

/** The catalog entry of a Thrift method name, or undefined for a name no known version declares. */
export function findMethod(name: string): MethodEntry | undefined {
  return BY_NAME.get(name);
}
