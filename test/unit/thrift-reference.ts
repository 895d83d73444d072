/**
 * Test helpers (not a test file): an INDEPENDENT TBinaryProtocol encoder/decoder built on the npm
 * `thrift` package, a small tagged value model, random value generation and a seeded PRNG.
 * The router's own writer is deliberately not used here, so the reader is checked against the
 * reference implementation.
 */
import { Int64, TBinaryProtocol, TBufferedTransport, TFramedTransport } from 'thrift';
import { prng } from '../support/prng';
import { expect } from 'vitest';
import { ProtocolError, type ProtocolErrorReason } from '../../src/thrift/protocol';

/** Thrift type ids, spelled out independently of src/thrift/protocol.ts. */
export const T = {
  STOP: 0,
  BOOL: 2,
  BYTE: 3,
  DOUBLE: 4,
  I16: 6,
  I32: 8,
  I64: 10,
  STRING: 11,
  STRUCT: 12,
  MAP: 13,
  SET: 14,
  LIST: 15,
} as const;

export const CALL = 1;
export const REPLY = 2;
export const EXCEPTION = 3;
export const ONEWAY = 4;

/** A self-describing Thrift value: enough to encode it, including the element types of empty containers. */
export type Value =
  | { readonly t: typeof T.BOOL; readonly v: boolean }
  | { readonly t: typeof T.BYTE; readonly v: number }
  | { readonly t: typeof T.I16; readonly v: number }
  | { readonly t: typeof T.I32; readonly v: number }
  | { readonly t: typeof T.I64; readonly v: bigint }
  | { readonly t: typeof T.DOUBLE; readonly v: number }
  | { readonly t: typeof T.STRING; readonly v: string }
  | StructValue
  | { readonly t: typeof T.LIST | typeof T.SET; readonly elem: number; readonly items: readonly Value[] }
  | { readonly t: typeof T.MAP; readonly key: number; readonly val: number; readonly entries: readonly (readonly [Value, Value])[] };

export interface StructValue {
  readonly t: typeof T.STRUCT;
  readonly fields: readonly { readonly id: number; readonly value: Value }[];
}

// Shorthand constructors.
export const bool = (v: boolean): Value => ({ t: T.BOOL, v });
export const byte = (v: number): Value => ({ t: T.BYTE, v });
export const i16 = (v: number): Value => ({ t: T.I16, v });
export const i32 = (v: number): Value => ({ t: T.I32, v });
export const i64 = (v: bigint): Value => ({ t: T.I64, v });
export const dbl = (v: number): Value => ({ t: T.DOUBLE, v });
export const str = (v: string): Value => ({ t: T.STRING, v });
export const struct = (...fields: [number, Value][]): StructValue => ({
  t: T.STRUCT,
  fields: fields.map(([id, value]) => ({ id, value })),
});
export const list = (elem: number, items: Value[]): Value => ({ t: T.LIST, elem, items });
export const set = (elem: number, items: Value[]): Value => ({ t: T.SET, elem, items });
export const map = (key: number, val: number, entries: [Value, Value][]): Value => ({ t: T.MAP, key, val, entries });

/**
 * The subset of the thrift package's TBinaryProtocol used here, with plain numbers for type ids
 * (its typings use its own enums) and the fields of the JS implementation the typings omit.
 */
interface RefProtocol {
  writeMessageBegin(name: string, type: number, seqid: number): void;
  writeMessageEnd(): void;
  writeStructBegin(name: string): void;
  writeStructEnd(): void;
  writeFieldBegin(name: string, type: number, id: number): void;
  writeFieldEnd(): void;
  writeFieldStop(): void;
  writeMapBegin(ktype: number, vtype: number, size: number): void;
  writeMapEnd(): void;
  writeListBegin(etype: number, size: number): void;
  writeListEnd(): void;
  writeSetBegin(etype: number, size: number): void;
  writeSetEnd(): void;
  writeBool(v: boolean): void;
  writeByte(v: number): void;
  writeI16(v: number): void;
  writeI32(v: number): void;
  writeI64(v: number | Int64): void;
  writeDouble(v: number): void;
  writeString(v: string | Buffer): void;
  readMessageBegin(): { fname: string | Buffer; mtype: number; rseqid: number };
  readStructBegin(): unknown;
  readStructEnd(): void;
  readFieldBegin(): { ftype: number; fid: number };
  readFieldEnd(): void;
  readString(): string;
  readI32(): number;
  skip(type: number): void;
  flush(): void;
}

