/**
 * Fuzz inputs for the protocol reader, each made from one seed (the same seed always gives the same
 * bytes, so a failure reproduces from the seed alone): random bytes, and valid calls of catalog
 * methods encoded with the router's own BinaryWriter, then mutated (bit flips, truncations,
 * length-field and type-byte corruption, duplicated, removed or inserted bytes, pipelined copies).
 *
 * A valid call puts strings on every field path its catalog entry reads (database, table, catalog,
 * other databases, listing arguments), so the reader's callers (describeCall, the router's
 * federation and set_ugi parsing) walk real paths, and adds random fields around them. While
 * encoding, the offsets of every length field and type byte are recorded, so mutations can hit the
 * bytes that steer a parser instead of only random ones.
 */
import { BinaryWriter, frame } from '../src/thrift/binary-writer';
import { MessageType, TType } from '../src/thrift/protocol';
import { METHOD_CATALOG } from '../src/hms/catalog';
import type { FieldPath, MethodEntry } from '../src/hms/method-entry';
import { prng } from '../test/support/prng';

export type InputKind = 'valid' | 'mutated' | 'random' | 'random-after-header' | 'random-frame' | 'field-soup';

export interface FuzzInput {
  readonly seed: number;
  readonly kind: InputKind;
  /** How the call was encoded before any mutation ('raw' for random bytes). */
  readonly encoding: 'buffered' | 'framed' | 'non-strict' | 'raw';
  readonly method: string | null;
  readonly mutations: readonly string[];
  readonly bytes: Buffer;
}

export interface InputOptions {
  /**
   * Methods valid calls are made of. The network fuzz leaves out methods that change metastore
   * state (its router also refuses writes), the in-process one uses the whole catalog.
   */
  readonly methods: readonly MethodEntry[];
}

/** Every catalog method (in-process fuzz). */
export const ALL_METHODS: readonly MethodEntry[] = METHOD_CATALOG;

/**
 * Methods safe to send to a shared metastore: reads, session calls (set_ugi, setMetaConf), and
 * txn/global calls that change nothing; plus a few writes, which the fuzz router refuses
 * (routing.access read-only) so the refusal path is fuzzed too.
 */
export const NETWORK_METHODS: readonly MethodEntry[] = METHOD_CATALOG.filter((e) =>
  !e.mutates || ['create_database', 'alter_database', 'add_partitions', 'alter_table', 'rename_partition', 'drop_table'].includes(e.name));

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
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
}

// ------------------------------------------------------------------ encoding with marks

/** Offsets of the bytes that steer a parser, recorded while encoding. */
interface Marks {
  /** 4-byte big-endian lengths and sizes: string lengths, container sizes, the name length, the frame length. */
  readonly lengths: number[];
  /** Type bytes: field types, list element types, map key and value types, the message type. */
  readonly types: number[];
}

const SCALAR_TYPES = [TType.BOOL, TType.BYTE, TType.I16, TType.I32, TType.I64, TType.DOUBLE, TType.STRING] as const;
const ALL_TYPES = [...SCALAR_TYPES, TType.STRUCT, TType.LIST, TType.SET, TType.MAP] as const;

class MarkedWriter {
  readonly w = new BinaryWriter();
  readonly marks: Marks = { lengths: [], types: [] };

  type(t: number): void {
    this.marks.types.push(this.w.length);
    this.w.byte(t);
  }
  field(t: number, id: number): void {
    this.type(t);
    this.w.i16(id);
  }
  size(n: number): void {
    this.marks.lengths.push(this.w.length);
    this.w.i32(n);
  }
  string(s: string): void {
    this.marks.lengths.push(this.w.length);
    this.w.string(s);
  }
}

const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789_';
const ODD_STRINGS = ['', '*', '@hive#', '@hive#!', '@#', '@', '#', 'é数据😀', '\u0000', ' ', 'a'.repeat(300), 'x=1/y=2', 'part=%2F'];

function name(rng: Rng, prefix: string): string {
  let s = prefix;
  const n = rng.int(1, 10);
  for (let i = 0; i < n; i++) s += rng.pick([...NAME_CHARS]);
  return s;
}

