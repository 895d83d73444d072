/**
 * For every catalog entry that says where a call names its database (and table, catalog, other
 * databases), a call built with the thrift package that has strings at exactly those places must
 * give back exactly those strings through the message reader, parseMessageHeader and stringsAtPath.
 */
import { describe, it, expect } from 'vitest';
import { METHOD_CATALOG } from '../../src/hms/catalog';
import type { FieldPath, MethodEntry } from '../../src/hms/method-entry';
import { MessageReader } from '../../src/thrift/message-reader';
import { parseMessageHeader } from '../../src/thrift/protocol';
import { firstStringAtPath, stringsAtPath } from '../../src/thrift/value-reader';
import {
  CALL,
  StructValue,
  T,
  Value,
  bool,
  dbl,
  i16,
  i32,
  i64,
  list,
  map,
  refEncode,
  str,
  struct,
} from './thrift-reference';

type Labelled = { readonly what: string; readonly path: FieldPath };

function pathsOf(e: MethodEntry): Labelled[] {
  const out: Labelled[] = [];
  if (e.db) out.push({ what: 'db', path: e.db });
  if (e.table) out.push({ what: 'table', path: e.table });
  if (e.catalog) out.push({ what: 'catalog', path: e.catalog });
  (e.otherDbs ?? []).forEach((p, i) => out.push({ what: `otherDbs[${i}]`, path: p }));
  return out;
}

// A tree of the argument struct to build: the fields on the paths, strings at their ends.
type Node = StructNode | ListNode | LeafNode;
interface StructNode { readonly kind: 'struct'; readonly fields: Map<number, Node> }
interface ListNode { readonly kind: 'list'; readonly elems: Node[] }
interface LeafNode { readonly kind: 'leaf'; readonly value: string }

const LIST_SIZE = 3;

function newStruct(): StructNode {
  return { kind: 'struct', fields: new Map() };
}

class PathConflict extends Error {}

/**
 * Adds `path` (from `step`) under the struct `node`; returns the strings placed at its ends, in the
 * order a reader walking the encoded struct meets them.
 */
function insert(node: StructNode, path: FieldPath, step: number, tag: string): string[] {
  const key = path[step];
  if (typeof key !== 'number') throw new PathConflict(`'*' where a field id was expected at step ${step}`);
  const existing = node.fields.get(key);
  if (step === path.length - 1) {
    if (existing !== undefined && existing.kind !== 'leaf') throw new PathConflict(`field ${key} is both a string and a ${existing.kind}`);
    const leaf: LeafNode = existing ?? { kind: 'leaf', value: tag };
    node.fields.set(key, leaf);
    return [leaf.value];
  }
  if (path[step + 1] === '*') {
    if (existing !== undefined && existing.kind !== 'list') throw new PathConflict(`field ${key} is both a list and a ${existing.kind}`);
    const stringElems = step + 2 === path.length;
    const lst: ListNode = existing ?? {
      kind: 'list',
      elems: Array.from({ length: LIST_SIZE }, (_, i): Node => (stringElems ? { kind: 'leaf', value: `${tag}[${i}]` } : newStruct())),
    };
    node.fields.set(key, lst);
    const out: string[] = [];
    lst.elems.forEach((el, i) => {
      if (stringElems) {
        if (el.kind !== 'leaf') throw new PathConflict(`elements of field ${key} are both strings and ${el.kind}s`);
        out.push(el.value);
      } else {
        if (el.kind !== 'struct') throw new PathConflict(`elements of field ${key} are both structs and ${el.kind}s`);
        out.push(...insert(el, path, step + 2, `${tag}[${i}]`));
      }
    });
    return out;
  }
  if (existing !== undefined && existing.kind !== 'struct') throw new PathConflict(`field ${key} is both a struct and a ${existing.kind}`);
  const child = existing ?? newStruct();
  node.fields.set(key, child);
  return insert(child as StructNode, path, step + 1, tag);
}

// Unrelated fields around the real ones, at every level. Their ids are far from the ids HMS uses.
const BEFORE_IDS = [-7, 1000, 1001, 1002];
const AFTER_IDS = [2000, 2001, 2002, 2003, 2004, 2005, 2006];

/** A struct with decoy strings at the same field ids as the real ones, to catch a wrong turn. */
function decoy(keys: number[]): StructValue {
  return struct(...keys.map((k): [number, Value] => [k, str('decoy')]));
}

