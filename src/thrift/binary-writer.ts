/**
 * Encodes TBinaryProtocol for the messages the router itself originates: error replies, the calls
 * it makes on its own behalf (set_ugi on a new pooled connection, batch listings), and test clients.
 */
import { MessageType, TType, VERSION_1 } from './protocol';

export class BinaryWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  messageBegin(name: string, type: MessageType, seqid: number): this {
    this.i32(VERSION_1 | type);
    this.string(name);
    return this.i32(seqid);
  }

  fieldBegin(type: TType, id: number): this {
    this.byte(type);
    return this.i16(id);
  }

  fieldStop(): this {
    return this.byte(TType.STOP);
  }

  listBegin(elemType: TType, size: number): this {
    this.byte(elemType);
    return this.i32(size);
  }

  mapBegin(keyType: TType, valueType: TType, size: number): this {
    this.byte(keyType);
    this.byte(valueType);
    return this.i32(size);
  }

  bool(value: boolean): this {
    return this.byte(value ? 1 : 0);
  }

  byte(value: number): this {
    this.ensure(1);
    this.buf.writeUInt8(value & 0xff, this.pos);
    this.pos += 1;
    return this;
  }

  i16(value: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(value, this.pos);
    this.pos += 2;
    return this;
  }

  i32(value: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(value | 0, this.pos);
    this.pos += 4;
    return this;
  }

  i64(value: number | bigint): this {
    this.ensure(8);
    this.buf.writeBigInt64BE(BigInt(value), this.pos);
    this.pos += 8;
    return this;
  }

  double(value: number): this {
    this.ensure(8);
    this.buf.writeDoubleBE(value, this.pos);
    this.pos += 8;
    return this;
  }

  string(value: string | Buffer): this {
    const length = typeof value === 'string' ? Buffer.byteLength(value) : value.length;
    this.ensure(4 + length);
    this.buf.writeInt32BE(length, this.pos);
    this.pos += 4;
    if (typeof value === 'string') this.buf.write(value, this.pos, 'utf8');
    else value.copy(this.buf, this.pos);
    this.pos += length;
    return this;
  }

  /** Appends bytes that are already encoded (a field or value passed through untouched). */
  raw(bytes: Buffer): this {
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.pos += bytes.length;
    return this;
  }

  get length(): number {
    return this.pos;
  }

  /** The encoded bytes (a view; the writer must not be used afterwards). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** Prefixes a message with its 4-byte frame length, for framed transport. */
export function frame(message: Buffer): Buffer {
  const header = Buffer.allocUnsafe(4);
  header.writeInt32BE(message.length, 0);
  return Buffer.concat([header, message]);
}