function randomString(rng: Rng, role: string): string {
  if (rng.chance(0.1)) return rng.pick(ODD_STRINGS);
  switch (role) {
    case 'db': return rng.chance(0.2) ? `@${rng.pick(['hive', 'spark', 'x'])}#${name(rng, 'fuzz_')}` : name(rng, 'fuzz_');
    case 'table': return name(rng, 't_');
    case 'catalog': return rng.pick(['hive', 'spark', name(rng, 'c_')]);
    default: return name(rng, '');
  }
}

/** A random value of `type` (containers hold random shapes, `depth` bounds nesting). */
function writeRandomValue(out: MarkedWriter, rng: Rng, type: number, depth: number): void {
  const w = out.w;
  switch (type) {
    case TType.BOOL: w.bool(rng.chance(0.5)); return;
    case TType.BYTE: w.byte(rng.int(0, 255)); return;
    case TType.I16: w.i16(rng.pick([0, -1, 1, 32767, -32768, rng.int(-100, 10000)])); return;
    case TType.I32: w.i32(rng.pick([0, -1, 1, 2147483647, -2147483648, rng.int(-1e6, 1e6)])); return;
    case TType.I64: w.i64(BigInt.asIntN(64, (BigInt(rng.int(0, 0xffffffff)) << 32n) | BigInt(rng.int(0, 0xffffffff)))); return;
    case TType.DOUBLE: w.double(rng.pick([0, -0.5, Math.PI, 1e300, Number.NaN, -Infinity])); return;
    case TType.STRING: out.string(randomString(rng, 'any')); return;
    case TType.STRUCT: writeRandomStruct(out, rng, depth - 1, new Set()); return;
    case TType.LIST:
    case TType.SET: {
      const elem = depth > 0 ? rng.pick(ALL_TYPES) : rng.pick(SCALAR_TYPES);
      const n = rng.int(0, 3);
      out.type(elem);
      out.size(n);
      for (let i = 0; i < n; i++) writeRandomValue(out, rng, elem, depth - 1);
      return;
    }
    case TType.MAP: {
      const key = rng.pick(SCALAR_TYPES);
      const value = depth > 0 ? rng.pick(ALL_TYPES) : rng.pick(SCALAR_TYPES);
      const n = rng.int(0, 3);
      out.type(key);
      out.type(value);
      out.size(n);
      for (let i = 0; i < n; i++) {
        writeRandomValue(out, rng, key, depth - 1);
        writeRandomValue(out, rng, value, depth - 1);
      }
      return;
    }
    default:
      throw new Error(`no random value for type ${type}`);
  }
}

function writeRandomStruct(out: MarkedWriter, rng: Rng, depth: number, taken: ReadonlySet<number>): void {
  const n = rng.int(0, depth > 0 ? 4 : 2);
  for (let i = 0; i < n; i++) {
    const id = rng.chance(0.1) ? rng.int(-32768, 32767) : rng.int(1, 20);
    if (taken.has(id)) continue;
    const type = depth > 0 ? rng.pick(ALL_TYPES) : rng.pick(SCALAR_TYPES);
    out.field(type, id);
    writeRandomValue(out, rng, type, depth);
  }
  out.type(TType.STOP);
}

/** The argument struct a catalog entry reads, as a tree of the paths it names. */
type PathNode =
  | { readonly t: 'struct'; readonly fields: Map<number, PathNode> }
  | { readonly t: 'list'; elem: PathNode | null }
  | { readonly t: 'leaf'; readonly type: number; readonly role: string };

function insertPath(root: PathNode & { t: 'struct' }, path: FieldPath, leaf: PathNode & { t: 'leaf' }): void {
  let node: PathNode = root;
  for (let i = 0; i < path.length; i++) {
    const step = path[i]!;
    const last = i === path.length - 1;
    const nextKind = last ? null : path[i + 1] === '*' ? 'list' : 'struct';
    const make = (): PathNode => (last ? leaf : nextKind === 'list' ? { t: 'list', elem: null } : { t: 'struct', fields: new Map() });
    if (step === '*') {
      if (node.t !== 'list') return;
      if (node.elem === null) node.elem = make();
      node = node.elem;
    } else {
      if (node.t !== 'struct') return;
      const existing = node.fields.get(step);
      if (existing === undefined) {
        const made = make();
        node.fields.set(step, made);
        node = made;
      } else {
        if (last || existing.t === 'leaf') return; // two paths disagree: keep the first
        node = existing;
      }
    }
  }
}