function refProtocol(trans: TBufferedTransport | TFramedTransport, strictWrite = true): RefProtocol {
  return new TBinaryProtocol(trans, false, strictWrite) as unknown as RefProtocol;
}

function int64Of(v: bigint): Int64 {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt.asIntN(64, v));
  return new Int64(b);
}

function writeValue(p: RefProtocol, v: Value): void {
  switch (v.t) {
    case T.BOOL: return p.writeBool(v.v);
    case T.BYTE: return p.writeByte(v.v);
    case T.I16: return p.writeI16(v.v);
    case T.I32: return p.writeI32(v.v);
    case T.I64: return p.writeI64(int64Of(v.v));
    case T.DOUBLE: return p.writeDouble(v.v);
    case T.STRING: return p.writeString(v.v);
    case T.STRUCT:
      p.writeStructBegin('');
      for (const f of v.fields) {
        p.writeFieldBegin('', f.value.t, f.id);
        writeValue(p, f.value);
        p.writeFieldEnd();
      }
      p.writeFieldStop();
      return p.writeStructEnd();
    case T.LIST:
      p.writeListBegin(v.elem, v.items.length);
      for (const item of v.items) writeValue(p, item);
      return p.writeListEnd();
    case T.SET:
      p.writeSetBegin(v.elem, v.items.length);
      for (const item of v.items) writeValue(p, item);
      return p.writeSetEnd();
    case T.MAP:
      p.writeMapBegin(v.key, v.val, v.entries.length);
      for (const [k, val] of v.entries) {
        writeValue(p, k);
        writeValue(p, val);
      }
      return p.writeMapEnd();
  }
}

export interface MessageSpec {
  readonly name: string;
  readonly type: number;
  readonly seqid: number;
  readonly body: StructValue;
  /** false: the old non-strict header (name length, name, type byte, seqid). Default true. */
  readonly strict?: boolean;
}

/** Encodes a message with the thrift package; framed adds the 4-byte frame length. */
export function refEncode(spec: MessageSpec, framed = false): Buffer {
  const out: Buffer[] = [];
  const onFlush = (msg?: Buffer): void => {
    if (msg) out.push(msg);
  };
  const trans = framed ? new TFramedTransport(undefined, onFlush) : new TBufferedTransport(undefined, onFlush);
  const p = refProtocol(trans, spec.strict ?? true);
  p.writeMessageBegin(spec.name, spec.type, spec.seqid);
  writeValue(p, spec.body);
  p.writeMessageEnd();
  p.flush();
  return Buffer.concat(out);
}

/** Encodes a bare value (no message header) with the thrift package. */
export function refEncodeValue(v: Value): Buffer {
  const out: Buffer[] = [];
  const trans = new TBufferedTransport(undefined, (msg?: Buffer) => {
    if (msg) out.push(msg);
  });
  const p = refProtocol(trans);
  writeValue(p, v);
  p.flush();
  return Buffer.concat(out);
}

/** A reader over `bytes` (one unframed message or value) using the thrift package. */
export function refReader(bytes: Buffer): { p: RefProtocol; pos: () => number } {
  const trans = new TFramedTransport(bytes);
  const p = refProtocol(trans);
  return { p, pos: () => (trans as unknown as { readPos: number }).readPos };
}

