/**
 * get_partitions_by_names kept per partition: the answer to a list of names is cut into one entry
 * per name (the Partition's bytes, or "no such partition"), so another list that shares names is
 * answered from the same entries. Re-assembled, the answer is the metastore's bytes: it lists each
 * named partition once, in name order (PART_NAME, a binary collation: byte order for the printable
 * ASCII names accepted here; see src/batching/listing-batcher.ts, which relies on the same order).
 */
import { BinaryWriter } from '../thrift/binary-writer';
import { MessageType, TType } from '../thrift/protocol';
import type { RawMessage } from '../thrift/message-reader';
import { findField, skipStruct } from '../thrift/value-reader';
import { readEncodedStringList, successList } from '../batching/encoded-list';
import { byNameOrder, ordersAsBytes, unescapePartitionValue } from '../batching/partition-name';

/**
 * The distinct names a call asks for, in the metastore's order, or null when the call is not one
 * this module can answer exactly (not a list of strings, or names a collation could order or
 * match unlike bytes: control characters, non-ASCII, trailing spaces).
 */
export function requestedNames(message: RawMessage, fieldId: number): string[] | null {
  const field = findField(message.bytes, message.header.bodyOffset, fieldId);
  if (field === null || field.type !== TType.LIST || message.bytes[field.offset] !== TType.STRING) return null;
  const list = readEncodedStringList(message.bytes, field.offset);
  const names = new Set<string>();
  for (let i = 0; i < list.count; i++) {
    const name = list.string(i);
    if (name === '' || !ordersAsBytes(name)) return null;
    names.add(name);
  }
  return [...names].sort(byNameOrder);
}

/**
 * The Partition bytes of a successful reply, by the requested name each one is (matched on the
 * partition's values), or null when the reply cannot be cut exactly: an exception, a partition no
 * name asked for, or two partitions for one name. Names without a partition map to null.
 */
export function partitionsByName(reply: RawMessage, names: readonly string[]): Map<string, Buffer | null> | null {
  const list = successList(reply);
  if (list === null || list.elemType !== TType.STRUCT) return null;
  const byValues = new Map<string, string>();
  for (const name of names) {
    const values = valuesOf(name);
    if (values === null) return null;
    byValues.set(values, name);
  }
  const result = new Map<string, Buffer | null>(names.map((n) => [n, null]));
  const { bytes } = reply;
  let p = list.offset + 5;
  for (let i = 0; i < list.count; i++) {
    const end = skipStruct(bytes, p);
    const part = bytes.subarray(p, end);
    const name = byValues.get(partitionValues(part));
    if (name === undefined || result.get(name) !== null) return null;
    result.set(name, Buffer.from(part));
    p = end;
  }
  return result;
}

/** The reply a metastore sends for these partitions (in the given order): a result struct with field 0 set. */
export function assembleReply(method: string, seqid: number, partitions: readonly Buffer[]): { bytes: Buffer; seqidOffset: number } {
  const size = partitions.reduce((n, b) => n + b.length, 0);
  const w = new BinaryWriter(size + method.length + 32).messageBegin(method, MessageType.REPLY, seqid);
  const seqidOffset = w.length - 4;
  w.fieldBegin(TType.LIST, 0).listBegin(TType.STRUCT, partitions.length);
  for (const part of partitions) w.raw(part);
  return { bytes: w.fieldStop().finish(), seqidOffset };
}

/** "k1=v1/k2=v2" -> the values, unescaped, joined by NUL (the key values are matched on). */
function valuesOf(name: string): string | null {
  const values: string[] = [];
  for (const pair of name.split('/')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return null;
    values.push(unescapePartitionValue(pair.slice(eq + 1)));
  }
  return values.join('\u0000');
}

/** Partition{1: list<string> values, ...}: the values joined by NUL. */
function partitionValues(part: Buffer): string {
  const field = findField(part, 0, 1);
  if (field === null || field.type !== TType.LIST || part[field.offset] !== TType.STRING) return '\u0001no values';
  const list = readEncodedStringList(part, field.offset);
  const values: string[] = [];
  for (let i = 0; i < list.count; i++) values.push(list.string(i));
  return values.join('\u0000');
}
