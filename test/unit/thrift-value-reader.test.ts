import { describe, it, expect } from 'vitest';
import { ProtocolError, ProtocolErrorReason } from '../../src/thrift/protocol';
import { findField, firstStringAtPath, readString, skipStruct, skipValue, stringsAtPath } from '../../src/thrift/value-reader';
import type { FieldPath } from '../../src/hms/method-entry';
import {
  Rng,
  StructValue,
  T,
  Value,
  bool,
  byte,
  dbl,
  everyTypeStruct,
  i16,
  i32,
  i64,
  list,
  map,
  randomStruct,
  randomValue,
  randomShape,
  refEncodeValue,
  refReader,
  set,
  str,
  struct,
  protocolError,
  expectReason,
} from './thrift-reference';


function i32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** The strings at `path`, computed on the value model: the meaning stringsAtPath must have. */
function modelStrings(v: Value, path: FieldPath, step = 0): string[] {
  if (step === path.length) return v.t === T.STRING ? [v.v] : [];
  const key = path[step]!;
  if (key === '*') {
    if (v.t !== T.LIST && v.t !== T.SET) return [];
    return v.items.flatMap((item) => modelStrings(item, path, step + 1));
  }
  if (v.t !== T.STRUCT) return [];
  const field = v.fields.find((f) => f.id === key);
  return field === undefined ? [] : modelStrings(field.value, path, step + 1);
}

/** A random path into `v`: mostly along fields and list elements that exist, sometimes off it. */
function randomPath(rng: Rng, v: Value): FieldPath {
  const path: (number | '*')[] = [];
  let cur: Value | undefined = v;
  for (let depth = 0; depth < 6 && cur !== undefined; depth++) {
    if (cur.t === T.STRUCT) {
      if (cur.fields.length === 0 || rng.chance(0.1)) {
        path.push(rng.int(1, 30));
        break;
      }
      const f: StructValue['fields'][number] = rng.pick(cur.fields);
      path.push(f.id);
      cur = f.value;
    } else if (cur.t === T.LIST || cur.t === T.SET) {
      path.push('*');
      cur = cur.items[0];
    } else {
      if (rng.chance(0.2)) path.push(rng.chance(0.5) ? '*' : 1);
      break;
    }
    if (rng.chance(0.15)) break;
  }
  return path;
}