/** Reads only the message header with the thrift package. */
export function refParseHeader(bytes: Buffer): { name: string; type: number; seqid: number; bodyOffset: number } {
  const { p, pos } = refReader(bytes);
  const m = p.readMessageBegin();
  return { name: typeof m.fname === 'string' ? m.fname : m.fname.toString('utf8'), type: m.mtype, seqid: m.rseqid, bodyOffset: pos() };
}

/**
 * Parses one message with the thrift package: its header and where the body starts and ends
 * (the body is skipped with the reference `skip`).
 */
export function refParseMessage(bytes: Buffer): { name: string; type: number; seqid: number; bodyOffset: number; end: number } {
  const { p, pos } = refReader(bytes);
  const m = p.readMessageBegin();
  const bodyOffset = pos();
  p.skip(T.STRUCT);
  return {
    name: typeof m.fname === 'string' ? m.fname : m.fname.toString('utf8'),
    type: m.mtype,
    seqid: m.rseqid,
    bodyOffset,
    end: pos(),
  };
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness.

export { prng };

export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<X>(xs: readonly X[]): X {
    return xs[this.int(0, xs.length - 1)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
}

const CHAR_POOLS: readonly string[][] = [
  [...'abcdefghijklmnopqrstuvwxyz_0123456789'],
  [...'éüßñçøÅ'],
  [...'数据库表分区'],
  ['😀', '🚀', '𝄞'],
  ['\u0000', '\n', '"', '\\'],
];

export function randomString(rng: Rng, maxLength = 24): string {
  if (rng.chance(0.15)) return '';
  const n = rng.int(1, maxLength);
  let s = '';
  for (let i = 0; i < n; i++) s += rng.pick(rng.pick(CHAR_POOLS));
  return s;
}

/** A type shape; values are generated from it so containers are homogeneous. */
export type Shape =
  | { readonly t: typeof T.BOOL | typeof T.BYTE | typeof T.I16 | typeof T.I32 | typeof T.I64 | typeof T.DOUBLE | typeof T.STRING }
  | { readonly t: typeof T.STRUCT; readonly fields: readonly { readonly id: number; readonly shape: Shape }[] }
  | { readonly t: typeof T.LIST | typeof T.SET; readonly elem: Shape }
  | { readonly t: typeof T.MAP; readonly key: Shape; readonly val: Shape };

const SCALARS = [T.BOOL, T.BYTE, T.I16, T.I32, T.I64, T.DOUBLE, T.STRING] as const;

export function randomShape(rng: Rng, depth: number): Shape {
  if (depth <= 0 || rng.chance(0.45)) return { t: rng.pick(SCALARS) };
  const kind = rng.int(0, 3);
  if (kind === 0) return randomStructShape(rng, depth - 1);
  if (kind === 1) return { t: T.LIST, elem: randomShape(rng, depth - 1) };
  if (kind === 2) return { t: T.SET, elem: randomShape(rng, depth - 1) };
  return { t: T.MAP, key: randomShape(rng, Math.min(1, depth - 1)), val: randomShape(rng, depth - 1) };
}

export function randomStructShape(rng: Rng, depth: number): Shape & { t: typeof T.STRUCT } {
  const n = rng.int(0, 6);
  const ids = new Set<number>();
  while (ids.size < n) ids.add(rng.chance(0.1) ? rng.int(-32768, 32767) : rng.int(1, 20));
  return { t: T.STRUCT, fields: [...ids].map((id) => ({ id, shape: randomShape(rng, depth) })) };
}

function typeId(shape: Shape): number {
  return shape.t;
}

export function randomValue(rng: Rng, shape: Shape): Value {
  switch (shape.t) {
    case T.BOOL: return bool(rng.chance(0.5));
    case T.BYTE: return byte(rng.int(-128, 127));
    case T.I16: return i16(rng.int(-32768, 32767));
    case T.I32: return i32(rng.pick([0, -1, 2147483647, -2147483648, rng.int(-1e9, 1e9)]));
    case T.I64: return i64(BigInt.asIntN(64, (BigInt(rng.int(0, 0xffffffff)) << 32n) | BigInt(rng.int(0, 0xffffffff))));
    case T.DOUBLE: return dbl(rng.pick([0, -0.5, Math.PI, 1e300, -Infinity, (rng.next() - 0.5) * 1e6]));
    case T.STRING: return str(randomString(rng));
    case T.STRUCT: {
      const fields = shape.fields.filter(() => rng.chance(0.8)).map((f) => ({ id: f.id, value: randomValue(rng, f.shape) }));
      return { t: T.STRUCT, fields };
    }
    case T.LIST:
    case T.SET: {
      const n = rng.chance(0.2) ? 0 : rng.int(1, 5);
      const items: Value[] = [];
      for (let i = 0; i < n; i++) items.push(randomValue(rng, shape.elem));
      return { t: shape.t, elem: typeId(shape.elem), items };
    }
    case T.MAP: {
      const n = rng.chance(0.2) ? 0 : rng.int(1, 4);
      const entries: [Value, Value][] = [];
      for (let i = 0; i < n; i++) entries.push([randomValue(rng, shape.key), randomValue(rng, shape.val)]);
      return map(typeId(shape.key), typeId(shape.val), entries);
    }
  }
}

export function randomStruct(rng: Rng, depth = 4): StructValue {
  return randomValue(rng, randomStructShape(rng, depth)) as StructValue;
}

/** Splits `buf` into chunks of random sizes between 1 and `maxChunk`. */
export function randomChunks(rng: Rng, buf: Buffer, maxChunk: number): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const n = Math.min(buf.length - pos, rng.int(1, Math.max(1, maxChunk)));
    // Copy, as a socket would hand over fresh buffers.
    out.push(Buffer.from(buf.subarray(pos, pos + n)));
    pos += n;
  }
  return out;
}

