/** What cached answers depend on and what the feed's events touch: a change must reach every answer it can alter. */
import { describe, expect, it } from 'vitest';
import { callDependencies, eventObjects } from '../../src/cache/dependencies';
import { findMethod } from '../../src/hms/catalog';
import type { FeedEvent } from '../../src/cache/feed-types';
import { configErrorOf } from '../support/config-errors';
import { parseConfig } from '../../src/config/load';

const event = (type: string, db: string | null, table: string | null, extra: Partial<FeedEvent> = {}): FeedEvent =>
  ({ eventId: 1, type, catalog: 'hive', db, table, ...extra });

function reaches(ev: FeedEvent, method: string, call: { db: string | null; table: string | null; catalog?: string | null }): boolean {
  const deps = callDependencies(findMethod(method)!.cache!, { catalog: call.catalog ?? null, db: call.db, table: call.table })!;
  const touched = new Set(eventObjects(ev));
  return deps.some((d) => touched.has(d));
}

describe('cache dependencies', () => {
  it('a table change reaches that table\'s answers only', () => {
    const ev = event('ADD_PARTITION', 'db', 't');
    for (const m of ['get_table', 'get_table_req', 'get_partition_names', 'get_partitions_by_names', 'get_partition', 'get_primary_keys']) {
      expect(reaches(ev, m, { db: 'db', table: 't' }), m).toBe(true);
    }
    expect(reaches(ev, 'get_table', { db: 'db', table: 'other' })).toBe(false);
    expect(reaches(ev, 'get_tables', { db: 'db', table: null })).toBe(false);
    expect(reaches(ev, 'get_database', { db: 'db', table: null })).toBe(false);
  });

  it('names are matched as the metastore stores them (lower case)', () => {
    expect(reaches(event('ALTER_TABLE', 'DB', 'T', { formerName: { db: 'db', table: 't' } }), 'get_table', { db: 'db', table: 'T' })).toBe(true);
  });

  it('creating or dropping a table reaches the table lists; a database event reaches everything in it', () => {
    expect(reaches(event('CREATE_TABLE', 'db', 'n'), 'get_tables', { db: 'db', table: null })).toBe(true);
    expect(reaches(event('DROP_TABLE', 'db', 'n'), 'get_all_tables', { db: 'other', table: null })).toBe(true);
    const drop = event('DROP_DATABASE', 'db', null);
    for (const m of ['get_table', 'get_database', 'get_all_databases', 'get_tables']) expect(reaches(drop, m, { db: 'db', table: 't' }), m).toBe(true);
    expect(reaches(drop, 'get_table', { db: 'other', table: 't' })).toBe(false);
  });

  it('an ALTER_TABLE reaches the former name (a rename), or every table when the former name is unknown', () => {
    const rename = event('ALTER_TABLE', 'db2', 'new', { formerName: { db: 'db1', table: 'old' } });
    expect(reaches(rename, 'get_table', { db: 'db1', table: 'old' })).toBe(true);
    expect(reaches(rename, 'get_table', { db: 'db1', table: 'kept' })).toBe(false);
    expect(reaches(event('ALTER_TABLE', 'db2', 'new'), 'get_table', { db: 'db1', table: 'old' })).toBe(true);
  });

  it('catalog events reach the database list; transaction events reach nothing cached', () => {
    expect(reaches(event('CREATE_CATALOG', null, null), 'get_all_databases', { db: null, table: null })).toBe(true);
    expect(eventObjects(event('OPEN_TXN', null, null, { catalog: null }))).toEqual([]);
  });

  it('a call naming no table (for a table-shaped method) is not cached', () => {
    expect(callDependencies(findMethod('get_table')!.cache!, { catalog: null, db: 'db', table: null })).toBeNull();
  });

  it('never marks privilege-dependent or transactional reads cacheable', () => {
    for (const m of ['get_partitions_with_auth', 'get_partitions_ps_with_auth', 'get_privilege_set', 'get_open_txns', 'get_valid_write_ids', 'show_locks']) {
      expect(findMethod(m)?.cache, m).toBeUndefined();
    }
  });
});

describe('cache config', () => {
  const base = (cache: string) => `metastores:\n  rw:\n    primary: { endpoints: ["h:1"]${cache.includes('MYSQL') ? ', mysql: { user: u }' : ''} }\n    cache: ${cache.replace('MYSQL', '')}\ndefaultMetastore: rw\n`;

  it('defaults: disabled, 256 MiB, 1 s behind the feed at most, keyed by caller', () => {
    const c = parseConfig(base('{}'), 't.yaml').metastores.rw!.cache;
    expect(c).toMatchObject({ enabled: false, maxBytes: 256 * 1024 * 1024, maxLagMs: 1000, callerIndependent: false });
  });

  it('an enabled cache needs its feed, and the feed a MySQL to read', () => {
    expect(configErrorOf(base('{ enabled: true }'))).toMatch(/cache\.feed.*a cache needs the change feed.*feed: \{ database/s);
    expect(configErrorOf(base('{ enabled: true, feed: { database: hms } }'))).toMatch(/cache\.feed\.mysql.*add cache\.feed\.mysql \(or primary\.mysql\)/s);
    expect(parseConfig(base('{ enabled: true, feed: { database: hms } } MYSQL'), 't.yaml').metastores.rw!.cache.feed).toMatchObject({ database: 'hms', pollIntervalMs: 100 });
  });
});
