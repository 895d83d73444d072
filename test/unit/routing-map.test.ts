import { describe, it, expect } from 'vitest';
import { compileRoutingMap, canonicalJson, type RoutingMap } from '../../src/routing/routing-map';

const NAMES = ['rw', 'fed', 'archive'] as const;

function problemsOf(input: unknown, names: readonly string[] = NAMES): string[] {
  const r = compileRoutingMap(input, names);
  if (r.ok) throw new Error(`expected the map to be refused: ${JSON.stringify(input)}`);
  return r.problems;
}

function mapOf(input: unknown, names: readonly string[] = NAMES): RoutingMap {
  const r = compileRoutingMap(input, names);
  if (!r.ok) throw new Error(`expected the map to compile: ${r.problems.join('; ')}`);
  return r.map;
}

describe('compileRoutingMap: valid maps', () => {
  it('compiles a full map and keeps the source', () => {
    const input = {
      routes: [
        { database: 'sales', metastore: 'fed' },
        { glob: 'tmp_*', metastore: 'archive' },
        { regex: '^log_\\d+$', catalog: 'spark', metastore: 'fed' },
      ],
      defaultMetastore: 'rw',
      blocked: [{ database: 'moving', reason: 'moving to fed' }],
      access: { archive: { mode: 'read-only' }, fed: { mode: 'write-listed', writableDatabases: ['sales', 'new_*'] } },
    };
    const map = mapOf(input);
    expect(map.defaultMetastore).toBe('rw');
    expect(map.exactAnyCatalog.get('sales')).toBe('fed');
    expect(map.patterns.map((p) => [p.index, p.kind, p.catalog, p.metastore])).toEqual([
      [1, 'glob', null, 'archive'],
      [2, 'regex', 'spark', 'fed'],
    ]);
    expect(map.source.routes).toHaveLength(3);
    expect(map.metastores).toEqual(['rw', 'fed', 'archive']);
  });

  it('fills defaults: a map with only a default metastore is valid', () => {
    const map = mapOf({ defaultMetastore: 'rw' });
    expect(map.source).toEqual({ routes: [], defaultMetastore: 'rw', blocked: [], access: {}, fanOut: 'complete' });
    expect(map.patterns).toEqual([]);
  });

  it('accepts an optional metastores list naming known metastores', () => {
    expect(mapOf({ metastores: ['rw', 'fed'], defaultMetastore: 'rw' }).defaultMetastore).toBe('rw');
  });

  it('has a 12-hex version that ignores key order and changes with content', () => {
    const a = mapOf({ defaultMetastore: 'rw', routes: [{ database: 'x', metastore: 'fed' }] });
    const b = mapOf({ routes: [{ metastore: 'fed', database: 'x' }], defaultMetastore: 'rw' });
    const c = mapOf({ defaultMetastore: 'rw', routes: [{ database: 'y', metastore: 'fed' }] });
    expect(a.version).toMatch(/^[0-9a-f]{12}$/);
    expect(b.version).toBe(a.version);
    expect(c.version).not.toBe(a.version);
  });

  it('stamps loadedAt from the clock', () => {
    const r = compileRoutingMap({ defaultMetastore: 'rw' }, NAMES, { now: () => new Date('2024-05-06T07:08:09.000Z') });
    expect(r.ok && r.map.loadedAt).toBe('2024-05-06T07:08:09.000Z');
  });

  it('is immutable', () => {
    const map = mapOf({ defaultMetastore: 'rw', routes: [{ glob: 'a*', metastore: 'fed' }] });
    expect(Object.isFrozen(map)).toBe(true);
    expect(Object.isFrozen(map.patterns)).toBe(true);
    expect(Object.isFrozen(map.source)).toBe(true);
    expect(Object.isFrozen(map.source.routes[0])).toBe(true);
  });

  it('does not share state with the caller\'s input object', () => {
    const input = { defaultMetastore: 'rw', routes: [{ database: 'x', metastore: 'fed' }] };
    const map = mapOf(input);
    input.routes[0]!.metastore = 'archive';
    expect(map.exactAnyCatalog.get('x')).toBe('fed');
    expect(map.source.routes[0]?.metastore).toBe('fed');
  });

  it('lets the same exact name be routed once per catalog and once for every catalog', () => {
    const map = mapOf({
      defaultMetastore: 'rw',
      routes: [
        { database: 'sales', metastore: 'fed' },
        { database: 'sales', catalog: 'spark', metastore: 'archive' },
      ],
    });
    expect(map.exactByCatalog.get('spark')?.get('sales')).toBe('archive');
  });
});

