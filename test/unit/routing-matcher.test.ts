import { describe, it, expect } from 'vitest';
import { compileRoutingMap, type RoutingMap } from '../../src/routing/routing-map';
import { blockedMessage, blockedReason, resolveMetastore, writeAllowed } from '../../src/routing/matcher';
import { globToRegExp } from '../../src/routing/glob';

const NAMES = ['rw', 'fed', 'archive', 'spark'];

function mapOf(input: unknown): RoutingMap {
  const r = compileRoutingMap(input, NAMES);
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.map;
}

describe('globs', () => {
  it('* is any run, ? one character, anchored, case-insensitive', () => {
    const g = globToRegExp('sales_*_?');
    expect(g.test('sales__x')).toBe(true);
    expect(g.test('sales_eu_1')).toBe(true);
    expect(g.test('SALES_EU_1')).toBe(true);
    expect(g.test('sales_eu_12')).toBe(false);
    expect(g.test('xsales_eu_1')).toBe(false);
    expect(g.test('sales_eu')).toBe(false);
  });

  it('treats regex characters literally', () => {
    const g = globToRegExp('a.b+(c)[d]$');
    expect(g.test('a.b+(c)[d]$')).toBe(true);
    expect(g.test('axb+(c)[d]$')).toBe(false);
  });

  it('* alone matches everything, including the empty name', () => {
    expect(globToRegExp('*').test('')).toBe(true);
    expect(globToRegExp('*').test('anything')).toBe(true);
  });
});

describe('resolveMetastore', () => {
  const map = mapOf({
    defaultMetastore: 'rw',
    routes: [
      { glob: 'sales*', metastore: 'archive' },
      { regex: 'sales_(eu|us)', metastore: 'spark' },
      { database: 'sales_eu', metastore: 'fed' },
      { glob: 'tmp_?', metastore: 'archive' },
      { regex: 'tmp_.*', metastore: 'fed' },
    ],
  });

  it('prefers an exact name over an earlier glob or regex', () => {
    expect(resolveMetastore(map, 'sales_eu', null)).toBe('fed');
  });

  it('takes the first matching glob or regex in map order', () => {
    expect(resolveMetastore(map, 'sales_us', null)).toBe('archive'); // the glob comes before the regex
    expect(resolveMetastore(map, 'tmp_1', null)).toBe('archive');
    expect(resolveMetastore(map, 'tmp_12', null)).toBe('fed');
  });

  it('falls back to the default metastore, also for calls naming no database', () => {
    expect(resolveMetastore(map, 'orders', null)).toBe('rw');
    expect(resolveMetastore(map, null, null)).toBe('rw');
    expect(resolveMetastore(map, null, 'spark')).toBe('rw');
  });

  it('is case-insensitive for exact names, globs and regexes', () => {
    expect(resolveMetastore(map, 'SALES_EU', null)).toBe('fed');
    expect(resolveMetastore(map, 'Sales_Other', null)).toBe('archive');
    expect(resolveMetastore(map, 'TMP_12', null)).toBe('fed');
    const m = mapOf({ defaultMetastore: 'rw', routes: [{ database: 'MixedCase', metastore: 'fed' }, { regex: 'LOG_\\d+', metastore: 'archive' }] });
    expect(resolveMetastore(m, 'mixedcase', null)).toBe('fed');
    expect(resolveMetastore(m, 'log_42', null)).toBe('archive');
  });

  it('anchors regexes to the whole name', () => {
    const m = mapOf({ defaultMetastore: 'rw', routes: [{ regex: 'sales', metastore: 'fed' }] });
    expect(resolveMetastore(m, 'sales', null)).toBe('fed');
    expect(resolveMetastore(m, 'presales', null)).toBe('rw');
    expect(resolveMetastore(m, 'sales_eu', null)).toBe('rw');
  });

  describe('catalog-qualified routes', () => {
    const cm = mapOf({
      defaultMetastore: 'rw',
      routes: [
        { database: 'events', catalog: 'spark', metastore: 'spark' },
        { database: 'events', metastore: 'fed' },
        { database: 'only_hive', catalog: 'hive', metastore: 'archive' },
        { glob: 'raw_*', catalog: 'Spark', metastore: 'spark' },
        { glob: 'raw_*', metastore: 'archive' },
        { regex: 'x_.*', catalog: 'hive', metastore: 'fed' },
      ],
    });

    it('uses a route for the call\'s catalog before one for every catalog', () => {
      expect(resolveMetastore(cm, 'events', 'spark')).toBe('spark');
      expect(resolveMetastore(cm, 'events', 'SPARK')).toBe('spark');
      expect(resolveMetastore(cm, 'events', null)).toBe('fed');
      expect(resolveMetastore(cm, 'events', 'other')).toBe('fed');
    });

    it('treats a null catalog as the default catalog hive', () => {
      expect(resolveMetastore(cm, 'only_hive', null)).toBe('archive');
      expect(resolveMetastore(cm, 'only_hive', 'hive')).toBe('archive');
      expect(resolveMetastore(cm, 'only_hive', 'spark')).toBe('rw');
      expect(resolveMetastore(cm, 'x_1', null)).toBe('fed');
      expect(resolveMetastore(cm, 'x_1', 'spark')).toBe('rw');
    });

    it('skips pattern routes of another catalog', () => {
      expect(resolveMetastore(cm, 'raw_a', 'spark')).toBe('spark');
      expect(resolveMetastore(cm, 'raw_a', null)).toBe('archive');
    });
  });
});

