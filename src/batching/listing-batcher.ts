/**
 * Runs a large partition listing as bounded calls: find the names (cheap: the metastore's name
 * index), then get_partitions_by_names in batches of `batchSize` with at most `inFlight` at once,
 * then one reply assembled from the partitions as the metastore encoded them.
 *
 * Exactness is the rule: whenever the router cannot be sure that the batched answer equals the
 * unbatched one (a small listing, a filter it cannot evaluate exactly, partition-level privileges,
 * a planning call that failed), it says "pass through" and the client's call goes to the metastore
 * unchanged. The metastore orders every listing by partition name (PART_NAME, binary collation in
 * Hive's MySQL schema): batches are contiguous runs of that order, so their concatenation is the
 * unbatched order.
 */
import type { RawMessage } from '../thrift/message-reader';
import { BinaryWriter } from '../thrift/binary-writer';
import { MessageType, TType } from '../thrift/protocol';
import { findField, readString, skipValue } from '../thrift/value-reader';
import { decodeStruct, ThriftStruct, ThriftValue } from '../thrift/value-decoder';
import type { ListingShape, MethodEntry } from '../hms/method-entry';
import { ListingArgs, partitionNamesCall, partitionNamesPsCall, partitionsByNamesCall, tableCall } from '../hms/listing-requests';
import type { BatchingPolicy } from './batching-policy';
import { declaredExceptionField, EncodedStringList, readEncodedStringList, successList, successStruct } from './encoded-list';
import { compilePartitionFilter, PartitionKey } from './partition-filter';
import { byNameOrder, ordersAsBytes, partitionValuesFromName } from './partition-name';

/**
 * Sends a read the router built; it is routed like any client read (replicas, GTID rules). The
 * expected reply size, when known, lets the connection read the reply into one buffer.
 */
export type SubCall = (bytes: Buffer, expectedReplyBytes?: number) => Promise<RawMessage>;

/** Why a listing goes to the metastore unchanged (a metric label: a fixed set). */
export type PassReason =
  | 'small'                 // at most `threshold` partitions
  | 'bad_arguments'         // arguments the router cannot read: the metastore answers them
  | 'names_failed'          // the name listing failed (missing table, bad spec): the metastore's own answer
  | 'table_unreadable'      // the table (keys, parameters) could not be read
  | 'partition_privileges'  // the table has partition-level privileges (with_auth forms)
  | 'collation_sensitive_names' // given names the column's collation may order or match unlike bytes
  | 'filter_inexact'        // a filter the router cannot evaluate exactly
  | 'values_inexact';       // partition values the filter cannot compare exactly

type Pass = { readonly kind: 'pass'; readonly reason: PassReason; readonly detail?: string };

export type ListingResult =
  | Pass
  | {
    readonly kind: 'batched';
    /** The reply in parts: header, each batch's partitions, the end. Or one exception reply when a batch failed. */
    readonly chunks: Buffer[];
    readonly failed: boolean;
    readonly partitions: number;
    readonly batches: number;
  };

const pass = (reason: PassReason, detail?: string): Pass => ({ kind: 'pass', reason, detail });

/** [from, to) index ranges of at most `size` items covering `count` items in order. */
export function planBatches(count: number, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let from = 0; from < count; from += size) out.push([from, Math.min(count, from + size)]);
  return out;
}

export async function runListing(message: RawMessage, entry: MethodEntry, shape: ListingShape, policy: BatchingPolicy, send: SubCall): Promise<ListingResult> {
  const args = readListingArgs(message, shape);
  if (args === null) return pass('bad_arguments');
  let names: NameSource;
  switch (shape.names) {
    case 'given': {
      const given = givenNames(message, shape, policy);
      if ('kind' in given) return given;
      names = given;
      break;
    }
    case 'filter': {
      const filtered = await filteredNames(message, shape, args, policy, send);
      if ('kind' in filtered) return filtered;
      names = filtered;
      break;
    }
    default: {
      const listed = await listedNames(shape, args, send);
      if ('kind' in listed) return listed;
      names = listed;
    }
  }
  if (names.count <= policy.threshold) return pass('small');
  if (shape.withAuth === true) {
    const table = await readTable(args, send);
    if (table === null) return pass('table_unreadable');
    // The metastore attaches per-partition privileges only for such tables; by-names calls never do.
    if (String(tableParameter(table, 'PARTITION_LEVEL_PRIVILEGE') ?? '').toUpperCase() === 'TRUE') {
      return pass('partition_privileges');
    }
  }
  return fetchInBatches(message, entry, shape, args, names, policy, send);
}

/** The names a listing fetches, in the metastore's order, as encoded strings. */
interface NameSource {
  readonly count: number;
  /** Encoded names [from, to) laid end to end. */
  encoded(from: number, to: number): Buffer[];
}

function fromList(list: EncodedStringList): NameSource {
  return { count: list.count, encoded: (from, to) => [list.slice(from, to)] };
}