function nodeType(node: PathNode): number {
  return node.t === 'struct' ? TType.STRUCT : node.t === 'list' ? TType.LIST : node.type;
}

function writeNode(out: MarkedWriter, rng: Rng, node: PathNode): void {
  if (node.t === 'leaf') {
    if (node.type === TType.STRING) out.string(randomString(rng, node.role));
    else if (node.type === TType.LIST) {
      // list<string>: partition values or names
      const n = rng.int(0, 4);
      out.type(TType.STRING);
      out.size(n);
      for (let i = 0; i < n; i++) out.string(rng.chance(0.5) ? `ds=2026-0${rng.int(1, 9)}-1${rng.int(0, 9)}` : randomString(rng, 'any'));
    } else writeRandomValue(out, rng, node.type, 1);
    return;
  }
  if (node.t === 'list') {
    const elem = node.elem ?? { t: 'leaf', type: TType.STRING, role: 'any' };
    const n = rng.int(1, 3);
    out.type(nodeType(elem));
    out.size(n);
    for (let i = 0; i < n; i++) writeNode(out, rng, elem);
    return;
  }
  const ids = [...node.fields.keys()];
  // Extra random fields before and after the ones on paths.
  const extras = rng.int(0, 2);
  for (let i = 0; i < extras; i++) {
    const id = rng.int(1, 20);
    if (node.fields.has(id)) continue;
    const type = rng.pick(ALL_TYPES);
    out.field(type, id);
    writeRandomValue(out, rng, type, 2);
  }
  for (const id of rng.chance(0.3) ? ids.reverse() : ids) {
    const child = node.fields.get(id)!;
    out.field(nodeType(child), id);
    writeNode(out, rng, child);
  }
  out.type(TType.STOP);
}

function argumentTree(entry: MethodEntry): PathNode & { t: 'struct' } {
  const root: PathNode & { t: 'struct' } = { t: 'struct', fields: new Map() };
  const string = (role: string): PathNode & { t: 'leaf' } => ({ t: 'leaf', type: TType.STRING, role });
  if (entry.db !== undefined) insertPath(root, entry.db, string('db'));
  if (entry.table !== undefined) insertPath(root, entry.table, string('table'));
  if (entry.catalog !== undefined) insertPath(root, entry.catalog, string('catalog'));
  for (const path of entry.otherDbs ?? []) insertPath(root, path, string('db'));
  const listing = entry.listing;
  if (listing !== undefined) {
    if (listing.maxParts !== undefined) insertPath(root, [listing.maxParts], { t: 'leaf', type: TType.I16, role: 'max' });
    if (listing.partVals !== undefined) insertPath(root, [listing.partVals], { t: 'leaf', type: TType.LIST, role: 'vals' });
    if (listing.filter !== undefined) insertPath(root, [listing.filter], string('filter'));
    if (listing.givenNames !== undefined) insertPath(root, [listing.givenNames], { t: 'leaf', type: TType.LIST, role: 'names' });
  }
  if (entry.name === 'set_ugi') {
    insertPath(root, [1], string('user'));
    insertPath(root, [2], { t: 'leaf', type: TType.LIST, role: 'groups' });
  }
  return root;
}

