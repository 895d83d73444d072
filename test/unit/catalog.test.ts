import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import { METHOD_CATALOG, findMethod } from '../../src/hms/catalog';
import type { FieldPath, InterfaceVersion, MethodEntry } from '../../src/hms/method-entry';

/** Method names extracted from each version's IDL (ThriftHiveMetastore plus its fb303 base service). */
function idlNames(version: '2.3' | '3.1' | '4'): string[] {
  const text = readFileSync(join(__dirname, 'fixtures', `hms-methods-${version}.txt`), 'utf8');
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

const FB303 = [
  'getName', 'getVersion', 'getStatus', 'getStatusDetails', 'getCounters', 'getCounter', 'setOption',
  'getOption', 'getOptions', 'getCpuProfile', 'aliveSince', 'reinitialize', 'shutdown',
];

function pathsOf(e: MethodEntry): [string, FieldPath][] {
  const out: [string, FieldPath][] = [];
  if (e.db) out.push(['db', e.db]);
  if (e.table) out.push(['table', e.table]);
  if (e.catalog) out.push(['catalog', e.catalog]);
  for (const p of e.otherDbs ?? []) out.push(['otherDbs', p]);
  return out;
}

describe('METHOD_CATALOG', () => {
  it('has unique method names', () => {
    const names = METHOD_CATALOG.map((e) => e.name);
    const dupes = names.filter((n, i) => names.indexOf(n) !== i);
    expect(dupes).toEqual([]);
  });

  it('has well-formed field paths', () => {
    const bad: string[] = [];
    for (const e of METHOD_CATALOG) {
      for (const [what, p] of pathsOf(e)) {
        const first = p[0];
        const ok =
          p.length > 0 &&
          typeof first === 'number' && Number.isInteger(first) && first > 0 &&
          p[p.length - 1] !== '*' &&
          p.every((s, i) => (s === '*' ? p[i - 1] !== '*' : Number.isInteger(s) && s > 0));
        if (!ok) bad.push(`${e.name}.${what}=${JSON.stringify(p)}`);
      }
      if (e.otherDbs !== undefined && e.otherDbs.length === 0) bad.push(`${e.name}.otherDbs is empty`);
    }
    expect(bad).toEqual([]);
  });

  it('gives oneway methods no metaException', () => {
    const bad = METHOD_CATALOG.filter((e) => e.oneway && e.metaException !== undefined).map((e) => e.name);
    expect(bad).toEqual([]);
    expect(METHOD_CATALOG.filter((e) => e.oneway).map((e) => e.name).sort()).toEqual(['reinitialize', 'shutdown']);
  });

  it('has positive integer metaException ids', () => {
    const bad = METHOD_CATALOG.filter(
      (e) => e.metaException !== undefined && !(Number.isInteger(e.metaException) && e.metaException > 0),
    ).map((e) => e.name);
    expect(bad).toEqual([]);
  });

  it('puts fanOut only on entries that name no database', () => {
    const bad = METHOD_CATALOG.filter((e) => e.fanOut !== undefined && e.db !== undefined).map((e) => e.name);
    expect(bad).toEqual([]);
    const fanOut = Object.fromEntries(METHOD_CATALOG.filter((e) => e.fanOut).map((e) => [e.name, e.fanOut]));
    expect(fanOut).toEqual({
      get_all_databases: 'databases',
      get_databases: 'databases',
      get_databases_req: 'databases',
      get_table_meta: 'table-meta',
    });
  });

  it('keeps kind and mutates consistent', () => {
    const bad = METHOD_CATALOG.filter(
      (e) => (e.kind === 'read' && e.mutates) || (e.kind === 'write' && !e.mutates),
    ).map((e) => e.name);
    expect(bad).toEqual([]);
  });

  it('tags every entry with at least one version, without repeats', () => {
    const bad = METHOD_CATALOG.filter(
      (e) => e.versions.length === 0 || new Set(e.versions).size !== e.versions.length,
    ).map((e) => e.name);
    expect(bad).toEqual([]);
  });

  it('tags exactly the FacebookService methods with fb303', () => {
    const tagged = METHOD_CATALOG.filter((e) => e.versions.includes('fb303')).map((e) => e.name);
    expect(tagged.sort()).toEqual([...FB303].sort());
  });

  for (const version of ['2.3', '3.1', '4'] as const) {
    describe(`Hive ${version}`, () => {
      const idl = idlNames(version);

      it('fixture lists the fb303 methods and no duplicates', () => {
        expect(new Set(idl).size).toBe(idl.length);
        for (const name of FB303) expect(idl).toContain(name);
      });

      it('has every IDL method in the catalog, tagged with the version', () => {
        const missing = idl.filter((n) => !findMethod(n)?.versions.includes(version as InterfaceVersion));
        expect(missing).toEqual([]);
      });

      it('tags no method that the IDL lacks', () => {
        const names = new Set(idl);
        const extra = METHOD_CATALOG.filter((e) => e.versions.includes(version) && !names.has(e.name)).map(
          (e) => e.name,
        );
        expect(extra).toEqual([]);
      });
    });
  }
});

describe('findMethod', () => {
  it('returns the catalog entry itself', () => {
    for (const e of METHOD_CATALOG) expect(findMethod(e.name)).toBe(e);
  });

  it('returns undefined for unknown names', () => {
    expect(findMethod('no_such_method')).toBeUndefined();
    expect(findMethod('')).toBeUndefined();
    expect(findMethod('GET_TABLE')).toBeUndefined();
    expect(findMethod('toString')).toBeUndefined();
  });

  it('knows a few well-known entries', () => {
    expect(findMethod('get_table_req')).toMatchObject({
      kind: 'read',
      mutates: false,
      db: [1, 1],
      table: [1, 2],
      catalog: [1, 4],
      metaException: 1,
    });
    expect(findMethod('add_partitions')).toMatchObject({ kind: 'write', db: [1, '*', 2], metaException: 3 });
    expect(findMethod('lock')).toMatchObject({ kind: 'txn', mutates: true, db: [1, 1, '*', 3] });
    expect(findMethod('shutdown')).toMatchObject({ kind: 'global', mutates: true, oneway: true });
  });
});