function fromSelection(list: EncodedStringList, selected: readonly number[]): NameSource {
  return {
    count: selected.length,
    encoded: (from, to) => selected.slice(from, to).map((i) => list.encoded(i)),
  };
}

function readListingArgs(message: RawMessage, shape: ListingShape): ListingArgs | null {
  const buf = message.bytes;
  const body = message.header.bodyOffset;
  const db = findField(buf, body, 1);
  const table = findField(buf, body, 2);
  if (db === null || db.type !== TType.STRING || table === null || table.type !== TType.STRING) return null;
  let maxParts = -1;
  if (shape.maxParts !== undefined) {
    const field = findField(buf, body, shape.maxParts);
    if (field !== null) {
      if (field.type !== TType.I16) return null;
      maxParts = buf.readInt16BE(field.offset);
    }
  }
  let partVals: Buffer | null = null;
  if (shape.partVals !== undefined) {
    const field = findField(buf, body, shape.partVals);
    if (field === null || field.type !== TType.LIST) return null;
    partVals = encodedValue(buf, field.offset, TType.LIST);
  }
  return {
    db: encodedValue(buf, db.offset, TType.STRING),
    table: encodedValue(buf, table.offset, TType.STRING),
    maxParts,
    partVals,
  };
}

function encodedValue(buf: Buffer, offset: number, type: TType): Buffer {
  return buf.subarray(offset, skipValue(buf, offset, type));
}

/** get_partitions, get_partitions_ps and their with_auth forms: the metastore lists the names. */
async function listedNames(shape: ListingShape, args: ListingArgs, send: SubCall): Promise<NameSource | Pass> {
  // listMPartitions (behind get_partitions_with_auth) reads max_parts 0 as "no limit"; the name
  // listing reads it as "none".
  const max = shape.withAuth === true && shape.names === 'all' && args.maxParts === 0 ? -1 : args.maxParts;
  const request = shape.names === 'spec' ? partitionNamesPsCall(args, args.partVals!, max) : partitionNamesCall(args, max);
  const reply = await send(request);
  const list = successList(reply);
  // Any failure (missing table, bad spec) passes the call through: the client gets the
  // metastore's own answer to the call it made.
  if (list === null || list.elemType !== TType.STRING) return pass('names_failed');
  return fromList(readEncodedStringList(reply.bytes, list.offset));
}

/**
 * get_partitions_by_names with a long list: the metastore answers in name order whatever the order
 * of the list, each partition once. Sorting the distinct names makes every batch a contiguous run of
 * that order. Byte order is the column's order (latin1_bin) for printable ASCII; the column pads
 * with spaces when it compares, so 'a' and 'a ' are one name to it: such names, control characters
 * and non-ASCII text pass through.
 */
function givenNames(message: RawMessage, shape: ListingShape, policy: BatchingPolicy): NameSource | Pass {
  const field = findField(message.bytes, message.header.bodyOffset, shape.givenNames!);
  if (field === null || field.type !== TType.LIST || message.bytes[field.offset] !== TType.STRING) return pass('bad_arguments');
  const list = readEncodedStringList(message.bytes, field.offset);
  if (list.count <= policy.threshold) return pass('small');
  const names = new Set<string>();
  for (let i = 0; i < list.count; i++) {
    const name = list.string(i);
    if (!ordersAsBytes(name)) return pass('collation_sensitive_names', name);
    names.add(name);
  }
  const sorted = [...names].sort(byNameOrder);
  const encoded = sorted.map((name) => new BinaryWriter(4 + name.length).string(name).finish());
  return { count: encoded.length, encoded: (from, to) => encoded.slice(from, to) };
}

/**
 * get_partitions_by_filter: list every name, evaluate the filter on the names the way the
 * metastore would; any doubt passes the call through.
 */
async function filteredNames(message: RawMessage, shape: ListingShape, args: ListingArgs, policy: BatchingPolicy, send: SubCall): Promise<NameSource | Pass> {
  const field = findField(message.bytes, message.header.bodyOffset, shape.filter!);
  if (field === null || field.type !== TType.STRING) return pass('bad_arguments');
  const filter = readString(message.bytes, field.offset);
  const reply = await send(partitionNamesCall(args, -1));
  const list = successList(reply);
  if (list === null || list.elemType !== TType.STRING) return pass('names_failed');
  const names = readEncodedStringList(reply.bytes, list.offset);
  if (names.count <= policy.threshold) return pass('small');
  const table = await readTable(args, send);
  if (table === null) return pass('table_unreadable');
  const keys = partitionKeys(table);
  const compiled = compilePartitionFilter(filter, keys);
  if (!compiled.exact) return pass('filter_inexact', compiled.reason);
  const selected: number[] = [];
  const limit = args.maxParts < 0 ? Infinity : args.maxParts;
  for (let i = 0; i < names.count && selected.length < limit; i++) {
    const values = partitionValuesFromName(names.string(i), keys);
    if (values === null) return pass('values_inexact', `partition name ${names.string(i)} does not match the table's keys`);
    const verdict = compiled.matches(values);
    if (verdict === 'inexact') return pass('values_inexact', `partition ${names.string(i)}`);
    if (verdict) selected.push(i);
  }
  return fromSelection(names, selected);
}

