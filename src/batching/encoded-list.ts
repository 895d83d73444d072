/**
 * Lists inside replies, read in place: where each element starts, so a listing can be cut into
 * batches and re-assembled from the bytes the metastore sent, without decoding them.
 */
import type { RawMessage } from '../thrift/message-reader';
import { MessageType, ProtocolError, TType } from '../thrift/protocol';
import { findField, skipValue } from '../thrift/value-reader';

/** An encoded list<string>: the bytes and the offset of each element (plus one past the last). */
export class EncodedStringList {
  constructor(private readonly buf: Buffer, private readonly starts: Int32Array) {}

  get count(): number {
    return this.starts.length - 1;
  }

  /** The encoded elements [from, to), laid end to end as a list carries them. */
  slice(from: number, to: number): Buffer {
    return this.buf.subarray(this.starts[from]!, this.starts[to]!);
  }

  /** The encoded element i (4-byte length, then the bytes). */
  encoded(i: number): Buffer {
    return this.slice(i, i + 1);
  }

  string(i: number): string {
    return this.buf.toString('utf8', this.starts[i]! + 4, this.starts[i + 1]!);
  }
}

/** Reads the list<string> whose header (element type, size) starts at `pos`. */
export function readEncodedStringList(buf: Buffer, pos: number): EncodedStringList {
  if (pos + 5 > buf.length) throw new ProtocolError('truncated', `list header at offset ${pos} runs past the message`);
  if (buf[pos] !== TType.STRING) throw new ProtocolError('bad_type', `expected a list of strings at offset ${pos}, found element type ${buf[pos]}`);
  const count = buf.readInt32BE(pos + 1);
  if (count < 0) throw new ProtocolError('negative_size', `negative list size at offset ${pos}`);
  const starts = new Int32Array(count + 1);
  let p = pos + 5;
  for (let i = 0; i < count; i++) {
    starts[i] = p;
    p = skipValue(buf, p, TType.STRING);
  }
  starts[count] = p;
  return new EncodedStringList(buf, starts);
}

/**
 * The success value of a reply (result field 0) when it is a list, or null when the reply carries an
 * exception (declared or TApplicationException). A result struct holds one field, so when the list
 * is its first field it ends at the struct's STOP, the message's last byte: no need to walk a list
 * of thousands of partitions to find its end (the message reader already checked its structure).
 */
export function successList(reply: RawMessage): { offset: number; elemType: number; count: number; end: number } | null {
  if (reply.header.type !== MessageType.REPLY) return null;
  const { bytes } = reply;
  const field = findField(bytes, reply.header.bodyOffset, 0);
  if (field === null || field.type !== TType.LIST) return null;
  const { offset } = field;
  const lastByte = bytes.length - 1;
  const end = offset === reply.header.bodyOffset + 3 && bytes[lastByte] === TType.STOP ? lastByte : skipValue(bytes, offset, TType.LIST);
  return { offset, elemType: bytes[offset]!, count: bytes.readInt32BE(offset + 1), end };
}

/** The success value (field 0) of a reply when it is a struct: its offset, or null. */
export function successStruct(reply: RawMessage): number | null {
  if (reply.header.type !== MessageType.REPLY) return null;
  const field = findField(reply.bytes, reply.header.bodyOffset, 0);
  return field === null || field.type !== TType.STRUCT ? null : field.offset;
}

/** The id of the exception field a REPLY carries, or null for a success or an EXCEPTION message. */
export function declaredExceptionField(reply: RawMessage): number | null {
  if (reply.header.type !== MessageType.REPLY) return null;
  const at = reply.header.bodyOffset;
  if (reply.bytes[at] === TType.STOP) return null;
  const id = reply.bytes.readInt16BE(at + 1);
  return id === 0 ? null : id;
}