/** A valid call of `entry`: the encoded message (framed or not) and the marks of its steering bytes. */
function validCall(rng: Rng, entry: MethodEntry, encoding: 'buffered' | 'framed' | 'non-strict', type: number): { bytes: Buffer; marks: Marks } {
  const out = new MarkedWriter();
  const seqid = rng.int(-5, 1000);
  if (encoding === 'non-strict') {
    out.string(entry.name);
    out.type(type);
    out.w.i32(seqid);
  } else {
    out.marks.types.push(3); // the low byte of the version word is the message type
    out.w.i32(0x80010000 | type);
    out.string(entry.name);
    out.w.i32(seqid);
  }
  writeNode(out, rng, argumentTree(entry));
  const message = Buffer.from(out.w.finish());
  if (encoding !== 'framed') return { bytes: message, marks: out.marks };
  return {
    bytes: frame(message),
    marks: { lengths: [0, ...out.marks.lengths.map((o) => o + 4)], types: out.marks.types.map((o) => o + 4) },
  };
}

// ------------------------------------------------------------------ mutations

const LENGTH_VALUES = [-1, -2147483648, 0, 1, 2147483647, 0x7fff, 0x10000000, 0x01000000, 1024 * 1024 + 1];

function mutateMarked(rng: Rng, bytes: Buffer, marks: Marks, applied: string[]): void {
  if (marks.lengths.length > 0 && rng.chance(0.6)) {
    const at = rng.pick(marks.lengths);
    if (at + 4 <= bytes.length) {
      const old = bytes.readInt32BE(at);
      const value = rng.chance(0.4) ? old + rng.int(-3, 3) : rng.chance(0.7) ? rng.pick(LENGTH_VALUES) : rng.int(-2147483648, 2147483647);
      bytes.writeInt32BE(value | 0, at);
      applied.push(`length@${at}=${value | 0}`);
    }
  }
  if (marks.types.length > 0 && rng.chance(0.6)) {
    const at = rng.pick(marks.types);
    if (at < bytes.length) {
      const value = rng.chance(0.5) ? rng.pick([0, 1, 5, 7, 9, 16, 255, ...ALL_TYPES]) : rng.int(0, 255);
      bytes[at] = value;
      applied.push(`type@${at}=${value}`);
    }
  }
}

function mutateBytes(rng: Rng, input: Buffer, valid: () => Buffer, applied: string[]): Buffer {
  let bytes = input;
  const n = rng.int(1, 3);
  for (let i = 0; i < n; i++) {
    const at = bytes.length === 0 ? 0 : rng.int(0, bytes.length - 1);
    switch (rng.int(0, 8)) {
      case 0: {
        if (bytes.length === 0) break;
        const bit = rng.int(0, 7);
        bytes[at] = bytes[at]! ^ (1 << bit);
        applied.push(`flip@${at}.${bit}`);
        break;
      }
      case 1: {
        if (bytes.length === 0) break;
        bytes[at] = rng.int(0, 255);
        applied.push(`set@${at}`);
        break;
      }
      case 2: {
        const cut = rng.int(0, bytes.length);
        bytes = bytes.subarray(0, cut);
        applied.push(`truncate@${cut}`);
        break;
      }
      case 3: {
        const len = rng.int(1, 16);
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at, at + len), bytes.subarray(at)]);
        applied.push(`duplicate@${at}+${len}`);
        break;
      }
      case 4: {
        const len = rng.int(1, 16);
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + len)]);
        applied.push(`remove@${at}+${len}`);
        break;
      }
      case 5: {
        const len = rng.int(1, 8);
        bytes = Buffer.concat([bytes.subarray(0, at), rng.bytes(len), bytes.subarray(at)]);
        applied.push(`insert@${at}+${len}`);
        break;
      }
      case 6: {
        bytes = Buffer.concat([bytes, valid()]);
        applied.push('append-call');
        break;
      }
      case 7: {
        bytes = Buffer.concat([bytes, bytes]);
        applied.push('repeat');
        break;
      }
      default: {
        // A run of bytes set to one value: 0x00 or 0xff runs make zero or huge sizes.
        const len = rng.int(1, 8);
        const value = rng.pick([0x00, 0xff, 0x7f, 0x80]);
        for (let j = at; j < Math.min(bytes.length, at + len); j++) bytes[j] = value;
        applied.push(`fill@${at}+${len}=${value}`);
      }
    }
  }
  return bytes;
}

// ------------------------------------------------------------------ inputs

