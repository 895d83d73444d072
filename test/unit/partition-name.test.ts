import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PARTITION_NAME,
  escapePartitionValue,
  makePartitionName,
  partitionValuesFromName,
  unescapePartitionValue,
} from '../../src/batching/partition-name';
import type { PartitionKey } from '../../src/batching/partition-filter';
import { prng } from '../support/prng';

const keys = (...names: string[]): PartitionKey[] => names.map((name) => ({ name, type: 'string' }));

describe('escapePartitionValue (FileUtils.escapePathName)', () => {
  it('escapes exactly charToEscape, with two upper-case hex digits', () => {
    for (const c of '"#%\'*/:=?\\{[]^') {
      expect(escapePartitionValue(c)).toBe(`%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
    }
    expect(escapePartitionValue('\x00\x01\t\n\x1f\x7f')).toBe('%00%01%09%0A%1F%7F');
  });

  it('leaves everything else alone, spaces and non-ASCII included', () => {
    expect(escapePartitionValue('a b-c_d.e,f;g<h>i|j~k+l!m&n$o(p)q@r`s}t')).toBe('a b-c_d.e,f;g<h>i|j~k+l!m&n$o(p)q@r`s}t');
    expect(escapePartitionValue('café 日本 \u{1F600}')).toBe('café 日本 \u{1F600}');
  });

  it('writes the empty value as the default partition name', () => {
    expect(escapePartitionValue('')).toBe(DEFAULT_PARTITION_NAME);
    expect(escapePartitionValue(DEFAULT_PARTITION_NAME)).toBe(DEFAULT_PARTITION_NAME);
  });
});

describe('unescapePartitionValue', () => {
  it('decodes %XX and keeps a % that does not start one', () => {
    expect(unescapePartitionValue('a%2Fb%3a')).toBe('a/b:');
    expect(unescapePartitionValue('100%')).toBe('100%');
    expect(unescapePartitionValue('%2')).toBe('%2');
    expect(unescapePartitionValue('%zz%41')).toBe('%zzA');
  });
});

describe('makePartitionName (Warehouse.makePartName)', () => {
  it('lower-cases and escapes keys, escapes values, joins with /', () => {
    expect(makePartitionName(keys('Day', 'Hour'), ['2024-01-01', '5'])).toBe('day=2024-01-01/hour=5');
    expect(makePartitionName(keys('a=b'), ['x/y'])).toBe('a%3Db=x%2Fy');
    expect(makePartitionName(keys('k'), [''])).toBe('k=__HIVE_DEFAULT_PARTITION__');
  });

  it('refuses a value count that does not match the keys', () => {
    expect(() => makePartitionName(keys('a', 'b'), ['1'])).toThrow(/2 partition keys but 1 values/);
    expect(() => makePartitionName([], [])).toThrow(/0 partition keys/);
  });
});

describe('partitionValuesFromName', () => {
  it('reads values back in key order', () => {
    expect(partitionValuesFromName('day=2024-01-01/hour=5/region=us%2Feast', keys('day', 'hour', 'region')))
      .toEqual(['2024-01-01', '5', 'us/east']);
    expect(partitionValuesFromName('day=a/hour=1', keys('DAY', 'Hour'))).toEqual(['a', '1']);
  });

  it('returns the default partition name as it is (it stands for "" too)', () => {
    expect(partitionValuesFromName('k=__HIVE_DEFAULT_PARTITION__', keys('k'))).toEqual([DEFAULT_PARTITION_NAME]);
  });

  it('returns null for names the metastore would not write for these keys', () => {
    const k2 = keys('a', 'b');
    expect(partitionValuesFromName('a=1', k2)).toBeNull(); // too few components
    expect(partitionValuesFromName('a=1/b=2/c=3', k2)).toBeNull(); // too many
    expect(partitionValuesFromName('b=2/a=1', k2)).toBeNull(); // other order
    expect(partitionValuesFromName('A=1/b=2', k2)).toBeNull(); // key not lower-cased
    expect(partitionValuesFromName('a=/b=2', k2)).toBeNull(); // '' is written as the default name
    expect(partitionValuesFromName('a=x%2fy/b=2', k2)).toBeNull(); // lower-case hex
    expect(partitionValuesFromName('a=x=y/b=2', k2)).toBeNull(); // unescaped '='
    expect(partitionValuesFromName('a=100%/b=2', k2)).toBeNull(); // unescaped '%'
    expect(partitionValuesFromName('a=%41/b=2', k2)).toBeNull(); // 'A' never needs escaping
    expect(partitionValuesFromName('a1/b=2', k2)).toBeNull(); // no '='
    expect(partitionValuesFromName('k=1', [])).toBeNull();
    expect(partitionValuesFromName('é=1', keys('é'))).toBeNull(); // non-ASCII key: Java lower-casing not reproduced
  });

  /** Strings that exercise escaping: every escaped character, '%', hex digits, non-ASCII. */
  function randomValue(next: () => number): string {
    const alphabet = ['a', 'Z', '0', 'F', 'f', ' ', '%', '/', '=', ':', '\\', "'", '"', '\t', '\n', '\x00', '\x7f', '_', '.',
      '*', '?', '#', '{', '[', ']', '^', 'é', '日', '\u{1F600}', '_HIVE', DEFAULT_PARTITION_NAME];
    const length = Math.floor(next() * 8);
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)]!;
    return out;
  }

  it('round-trips random values through makePartitionName (property, seeded)', () => {
    for (const seed of [1, 2, 3, 42, 1337]) {
      const next = prng(seed);
      for (let n = 0; n < 1000; n++) {
        const count = 1 + Math.floor(next() * 4);
        const ks = Array.from({ length: count }, (_, i) => ({ name: `k${i}`, type: 'string' }));
        const values = ks.map(() => randomValue(next));
        const name = makePartitionName(ks, values);
        const back = partitionValuesFromName(name, ks);
        expect(back, `seed ${seed}: ${JSON.stringify(values)} -> ${name}`)
          .toEqual(values.map((v) => (v === '' ? DEFAULT_PARTITION_NAME : v)));
      }
    }
  });

  it('escape and unescape are inverse on non-empty values, and escaping is injective (property, seeded)', () => {
    const next = prng(7);
    const seen = new Map<string, string>();
    for (let n = 0; n < 5000; n++) {
      const value = randomValue(next);
      if (value === '') continue;
      const escaped = escapePartitionValue(value);
      expect(unescapePartitionValue(escaped)).toBe(value);
      expect(escaped).not.toMatch(/[/=]/);
      const earlier = seen.get(escaped);
      if (earlier !== undefined) expect(earlier).toBe(value);
      seen.set(escaped, value);
    }
  });
});