describe('skipValue and skipStruct on reference-encoded values', () => {
  const samples: [string, Value][] = [
    ['bool', bool(true)],
    ['byte', byte(-1)],
    ['i16', i16(-2)],
    ['i32', i32(123456)],
    ['i64', i64(-5n)],
    ['double', dbl(2.5)],
    ['empty string', str('')],
    ['utf-8 string', str('数据库 😀')],
    ['struct', everyTypeStruct()],
    ['empty struct', struct()],
    ['list<i32>', list(T.I32, [i32(1), i32(2)])],
    ['list<string>', list(T.STRING, [str('a'), str('')])],
    ['list<struct>', list(T.STRUCT, [struct([1, str('x')]), struct()])],
    ['list<list<i64>>', list(T.LIST, [list(T.I64, [i64(1n)]), list(T.I64, [])])],
    ['set<string>', set(T.STRING, [str('s')])],
    ['map<string,string>', map(T.STRING, T.STRING, [[str('k'), str('v')]])],
    ['map<i32,struct> empty', map(T.I32, T.STRUCT, [])],
    ['map<string,list<string>>', map(T.STRING, T.LIST, [[str('k'), list(T.STRING, [str('v')])]])],
    ['empty list of an odd element type', list(T.BOOL, [])],
  ];

  for (const [label, v] of samples) {
    it(`skips a ${label}`, () => {
      const enc = refEncodeValue(v);
      // At an offset, with bytes after it that must not be touched.
      const buf = Buffer.concat([Buffer.from([0xee, 0xee, 0xee]), enc, Buffer.from([0xff, 0xff])]);
      expect(skipValue(buf, 3, v.t)).toBe(3 + enc.length);
      if (v.t === T.STRUCT) expect(skipStruct(buf, 3)).toBe(3 + enc.length);
    });
  }

  it('skips random values exactly as far as the reference encoded them (property)', () => {
    for (let c = 0; c < 400; c++) {
      const rng = new Rng(0xa11 + c);
      const v = randomValue(rng, randomShape(rng, 5));
      const enc = refEncodeValue(v);
      const buf = Buffer.concat([enc, rng.bytes(rng.int(0, 4))]);
      expect(skipValue(buf, 0, v.t), `case ${c}`).toBe(enc.length);
    }
  });

  it('reports every cut of a struct as truncated, never as anything else', () => {
    const enc = refEncodeValue(everyTypeStruct());
    for (let cut = 0; cut < enc.length; cut++) {
      const part = Buffer.from(enc.subarray(0, cut));
      expectReason(() => skipStruct(part, 0), 'truncated');
      expectReason(() => skipValue(part, 0, T.STRUCT), 'truncated');
    }
  });

  it('reports every cut of a random value as truncated (property)', () => {
    for (let c = 0; c < 150; c++) {
      const rng = new Rng(0xc07 + c);
      const v = randomStruct(rng, 4);
      const enc = refEncodeValue(v);
      const cut = rng.int(0, enc.length - 1);
      expectReason(() => skipStruct(Buffer.from(enc.subarray(0, cut)), 0), 'truncated');
    }
  });

  it('reports a truncated fixed-width list and a truncated string', () => {
    expectReason(() => skipValue(Buffer.concat([Buffer.from([T.I64]), i32be(3), Buffer.alloc(23)]), 0, T.LIST), 'truncated');
    expectReason(() => skipValue(Buffer.concat([i32be(10), Buffer.from('short')]), 0, T.STRING), 'truncated');
    expectReason(() => skipValue(Buffer.from([0, 0]), 0, T.I32), 'truncated');
    expectReason(() => skipValue(Buffer.alloc(0), 0, T.BOOL), 'truncated');
    // A list that claims two billion elements ends quickly, as truncated.
    expectReason(() => skipValue(Buffer.concat([Buffer.from([T.STRUCT]), i32be(0x7fffffff), Buffer.alloc(100)]), 0, T.LIST), 'truncated');
    expectReason(() => skipValue(Buffer.concat([Buffer.from([T.I64]), i32be(0x7fffffff)]), 0, T.LIST), 'truncated');
  });

  it('refuses negative sizes, unknown types and runaway nesting', () => {
    expectReason(() => skipValue(i32be(-1), 0, T.STRING), 'negative_size');
    expectReason(() => skipValue(Buffer.concat([Buffer.from([T.I32]), i32be(-1)]), 0, T.LIST), 'negative_size');
    expectReason(() => skipValue(Buffer.concat([Buffer.from([T.I32, T.I32]), i32be(-3)]), 0, T.MAP), 'negative_size');
    expectReason(() => skipValue(Buffer.alloc(16), 0, 7), 'bad_type');
    expectReason(() => skipStruct(Buffer.from([1, 0, 1, 0, 0, 0]), 0), 'bad_type');
    expectReason(() => skipValue(Buffer.concat([Buffer.from([0x10]), i32be(1), Buffer.alloc(8)]), 0, T.LIST), 'bad_type');
    // Thousands of nested structs: a ProtocolError, not a stack overflow.
    const deep = Buffer.concat([Buffer.alloc(3 * 5000, Buffer.from([T.STRUCT, 0, 1])), Buffer.alloc(5000, 0)]);
    expectReason(() => skipStruct(deep, 0), 'too_deep');
    const deepLists = Buffer.concat([Buffer.alloc(5 * 5000, Buffer.concat([Buffer.from([T.LIST]), i32be(1)])), Buffer.from([T.I32]), i32be(0)]);
    expectReason(() => skipValue(deepLists, 0, T.LIST), 'too_deep');
  });
});