describe('compileRoutingMap: problems', () => {
  it('reports schema errors with their path', () => {
    const problems = problemsOf({ defaultMetastore: 7, routes: [{ database: 'a', metastore: 'fed', colour: 'red' }] });
    expect(problems).toContain('defaultMetastore: Invalid input: expected string, received number');
    expect(problems).toContain('routes.0: Unrecognized key: "colour"');
  });

  it('refuses a non-object', () => {
    expect(problemsOf('routes: []')[0]).toMatch(/^\(root\): /);
    expect(problemsOf(null)[0]).toMatch(/^\(root\): /);
  });

  it('requires defaultMetastore', () => {
    expect(problemsOf({ routes: [] })).toEqual(['defaultMetastore: Invalid input: expected string, received undefined']);
  });

  it('needs exactly one of database, glob, regex', () => {
    const problems = problemsOf({
      defaultMetastore: 'rw',
      routes: [{ metastore: 'fed' }, { database: 'a', glob: 'b*', metastore: 'fed' }, { database: 'c', metastore: 'fed' }],
    });
    expect(problems).toEqual([
      'routes.0: a route needs exactly one of database, glob, regex (found none)',
      'routes.1: a route needs exactly one of database, glob, regex (found database, glob)',
    ]);
  });

  it('refuses empty names', () => {
    expect(problemsOf({ defaultMetastore: 'rw', routes: [{ database: '', metastore: 'fed' }] })).toEqual([
      'routes.0.database: must not be empty',
    ]);
  });

  it('refuses a route naming a metastore that does not exist', () => {
    expect(problemsOf({ defaultMetastore: 'rw', routes: [{ glob: 'x*', metastore: 'nope' }] })).toEqual([
      "routes.0.metastore: unknown metastore 'nope' (known: rw, fed, archive)",
    ]);
  });

  it('refuses a regex that does not compile, with the RegExp error', () => {
    const problems = problemsOf({
      defaultMetastore: 'rw',
      routes: [{ database: 'a', metastore: 'fed' }, { glob: 'b*', metastore: 'fed' }, { regex: '(', metastore: 'fed' }, { regex: '[a-', metastore: 'rw' }],
    });
    expect(problems).toEqual([
      'routes.2.regex: invalid regular expression /(/: Unterminated group',
      'routes.3.regex: invalid regular expression /[a-/: Unterminated character class',
    ]);
  });

  it('refuses two routes claiming the same exact name in the same catalog, case-insensitively', () => {
    const problems = problemsOf({
      defaultMetastore: 'rw',
      routes: [
        { database: 'sales', metastore: 'fed' },
        { database: 'SALES', metastore: 'fed' },
        { database: 'sales', catalog: 'spark', metastore: 'fed' },
        { database: 'Sales', catalog: 'SPARK', metastore: 'archive' },
      ],
    });
    expect(problems).toEqual([
      "routes.1.database: database 'sales' is already claimed by routes.0",
      "routes.3.database: database 'sales' in catalog 'spark' is already claimed by routes.2",
    ]);
  });

  it('refuses an unknown default metastore', () => {
    expect(problemsOf({ defaultMetastore: 'gone' })).toEqual([
      "defaultMetastore: unknown metastore 'gone' (known: rw, fed, archive)",
    ]);
    expect(problemsOf({ defaultMetastore: 'rw' }, [])).toEqual(["defaultMetastore: unknown metastore 'rw' (known: none)"]);
  });

  it('refuses write-listed without writableDatabases, and writableDatabases with another mode', () => {
    const problems = problemsOf({
      defaultMetastore: 'rw',
      access: {
        fed: { mode: 'write-listed' },
        archive: { mode: 'write-listed', writableDatabases: [] },
        rw: { mode: 'read-only', writableDatabases: ['x'] },
      },
    });
    expect(problems).toEqual([
      'access.fed.writableDatabases: mode write-listed needs writableDatabases (a non-empty list of database names or globs)',
      'access.archive.writableDatabases: mode write-listed needs writableDatabases (a non-empty list of database names or globs)',
      'access.rw.writableDatabases: writableDatabases applies only to mode write-listed, not read-only',
    ]);
  });

  it('refuses an unknown access mode and access for an unknown metastore', () => {
    const problems = problemsOf({ defaultMetastore: 'rw', access: { fed: { mode: 'rw' }, ghost: { mode: 'read-only' } } });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^access\.fed\.mode: Invalid option/);
    expect(problems[1]).toBe("access.ghost: unknown metastore 'ghost' (known: rw, fed, archive)");
  });

  it('refuses a metastores list naming an unknown metastore', () => {
    expect(problemsOf({ metastores: ['rw', 'other'], defaultMetastore: 'rw' })).toEqual([
      "metastores.1: unknown metastore 'other' (known: rw, fed, archive)",
    ]);
  });

  it('refuses a blocked entry without a reason', () => {
    expect(problemsOf({ defaultMetastore: 'rw', blocked: [{ database: 'x' }] })).toEqual([
      'blocked.0.reason: Invalid input: expected string, received undefined',
    ]);
  });

  it('collects every problem at once, schema errors and cross-checks together', () => {
    const problems = problemsOf({
      defaultMetastore: 'gone',
      routes: [
        { database: 'a', metastore: 'fed' },
        { database: 'a', metastore: 'fed' },
        { regex: '(', metastore: 'nope' },
        { glob: 'x*', metastore: 5 },
      ],
      access: { fed: { mode: 'write-listed' } },
    });
    expect(problems).toEqual([
      'routes.3.metastore: Invalid input: expected string, received number',
      'access.fed.writableDatabases: mode write-listed needs writableDatabases (a non-empty list of database names or globs)',
      "defaultMetastore: unknown metastore 'gone' (known: rw, fed, archive)",
      "routes.1.database: database 'a' is already claimed by routes.0",
      "routes.2.metastore: unknown metastore 'nope' (known: rw, fed, archive)",
      'routes.2.regex: invalid regular expression /(/: Unterminated group',
    ]);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[{"c":2,"d":1}]}');
  });
});
