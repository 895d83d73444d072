/**
 * Facts of TBinaryProtocol the router relies on: type ids, message types, header layout.
 * Only the binary protocol is spoken; compact and JSON clients are refused at the header.
 */

export const enum TType {
  STOP = 0,
  VOID = 1,
  BOOL = 2,
  BYTE = 3,
  DOUBLE = 4,
  I16 = 6,
  I32 = 8,
  I64 = 10,
  STRING = 11,
  STRUCT = 12,
  MAP = 13,
  SET = 14,
  LIST = 15,
}

export const enum MessageType {
  CALL = 1,
  REPLY = 2,
  EXCEPTION = 3,
  ONEWAY = 4,
}

/** The high 16 bits of a strict message header: 0x8001. */
export const VERSION_1 = 0x80010000 | 0;
export const VERSION_MASK = 0xffff0000 | 0;

/** Width in bytes of a fixed-size value, or -1 for the variable-size types. */
export function fixedWidth(type: number): number {
  switch (type) {
    case TType.BOOL:
    case TType.BYTE:
      return 1;
    case TType.I16:
      return 2;
    case TType.I32:
      return 4;
    case TType.DOUBLE:
    case TType.I64:
      return 8;
    default:
      return -1;
  }
}

/** fixedWidth of every byte value, as a table: hot loops read it per value without a call. */
export const FIXED_WIDTH: Int8Array = Int8Array.from({ length: 256 }, (_, type) => fixedWidth(type));

export function isKnownType(type: number): boolean {
  return (type >= 2 && type <= 4) || type === 6 || type === 8 || (type >= 10 && type <= 15);
}

/** A malformed or oversized message. The connection that sent it is closed; nothing else is affected. */
export class ProtocolError extends Error {
  constructor(readonly reason: ProtocolErrorReason, message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export type ProtocolErrorReason =
  | 'bad_version'
  | 'bad_header'
  | 'bad_type'
  | 'negative_size'
  | 'too_large'
  | 'too_deep'
  | 'truncated';

export interface MessageHeader {
  readonly name: string;
  readonly type: number;
  readonly seqid: number;
  /** Offset of the 4-byte seqid within the message, so a reply's seqid can be rewritten in place. */
  readonly seqidOffset: number;
  /** Offset of the argument (or result) struct. */
  readonly bodyOffset: number;
  /** True for the strict (versioned) header form. */
  readonly strict: boolean;
}

/**
 * Parses a message header at `offset`, or returns null when `buf` does not yet hold all of it.
 * Throws ProtocolError for something that is not a TBinaryProtocol message.
 */
export function parseMessageHeader(buf: Buffer, offset: number, end: number, maxNameLength = 1024): MessageHeader | null {
  if (end - offset < 4) return null;
  const first = buf.readInt32BE(offset);
  if (first < 0) {
    if ((first & VERSION_MASK) !== VERSION_1) {
      throw new ProtocolError('bad_version', `unsupported Thrift protocol version 0x${(first >>> 16).toString(16)} (only TBinaryProtocol, version 0x8001, is spoken)`);
    }
    const type = first & 0xff;
    if (end - offset < 8) return null;
    const nameLength = buf.readInt32BE(offset + 4);
    if (nameLength < 0 || nameLength > maxNameLength) {
      throw new ProtocolError('bad_header', `method name length ${nameLength} is out of range`);
    }
    const seqidOffset = offset + 8 + nameLength;
    if (end < seqidOffset + 4) return null;
    const name = buf.toString('latin1', offset + 8, seqidOffset);
    return { name, type, seqid: buf.readInt32BE(seqidOffset), seqidOffset, bodyOffset: seqidOffset + 4, strict: true };
  }
  // Old non-strict form: name length, name, type byte, seqid.
  const nameLength = first;
  if (nameLength > maxNameLength) {
    throw new ProtocolError('bad_header', `not a Thrift binary message (first word ${nameLength} is neither a version nor a plausible name length)`);
  }
  const typeOffset = offset + 4 + nameLength;
  if (end < typeOffset + 5) return null;
  const type = buf[typeOffset]!;
  if (type < MessageType.CALL || type > MessageType.ONEWAY) {
    throw new ProtocolError('bad_header', `not a Thrift binary message (message type ${type})`);
  }
  const name = buf.toString('latin1', offset + 4, typeOffset);
  return { name, type, seqid: buf.readInt32BE(typeOffset + 1), seqidOffset: typeOffset + 1, bodyOffset: typeOffset + 5, strict: false };
}
