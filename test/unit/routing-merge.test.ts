import { describe, it, expect } from 'vitest';
import { compileRoutingMap, type RoutingMap } from '../../src/routing/routing-map';
import { resolveMetastore } from '../../src/routing/matcher';
import { mergeDatabaseLists } from '../../src/routing/fan-out-merge';
import { prng } from '../support/prng';

function mapOf(input: unknown, names: readonly string[]): RoutingMap {
  const r = compileRoutingMap(input, names);
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.map;
}

describe('mergeDatabaseLists', () => {
  const map = mapOf({
    defaultMetastore: 'a',
    routes: [
      { database: 'moved', metastore: 'b' },
      { glob: 'b_*', metastore: 'b' },
      { database: 'spark_only', catalog: 'spark', metastore: 'b' },
    ],
  }, ['a', 'b']);

  it('takes each database from the metastore its route points to', () => {
    const merged = mergeDatabaseLists(map, new Map([
      ['a', ['default', 'moved', 'orders', 'b_stale']],
      ['b', ['moved', 'b_1', 'orders', 'default']],
    ]));
    // 'moved' and 'b_stale' are leftovers on a; 'orders' and 'default' on b are not routed there.
    expect(merged).toEqual(['b_1', 'default', 'moved', 'orders']);
  });

  it('shows each database once, even when one metastore lists it twice or in another case', () => {
    expect(mergeDatabaseLists(map, new Map([['a', ['x', 'x', 'X']], ['b', ['b_1', 'B_1']]]))).toEqual(['b_1', 'x']);
  });

  it('sorts ascending by UTF-16 code units, as HMS sorts get_all_databases', () => {
    const merged = mergeDatabaseLists(map, new Map([['a', ['z', '_u', 'a10', 'a2', 'default']], ['b', ['b_2', 'b_10']]]));
    expect(merged).toEqual(['_u', 'a10', 'a2', 'b_10', 'b_2', 'default', 'z']);
  });

  it('drops a database whose owner did not answer', () => {
    expect(mergeDatabaseLists(map, new Map([['a', ['moved', 'kept']]]))).toEqual(['kept']);
  });

  it('ignores metastores the map does not know', () => {
    expect(mergeDatabaseLists(map, new Map([['ghost', ['x']], ['a', ['y']]]))).toEqual(['y']);
  });

  it('routes by the given catalog', () => {
    const lists = new Map([['a', ['spark_only']], ['b', ['spark_only']]]);
    expect(mergeDatabaseLists(map, lists, 'spark')).toEqual(['spark_only']);
    expect(mergeDatabaseLists(map, new Map([['b', ['spark_only']]]), 'spark')).toEqual(['spark_only']);
    expect(mergeDatabaseLists(map, new Map([['b', ['spark_only']]]), null)).toEqual([]);
    expect(mergeDatabaseLists(map, new Map([['a', ['spark_only']]]), null)).toEqual(['spark_only']);
  });

  it('returns an empty list for no answers', () => {
    expect(mergeDatabaseLists(map, new Map())).toEqual([]);
  });
});


describe('properties (seeded)', () => {
  const ALPHABET = ['a', 'b', 'A', 'B', '_', '1'];
  const METASTORES = ['m0', 'm1', 'm2', 'm3'];

  function randomCase(rnd: () => number): { map: RoutingMap; names: string[] } {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const word = (max: number): string => Array.from({ length: 1 + Math.floor(rnd() * max) }, () => pick(ALPHABET)).join('');
    const names = METASTORES.slice(0, 1 + Math.floor(rnd() * METASTORES.length));
    const routes: unknown[] = [];
    const claimed = new Set<string>();
    const count = Math.floor(rnd() * 12);
    for (let i = 0; i < count; i++) {
      const metastore = pick(names);
      const catalog = rnd() < 0.2 ? pick(['hive', 'spark']) : undefined;
      const kind = pick(['database', 'glob', 'regex'] as const);
      if (kind === 'database') {
        const db = word(3);
        const key = `${catalog ?? ''}/${db.toLowerCase()}`;
        if (claimed.has(key)) continue;
        claimed.add(key);
        routes.push({ database: db, metastore, catalog });
      } else if (kind === 'glob') {
        routes.push({ glob: word(2) + pick(['*', '?', '']), metastore, catalog });
      } else {
        routes.push({ regex: `${word(2)}[ab_]*`, metastore, catalog });
      }
    }
    const map = mapOf(JSON.parse(JSON.stringify({ defaultMetastore: pick(names), routes })), names);
    return { map, names };
  }

  it('resolveMetastore always returns a configured metastore', () => {
    const rnd = prng(0x5eed);
    const bad: string[] = [];
    for (let round = 0; round < 300; round++) {
      const { map, names } = randomCase(rnd);
      for (let i = 0; i < 50; i++) {
        const db = rnd() < 0.05 ? null : Array.from({ length: Math.floor(rnd() * 5) }, () => ALPHABET[Math.floor(rnd() * ALPHABET.length)]).join('');
        const catalog = rnd() < 0.7 ? null : rnd() < 0.5 ? 'spark' : 'HIVE';
        const got = resolveMetastore(map, db, catalog);
        if (!names.includes(got)) bad.push(`round ${round}: ${String(db)}@${String(catalog)} -> ${got}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('mergeDatabaseLists never returns a database twice and keeps exactly the owned names', () => {
    const rnd = prng(0xc0ffee);
    for (let round = 0; round < 300; round++) {
      const { map, names } = randomCase(rnd);
      const per = new Map<string, string[]>();
      for (const m of names) {
        per.set(m, Array.from({ length: Math.floor(rnd() * 15) }, () =>
          Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => ALPHABET[Math.floor(rnd() * ALPHABET.length)]).join('')));
      }
      const merged = mergeDatabaseLists(map, per);
      const lower = merged.map((n) => n.toLowerCase());
      expect(new Set(lower).size).toBe(merged.length);
      expect([...merged].sort()).toEqual(merged);
      // Every merged name is listed by its owner; every name listed by its owner is merged.
      for (const n of merged) expect(per.get(resolveMetastore(map, n, null))).toContain(n);
      for (const [m, list] of per) {
        for (const n of list) if (resolveMetastore(map, n, null) === m) expect(lower).toContain(n.toLowerCase());
      }
    }
  });
});
