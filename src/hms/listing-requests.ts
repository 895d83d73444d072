/**
 * The calls the router makes on its own behalf to plan and run a batched partition listing. The
 * database and table are the client's own encoded strings, copied as they came, so a
 * catalog-qualified name ("@cat#db") reaches the metastore exactly as the client wrote it.
 */
import { BinaryWriter } from '../thrift/binary-writer';
import { MessageType, TType } from '../thrift/protocol';
import { parseDbName } from './db-name';

/** The encoded arguments of a listing call that its sub-calls reuse. */
export interface ListingArgs {
  /** Encoded string values (4-byte length, then the bytes). */
  readonly db: Buffer;
  readonly table: Buffer;
  /** max_parts as the client sent it (-1 when absent). */
  readonly maxParts: number;
  /** Encoded list<string> of a partial partition spec, when the call has one. */
  readonly partVals: Buffer | null;
}

const SEQID = 0; // every backend connection carries one call at a time; the reply's seqid is not used

/** get_partition_names(1: db, 2: tbl, 3: i16 max_parts) */
export function partitionNamesCall(args: ListingArgs, maxParts: number): Buffer {
  return new BinaryWriter(64 + args.db.length + args.table.length)
    .messageBegin('get_partition_names', MessageType.CALL, SEQID)
    .fieldBegin(TType.STRING, 1).raw(args.db)
    .fieldBegin(TType.STRING, 2).raw(args.table)
    .fieldBegin(TType.I16, 3).i16(maxParts)
    .fieldStop().finish();
}

/** get_partition_names_ps(1: db, 2: tbl, 3: list<string> part_vals, 4: i16 max_parts) */
export function partitionNamesPsCall(args: ListingArgs, partVals: Buffer, maxParts: number): Buffer {
  return new BinaryWriter(64 + args.db.length + args.table.length + partVals.length)
    .messageBegin('get_partition_names_ps', MessageType.CALL, SEQID)
    .fieldBegin(TType.STRING, 1).raw(args.db)
    .fieldBegin(TType.STRING, 2).raw(args.table)
    .fieldBegin(TType.LIST, 3).raw(partVals)
    .fieldBegin(TType.I16, 4).i16(maxParts)
    .fieldStop().finish();
}

/**
 * get_table_req(1: GetTableRequest{1: dbName, 2: tblName, 4: catName}): present in Hive 3.0 and
 * later (get_table itself is gone from 4.0.1). The request struct has its own catalog field, so a
 * catalog-qualified database name is split here.
 */
export function tableCall(args: ListingArgs): Buffer {
  const raw = args.db.toString('utf8', 4);
  const { catalog, db } = parseDbName(raw);
  const w = new BinaryWriter(64 + args.db.length + args.table.length)
    .messageBegin('get_table_req', MessageType.CALL, SEQID)
    .fieldBegin(TType.STRUCT, 1)
    .fieldBegin(TType.STRING, 1).string(db ?? '')
    .fieldBegin(TType.STRING, 2).raw(args.table);
  if (catalog !== null) w.fieldBegin(TType.STRING, 4).string(catalog);
  return w.fieldStop().fieldStop().finish();
}

/**
 * get_partitions_by_names(1: db, 2: tbl, 3: list<string> names), the names given as encoded
 * strings laid end to end (as a names reply or a client's list carries them).
 */
export function partitionsByNamesCall(args: ListingArgs, count: number, encodedNames: readonly Buffer[]): Buffer {
  let size = 64 + args.db.length + args.table.length;
  for (const part of encodedNames) size += part.length;
  const w = new BinaryWriter(size)
    .messageBegin('get_partitions_by_names', MessageType.CALL, SEQID)
    .fieldBegin(TType.STRING, 1).raw(args.db)
    .fieldBegin(TType.STRING, 2).raw(args.table)
    .fieldBegin(TType.LIST, 3).listBegin(TType.STRING, count);
  for (const part of encodedNames) w.raw(part);
  return w.fieldStop().finish();
}