/** A stream of field headers and values with random types and sizes: reaches deep scanner states. */
function fieldSoup(rng: Rng): Buffer {
  const w = new BinaryWriter();
  w.i32(0x80010001).string(rng.pick(METHOD_CATALOG).name).i32(rng.int(0, 100));
  const n = rng.int(1, 40);
  for (let i = 0; i < n; i++) {
    switch (rng.int(0, 5)) {
      case 0: w.fieldBegin(rng.pick(ALL_TYPES), rng.int(-2, 20)); break;
      case 1: w.listBegin(rng.pick(ALL_TYPES), rng.pick([0, 1, 2, 3, -1, 100000])); break;
      case 2: w.mapBegin(rng.pick(ALL_TYPES), rng.pick(ALL_TYPES), rng.pick([0, 1, 2, -1, 100000])); break;
      case 3: w.string(randomString(rng, 'any')); break;
      case 4: w.byte(TType.STOP); break;
      default: w.raw(rng.bytes(rng.int(1, 8)));
    }
  }
  return Buffer.from(w.finish());
}

export function fuzzInput(seed: number, options: InputOptions): FuzzInput {
  const rng = new Rng(seed);
  const roll = rng.next();
  if (roll < 0.08) {
    return { seed, kind: 'random', encoding: 'raw', method: null, mutations: [], bytes: rng.bytes(rng.int(0, 512)) };
  }
  if (roll < 0.14) {
    // A strict call header, then random bytes: past the header checks, into the struct scanner.
    const header = new BinaryWriter().i32(0x80010000 | rng.pick([1, 1, 1, 4])).string(rng.pick(options.methods).name).i32(rng.int(0, 9)).finish();
    return { seed, kind: 'random-after-header', encoding: 'buffered', method: null, mutations: [], bytes: Buffer.concat([header, rng.bytes(rng.int(0, 256))]) };
  }
  if (roll < 0.19) {
    const body = rng.bytes(rng.int(0, 256));
    if (body.length > 0 && rng.chance(0.5)) body[0] = 0x80;
    const size = rng.chance(0.7) ? body.length : rng.pick(LENGTH_VALUES);
    const head = Buffer.alloc(4);
    head.writeInt32BE(size | 0, 0);
    return { seed, kind: 'random-frame', encoding: 'raw', method: null, mutations: [], bytes: Buffer.concat([head, body]) };
  }
  if (roll < 0.27) {
    return { seed, kind: 'field-soup', encoding: 'buffered', method: null, mutations: [], bytes: fieldSoup(rng) };
  }
  const entry = rng.pick(options.methods);
  const encoding = rng.pick(['buffered', 'buffered', 'framed', 'framed', 'non-strict'] as const);
  const type = rng.chance(0.97) ? MessageType.CALL : rng.pick([MessageType.ONEWAY, MessageType.REPLY, MessageType.EXCEPTION]);
  const call = validCall(rng, entry, encoding, type);
  if (roll < 0.32) return { seed, kind: 'valid', encoding, method: entry.name, mutations: [], bytes: call.bytes };
  const applied: string[] = [];
  if (rng.chance(0.7)) mutateMarked(rng, call.bytes, call.marks, applied);
  let bytes: Buffer = call.bytes;
  if (applied.length === 0 || rng.chance(0.5)) {
    bytes = mutateBytes(rng, call.bytes, () => validCall(rng, rng.pick(options.methods), encoding === 'framed' ? 'framed' : 'buffered', MessageType.CALL).bytes, applied);
  }
  return { seed, kind: 'mutated', encoding, method: entry.name, mutations: applied, bytes };
}

/** Splits `bytes` into chunks the way a socket might deliver them (copies, like fresh socket buffers). */
export function chunked(rng: Rng, bytes: Buffer): Buffer[] {
  const max = rng.pick([1, 2, 3, 7, 16, 64, 1 << 20]);
  const out: Buffer[] = [];
  for (let pos = 0; pos < bytes.length;) {
    const n = Math.min(bytes.length - pos, rng.int(1, max));
    out.push(Buffer.from(bytes.subarray(pos, pos + n)));
    pos += n;
  }
  return out;
}
