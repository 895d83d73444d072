/**
 * The shape of one entry of the HMS method catalog (src/hms/catalog.ts).
 *
 * The catalog is data: routing, consistency, batching, flow control and metrics read these fields
 * instead of special-casing method names in code.
 */

/**
 * - read:    no side effect; may be served by a replica whose GTID covers the session's.
 * - write:   changes metastore state; goes to the primary and advances the session's GTID.
 * - session: changes the state of the metastore connection itself (set_ugi, setMetaConf).
 * - txn:     transactions, locks, write ids, compactions, replication/notification bookkeeping.
 * - global:  metastore-wide administration not tied to one database (catalogs, roles, privileges,
 *            tokens, resource plans, configuration, fb303).
 */
export type MethodKind = 'read' | 'write' | 'session' | 'txn' | 'global';

/** Interface versions a method appears in. 'fb303' is the FacebookService base service. */
export type InterfaceVersion = '2.3' | '3.1' | '4' | 'fb303';

/**
 * A path to a string field inside the call's argument struct: each number is a Thrift field id,
 * '*' steps into every element of a list. The last step names a string field.
 * Examples: get_table(1: dbname)            -> [1]
 *           get_table_req(1: GetTableRequest{1: dbName}) -> [1, 1]
 *           add_partitions(1: list<Partition{2: dbName}>) -> [1, '*', 2]
 */
export type FieldPath = readonly (number | '*')[];

/** How a call that names no database is answered when several metastores are federated. */
export type FanOut = 'databases' | 'table-meta';

/**
 * A partition listing the router may split into bounded batches (src/batching/): how it finds the
 * names to fetch, and where the call keeps the arguments that shape the answer.
 * - all:    every partition of the table (get_partition_names)
 * - spec:   a partial partition spec (get_partition_names_ps)
 * - filter: a filter string the router evaluates on names when it can do so exactly
 * - given:  the call lists the names itself
 */
export interface ListingShape {
  readonly names: 'all' | 'spec' | 'filter' | 'given';
  /** Argument field ids: i16 max_parts, list<string> part_vals, string filter, list<string> names. */
  readonly maxParts?: number;
  readonly partVals?: number;
  readonly filter?: number;
  readonly givenNames?: number;
  /** Field id of NoSuchObjectException in the result struct. */
  readonly noSuchObject: number;
  /** The with_auth forms add privileges when the table sets PARTITION_LEVEL_PRIVILEGE=TRUE. */
  readonly withAuth?: true;
}

/**
 * How the metadata cache (src/cache/) may keep this read's answers: the metastore objects an answer
 * depends on, so that the change feed's events invalidate it.
 * - table:     one table (its definition, partitions, constraints); also any change of its database
 * - database:  one database object
 * - databases: the list of databases of the call's catalog
 * - tables:    the table names of a database (any table created, dropped or altered in the catalog)
 * `partitionNames`: the argument field id of a list<string> of partition names; each partition of
 * the answer is kept on its own, so lists that overlap share entries.
 */
export interface CacheShape {
  readonly depends: 'table' | 'database' | 'databases' | 'tables';
  readonly partitionNames?: number;
}

export interface MethodEntry {
  readonly name: string;
  readonly kind: MethodKind;
  /** True when the call can change metastore state (used for read-only access and consistency). */
  readonly mutates: boolean;
  /** Where the database name lives in the arguments; absent when the call names no database. */
  readonly db?: FieldPath;
  /** Where the table name lives, when the call is about one table. */
  readonly table?: FieldPath;
  /** Where an explicit catalog name lives (request structs of Hive 3+). */
  readonly catalog?: FieldPath;
  /** Further database names the call touches (rename targets, exchange_partition destination). */
  readonly otherDbs?: readonly FieldPath[];
  /** Oneway calls get no reply. */
  readonly oneway?: true;
  /** Field id of MetaException in the method's result struct, when the method declares one. */
  readonly metaException?: number;
  /** For calls without a database: how a federation answers them (absent: the default metastore). */
  readonly fanOut?: FanOut;
  /** Interface versions that declare the method. */
  readonly versions: readonly InterfaceVersion[];
  /** For large partition listings: how the router batches them (absent: never batched). */
  readonly listing?: ListingShape;
  /**
   * The call is about credentials: 'token-get' issues a delegation token (args: 1 owner,
   * 2 renewer), 'token' renews or cancels one (arg 1: the token), 'store' reads or changes the
   * token store or master keys. See src/auth/credential-calls.ts for what the router does with them.
   */
  readonly credentials?: 'token-get' | 'token' | 'store';
  /** Reads whose answers the metadata cache may keep (absent: never cached). */
  readonly cache?: CacheShape;
}