async function readTable(args: ListingArgs, send: SubCall): Promise<ThriftStruct | null> {
  const reply = await send(tableCall(args));
  const result = successStruct(reply);
  if (result === null) return null;
  const table = decodeStruct(reply.bytes, result).value[1];
  return typeof table === 'object' && table !== null && !Array.isArray(table) ? table as ThriftStruct : null;
}

/** Table{8: partitionKeys list<FieldSchema{1: name, 2: type}>} */
function partitionKeys(table: ThriftStruct): PartitionKey[] {
  const keys = (table[8] ?? []) as ThriftValue[];
  return keys.map((k) => {
    const schema = k as ThriftStruct;
    return { name: String(schema[1] ?? ''), type: String(schema[2] ?? '') };
  });
}

/** Table{9: parameters map<string, string>} */
function tableParameter(table: ThriftStruct, key: string): string | undefined {
  const parameters = (table[9] ?? []) as Array<[ThriftValue, ThriftValue]>;
  const found = parameters.find(([k]) => k === key);
  return found === undefined ? undefined : String(found[1]);
}

async function fetchInBatches(message: RawMessage, entry: MethodEntry, shape: ListingShape, args: ListingArgs,
  names: NameSource, policy: BatchingPolicy, send: SubCall): Promise<ListingResult> {
  const batches = planBatches(names.count, policy.batchSize);
  const parts: Array<Buffer | undefined> = new Array(batches.length);
  let partitions = 0;
  let partitionBytes = 0;
  let failure: Buffer | null = null;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (failure === null && next < batches.length) {
      const index = next++;
      if (index > 0 && policy.pauseMs > 0) await sleep(policy.pauseMs);
      if (failure !== null) return;
      const [from, to] = batches[index]!;
      // Partitions of one table are much alike: the batches so far tell the size of the next reply.
      const expected = partitions > 0 ? Math.ceil((partitionBytes / partitions) * (to - from) * 1.05) + 4096 : undefined;
      const reply = await send(partitionsByNamesCall(args, to - from, names.encoded(from, to)), expected);
      const list = successList(reply);
      if (list === null || list.elemType !== TType.STRUCT) {
        failure ??= translateFailure(message, entry, shape, reply);
        return;
      }
      parts[index] = ownedPart(reply.bytes.subarray(list.offset + 5, list.end));
      partitions += list.count;
      partitionBytes += list.end - list.offset - 5;
    }
  };
  await Promise.all(Array.from({ length: Math.min(policy.inFlight, batches.length) }, worker));
  if (failure !== null) return { kind: 'batched', chunks: [failure], failed: true, partitions: 0, batches: batches.length };
  const head = new BinaryWriter(64 + message.header.name.length)
    .messageBegin(message.header.name, MessageType.REPLY, message.header.seqid)
    .fieldBegin(TType.LIST, 0).listBegin(TType.STRUCT, partitions)
    .finish();
  const tail = Buffer.from([TType.STOP]);
  return { kind: 'batched', chunks: [head, ...(parts as Buffer[]), tail], failed: false, partitions, batches: batches.length };
}

/**
 * A batch that failed answers the client's call with the same exception, moved to the field the
 * client's method declares it in: get_partitions_by_names throws (1: MetaException,
 * 2: NoSuchObjectException); the listing methods number them their own way.
 */
function translateFailure(message: RawMessage, entry: MethodEntry, shape: ListingShape, reply: RawMessage): Buffer {
  const { name, seqid } = message.header;
  const body = reply.bytes.subarray(reply.header.bodyOffset);
  if (reply.header.type !== MessageType.REPLY) {
    return new BinaryWriter(64 + body.length).messageBegin(name, reply.header.type, seqid).raw(body).finish();
  }
  const field = declaredExceptionField(reply);
  const target = field === 1 ? entry.metaException : field === 2 ? shape.noSuchObject : undefined;
  if (target === undefined || field === null) {
    return new BinaryWriter(64 + body.length).messageBegin(name, MessageType.REPLY, seqid).raw(body).finish();
  }
  const struct = body.subarray(3); // past the field header (type, id)
  return new BinaryWriter(64 + body.length).messageBegin(name, MessageType.REPLY, seqid)
    .fieldBegin(TType.STRUCT, target).raw(struct).finish();
}

/**
 * A batch's partitions, kept until the reply is written. A view is kept when it fills most of the
 * buffer under it (a reply read into a buffer reserved for it); otherwise a compact copy, so a
 * larger read buffer is not held for the life of the listing.
 */
function ownedPart(view: Buffer): Buffer {
  return view.length >= view.buffer.byteLength * 0.9 ? view : Buffer.from(view);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