function toValue(node: Node): Value {
  switch (node.kind) {
    case 'leaf':
      return str(node.value);
    case 'list':
      return node.elems.every((e) => e.kind === 'leaf') ? list(T.STRING, node.elems.map(toValue)) : list(T.STRUCT, node.elems.map(toValue));
    case 'struct': {
      const keys = [...node.fields.keys()];
      for (const id of [...BEFORE_IDS, ...AFTER_IDS]) {
        if (keys.includes(id)) throw new Error(`filler field id ${id} collides with a path`);
      }
      const before: [number, Value][] = [
        [-7, i32(-7)],
        [1000, decoy(keys)],
        [1001, list(T.STRING, [str('decoy'), str('')])],
        [1002, map(T.I32, T.STRUCT, [[i32(1), decoy(keys)]])],
      ];
      const real = keys.map((k): [number, Value] => [k, toValue(node.fields.get(k)!)]);
      const after: [number, Value][] = [
        [2000, map(T.STRING, T.STRING, [[str('decoy'), str('decoy')]])],
        [2001, bool(true)],
        [2002, dbl(1.5)],
        [2003, i64(-1n)],
        [2004, str('decoy')],
        [2005, list(T.STRUCT, [decoy(keys), decoy(keys)])],
        [2006, i16(3)],
      ];
      // Before and after the real fields, and between them.
      const fields: [number, Value][] = [...before];
      real.forEach((f, i) => {
        fields.push(f);
        if (i === 0 && real.length > 1) fields.push(after.pop()!);
      });
      fields.push(...after);
      return struct(...fields);
    }
  }
}

interface Built {
  readonly message: Buffer;
  readonly expected: Map<string, string[]>;
}

function build(entry: MethodEntry, paths: Labelled[], seqid: number): Built {
  const root = newStruct();
  const expected = new Map<string, string[]>();
  for (const { what, path } of paths) {
    expected.set(what, insert(root, path, 0, `${entry.name}.${what}é`));
  }
  const body = toValue(root) as StructValue;
  return { message: refEncode({ name: entry.name, type: CALL, seqid, body }), expected };
}

/** Reads the message the way the router does: message reader, header, then the field paths. */
function readBack(message: Buffer, paths: Labelled[], name: string, seqid: number): Map<string, string[]> {
  const reader = new MessageReader({ transport: 'buffered', maxMessageBytes: 1 << 20 });
  const got = reader.push(message);
  expect(got).toHaveLength(1);
  expect(reader.pendingBytes).toBe(0);
  const bytes = got[0]!.bytes;
  expect(bytes.equals(message)).toBe(true);
  const header = parseMessageHeader(bytes, 0, bytes.length);
  expect(header).not.toBeNull();
  expect(header!.name).toBe(name);
  expect(header!.type).toBe(CALL);
  expect(header!.seqid).toBe(seqid);
  expect(got[0]!.header.bodyOffset).toBe(header!.bodyOffset);
  const out = new Map<string, string[]>();
  for (const { what, path } of paths) {
    const strings = stringsAtPath(bytes, header!.bodyOffset, path);
    expect(firstStringAtPath(bytes, header!.bodyOffset, path)).toBe(strings[0]);
    out.set(what, strings);
  }
  return out;
}

const ENTRIES = METHOD_CATALOG.filter((e) => pathsOf(e).length > 0);

describe('catalog field paths read back from a call', () => {
  it('covers the catalog', () => {
    expect(ENTRIES.filter((e) => e.db !== undefined).length).toBeGreaterThan(150);
    expect(ENTRIES.some((e) => e.db?.includes('*'))).toBe(true);
    expect(ENTRIES.some((e) => (e.otherDbs ?? []).length > 0)).toBe(true);
  });

  ENTRIES.forEach((entry, n) => {
    const paths = pathsOf(entry);

    it(`${entry.name}: ${paths.map((p) => `${p.what}=${JSON.stringify(p.path)}`).join(' ')}`, () => {
      // Each path alone in its argument struct.
      paths.forEach((p, i) => {
        const seqid = n * 16 + i;
        const { message, expected } = build(entry, [p], seqid);
        const want = expected.get(p.what)!;
        expect(want.length).toBe(p.path.filter((s) => s === '*').reduce((k) => k * LIST_SIZE, 1));
        expect(new Set(want).size).toBe(want.length);
        expect(readBack(message, [p], entry.name, seqid)).toEqual(expected);
      });

      // All of the entry's paths in one argument struct, as a real call would have them: each
      // path gives its own strings and none of the others'.
      const seqid = -(n + 1);
      let built: Built;
      try {
        built = build(entry, paths, seqid);
      } catch (e) {
        if (e instanceof PathConflict) throw new Error(`${entry.name}: its paths cannot all hold in one struct: ${e.message}`);
        throw e;
      }
      expect(readBack(built.message, paths, entry.name, seqid)).toEqual(built.expected);
    });
  });
});