/** A struct holding one field of every type, nested structs and containers included. */
export function everyTypeStruct(): StructValue {
  return struct(
    [1, bool(true)],
    [2, bool(false)],
    [3, byte(-128)],
    [4, byte(127)],
    [5, i16(-32768)],
    [6, i16(32767)],
    [7, i32(-2147483648)],
    [8, i32(2147483647)],
    [9, i64(-9223372036854775808n)],
    [10, i64(9223372036854775807n)],
    [11, dbl(-1.5e-300)],
    [12, dbl(Number.NaN)],
    [13, str('')],
    [14, str('plain ascii')],
    [15, str('multi-byte: é 数据 😀 𝄞')],
    [16, struct([1, str('nested')], [2, struct([1, i32(42)], [2, list(T.STRING, [str('deep')])])])],
    [17, list(T.STRUCT, [struct([1, str('a')]), struct(), struct([1, str('c')], [2, i64(-1n)])])],
    [18, list(T.I32, [i32(1), i32(-2), i32(3)])],
    [19, set(T.STRING, [str('x'), str('y')])],
    [20, map(T.STRING, T.I64, [[str('k1'), i64(1n)], [str('k2'), i64(2n)]])],
    [21, map(T.I32, T.STRUCT, [])],
    [22, list(T.LIST, [list(T.I16, [i16(1), i16(2)]), list(T.I16, []), list(T.I16, [i16(3)])])],
    [23, map(T.STRING, T.LIST, [[str('m'), list(T.STRING, [str('v1'), str('')])]])],
    [24, set(T.DOUBLE, [dbl(0), dbl(1)])],
    [25, list(T.BOOL, [bool(true), bool(false)])],
    [26, list(T.STRING, [])],
    [-1, i32(-1)],
  );
}

/** The thrown ProtocolError; fails the test on any other outcome. */
export function protocolError(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolError) return e;
    throw new Error(`expected a ProtocolError, got ${String(e)}`);
  }
  throw new Error('expected a ProtocolError, nothing was thrown');
}

export function expectReason(fn: () => unknown, reason: ProtocolErrorReason): void {
  expect(protocolError(fn).reason).toBe(reason);
}