describe('blockedReason', () => {
  const map = mapOf({
    defaultMetastore: 'rw',
    blocked: [
      { database: 'moving', reason: 'moving to fed until 14:00' },
      { database: 'old_*', reason: 'archived' },
      { database: 'old_keep', reason: 'kept for now' },
    ],
  });

  it('finds names and globs, case-insensitively', () => {
    expect(blockedReason(map, 'moving')).toBe('moving to fed until 14:00');
    expect(blockedReason(map, 'MOVING')).toBe('moving to fed until 14:00');
    expect(blockedReason(map, 'old_2019')).toBe('archived');
    expect(blockedReason(map, 'Old_X')).toBe('archived');
  });

  it('prefers an exact name over a glob', () => {
    expect(blockedReason(map, 'old_keep')).toBe('kept for now');
  });

  it('returns null for other names and for no database', () => {
    expect(blockedReason(map, 'movingx')).toBeNull();
    expect(blockedReason(map, 'gold_1')).toBeNull();
    expect(blockedReason(map, null)).toBeNull();
  });

  it('formats the client message', () => {
    expect(blockedMessage('moving', 'moving to fed')).toBe('database moving is blocked for maintenance: moving to fed');
  });
});

describe('writeAllowed', () => {
  const map = mapOf({
    defaultMetastore: 'rw',
    access: {
      rw: { mode: 'read-write' },
      archive: { mode: 'read-only' },
      fed: { mode: 'write-listed', writableDatabases: ['sales', 'new_*'] },
    },
  });

  it('allows everything on read-write and on metastores without an access entry', () => {
    expect(writeAllowed(map, 'rw', 'x')).toEqual({ allowed: true });
    expect(writeAllowed(map, 'rw', null)).toEqual({ allowed: true });
    expect(writeAllowed(map, 'spark', 'x')).toEqual({ allowed: true });
  });

  it('refuses every write on read-only', () => {
    expect(writeAllowed(map, 'archive', 'x')).toEqual({ allowed: false, reason: 'metastore archive is read-only' });
    expect(writeAllowed(map, 'archive', null)).toEqual({ allowed: false, reason: 'metastore archive is read-only' });
  });

  it('allows write-listed only for listed names and globs', () => {
    expect(writeAllowed(map, 'fed', 'sales')).toEqual({ allowed: true });
    expect(writeAllowed(map, 'fed', 'SALES')).toEqual({ allowed: true });
    expect(writeAllowed(map, 'fed', 'new_thing')).toEqual({ allowed: true });
    expect(writeAllowed(map, 'fed', 'orders')).toEqual({
      allowed: false,
      reason: 'metastore fed accepts writes only to listed databases, and orders is not one of them',
    });
    expect(writeAllowed(map, 'fed', null)).toEqual({
      allowed: false,
      reason: 'metastore fed accepts writes only to listed databases, and this call names none',
    });
  });
});