describe('findField', () => {
  const value = everyTypeStruct();
  const enc = refEncodeValue(value);

  it('finds every field where the reference reader finds it', () => {
    const { p, pos } = refReader(enc);
    p.readStructBegin();
    for (;;) {
      const f = p.readFieldBegin();
      if (f.ftype === T.STOP) break;
      expect(findField(enc, 0, f.fid)).toEqual({ offset: pos(), type: f.ftype });
      p.skip(f.ftype);
    }
  });

  it('returns null for an absent field', () => {
    expect(findField(enc, 0, 99)).toBeNull();
    expect(findField(enc, 0, 0)).toBeNull();
    expect(findField(refEncodeValue(struct()), 0, 1)).toBeNull();
  });

  it('works at an offset and reads i16 ids as signed', () => {
    const buf = Buffer.concat([Buffer.from([7, 7]), enc]);
    const f = findField(buf, 2, -1);
    expect(f).not.toBeNull();
    expect(f!.type).toBe(T.I32);
    expect(buf.readInt32BE(f!.offset)).toBe(-1);
  });

  it('throws truncated when the struct ends before its STOP', () => {
    for (let cut = 0; cut < enc.length; cut++) {
      expectReason(() => findField(Buffer.from(enc.subarray(0, cut)), 0, 99), 'truncated');
    }
  });
});

describe('readString', () => {
  it('reads empty and multi-byte UTF-8 strings', () => {
    for (const s of ['', 'abc', 'é 数据 😀 𝄞', '\u0000x']) {
      expect(readString(refEncodeValue(str(s)), 0)).toBe(s);
    }
  });

  it('refuses a negative length and a truncated string', () => {
    expectReason(() => readString(i32be(-1), 0), 'negative_size');
    expectReason(() => readString(Buffer.concat([i32be(4), Buffer.from('abc')]), 0), 'truncated');
    expectReason(() => readString(Buffer.from([0, 0]), 0), 'truncated');
  });
});

describe('stringsAtPath', () => {
  const value = everyTypeStruct();
  const enc = refEncodeValue(value);
  const at = (path: FieldPath, limit?: number): string[] => stringsAtPath(enc, 0, path, limit);

  it('reads a top-level string field', () => {
    expect(at([14])).toEqual(['plain ascii']);
    expect(at([15])).toEqual(['multi-byte: é 数据 😀 𝄞']);
    expect(at([13])).toEqual(['']);
  });

  it('follows nested structs', () => {
    expect(at([16, 1])).toEqual(['nested']);
    expect(at([16, 2, 2, '*'])).toEqual(['deep']);
  });

  it("steps into every element of a list or set with '*'", () => {
    // The middle element has no field 1 and contributes nothing.
    expect(at([17, '*', 1])).toEqual(['a', 'c']);
    expect(at([19, '*'])).toEqual(['x', 'y']);
    expect(at([26, '*'])).toEqual([]);
  });

  it('gives nothing for absent fields', () => {
    expect(at([99])).toEqual([]);
    expect(at([16, 99])).toEqual([]);
    expect(at([17, '*', 99])).toEqual([]);
    expect(at([16, 2, 99, 1])).toEqual([]);
  });

  it('gives nothing for fields of another type than the path expects', () => {
    expect(at([8])).toEqual([]); // i32
    expect(at([1])).toEqual([]); // bool
    expect(at([9])).toEqual([]); // i64
    expect(at([16])).toEqual([]); // a struct where a string was expected
    expect(at([14, 1])).toEqual([]); // a string where a struct was expected
    expect(at([14, '*'])).toEqual([]); // a string where a list was expected
    expect(at([16, '*'])).toEqual([]); // a struct where a list was expected
    expect(at([17, 1])).toEqual([]); // a list where a struct was expected
    expect(at([18, '*'])).toEqual([]); // list<i32>
    expect(at([18, '*', 1])).toEqual([]);
    expect(at([20, '*'])).toEqual([]); // a map is not a list
    expect(at([22, '*', '*'])).toEqual([]); // list<list<i16>>
    expect(at([21, 1])).toEqual([]);
  });

  it('follows lists of lists', () => {
    const v = struct([1, list(T.LIST, [list(T.STRING, [str('a'), str('b')]), list(T.STRING, []), list(T.STRING, [str('c')])])]);
    expect(stringsAtPath(refEncodeValue(v), 0, [1, '*', '*'])).toEqual(['a', 'b', 'c']);
  });

  it('takes the first occurrence when a field id repeats', () => {
    const v = struct([1, str('first')], [1, str('second')]);
    expect(stringsAtPath(refEncodeValue(v), 0, [1])).toEqual(['first']);
  });

  it('stops after `limit` strings', () => {
    expect(at([17, '*', 1], 1)).toEqual(['a']);
    expect(at([17, '*', 1], 2)).toEqual(['a', 'c']);
    expect(at([17, '*', 1], 5)).toEqual(['a', 'c']);
    expect(at([14], 1)).toEqual(['plain ascii']);
    expect(firstStringAtPath(enc, 0, [17, '*', 1])).toBe('a');
    expect(firstStringAtPath(enc, 0, [99])).toBeUndefined();
    const nested = struct([1, list(T.STRUCT, [struct([1, list(T.STRING, [str('a'), str('b')])]), struct([1, list(T.STRING, [str('c')])])])]);
    expect(stringsAtPath(refEncodeValue(nested), 0, [1, '*', 1, '*'], 2)).toEqual(['a', 'b']);
    expect(stringsAtPath(refEncodeValue(nested), 0, [1, '*', 1, '*'], 3)).toEqual(['a', 'b', 'c']);
  });

  it('returns no strings for a limit of 0', () => {
    expect(at([17, '*', 1], 0)).toEqual([]);
    expect(at([14], 0)).toEqual([]);
  });

  it('throws truncated when the buffer ends before the path is resolved', () => {
    // A string field after all the others: every cut before the end of its value hides it.
    const last = refEncodeValue(struct(...value.fields.map((f): [number, Value] => [f.id, f.value]), [300, str('the_db')]));
    for (let cut = 0; cut < last.length - 1; cut++) {
      expectReason(() => stringsAtPath(Buffer.from(last.subarray(0, cut)), 0, [300]), 'truncated');
    }
    // Only the STOP byte missing: the field is all there.
    expect(stringsAtPath(Buffer.from(last.subarray(0, last.length - 1)), 0, [300])).toEqual(['the_db']);
    // A cut inside the string the path names.
    const s = refEncodeValue(struct([1, str('database_name')]));
    expectReason(() => stringsAtPath(Buffer.from(s.subarray(0, 10)), 0, [1]), 'truncated');
  });

  it('agrees with the value model on random structs and paths (property)', () => {
    let nonEmpty = 0;
    for (let c = 0; c < 500; c++) {
      const rng = new Rng(0x9a7 + c);
      const v: StructValue = randomStruct(rng, 5);
      const enc2 = Buffer.concat([Buffer.from([1, 2, 3]), refEncodeValue(v), rng.bytes(3)]);
      for (let k = 0; k < 5; k++) {
        const path = randomPath(rng, v);
        const expected = modelStrings(v, path);
        if (expected.length > 0) nonEmpty++;
        expect(stringsAtPath(enc2, 3, path), `case ${c} path ${JSON.stringify(path)}`).toEqual(expected);
        const limit = rng.int(1, 3);
        expect(stringsAtPath(enc2, 3, path, limit), `case ${c} path ${JSON.stringify(path)} limit ${limit}`).toEqual(
          expected.slice(0, limit),
        );
        expect(firstStringAtPath(enc2, 3, path)).toBe(expected[0]);
      }
    }
    expect(nonEmpty).toBeGreaterThan(100);
  });
});
