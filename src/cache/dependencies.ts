/**
 * The metastore objects a cached answer depends on, and the objects a change-feed event touches,
 * as keys of one namespace: an event invalidates every entry that shares a key with it.
 *
 *   d|cat|db         a database; every table entry of that database depends on it too, so a
 *                    database-level event (alter, drop cascade, a function) drops them all
 *   t|cat|db|table   a table: its definition, partitions, constraints
 *   D|cat            the list of databases of a catalog
 *   C|cat            every table of a catalog (an ALTER_TABLE whose former name is unknown: a rename
 *                    may have moved any table of any database)
 *   T|cat            the table lists of a catalog's databases (get_tables and kin): any table created,
 *                    dropped or altered (an alter may rename, even into another database)
 *
 * Over-invalidating costs a miss; under-invalidating would be a stale answer, so where an event could
 * touch more than its names say, it touches more.
 */
import type { CacheShape } from '../hms/method-entry';
import type { FeedEvent } from './feed-types';

/** Hive's catalog for names without one (Hive 2 has no catalogs; 3+ calls it 'hive'). */
export const DEFAULT_CATALOG = 'hive';

const database = (cat: string, db: string): string => `d|${cat}|${db}`;
const table = (cat: string, db: string, tbl: string): string => `t|${cat}|${db}|${tbl}`;
const databaseList = (cat: string): string => `D|${cat}`;
const tableLists = (cat: string): string => `T|${cat}`;
const everyTable = (cat: string): string => `C|${cat}`;

/** Events that can change a database's table list (ALTER_TABLE: a rename). */
const TABLE_LIST_EVENTS = new Set(['CREATE_TABLE', 'DROP_TABLE', 'ALTER_TABLE']);

/**
 * The keys an answer of a call depends on, or null when the call does not name what its shape
 * needs (then it is not cached).
 */
export function callDependencies(shape: CacheShape, call: { readonly catalog: string | null; readonly db: string | null; readonly table: string | null }): string[] | null {
  const cat = (call.catalog ?? DEFAULT_CATALOG).toLowerCase();
  switch (shape.depends) {
    case 'databases':
      return [databaseList(cat)];
    case 'database':
      return call.db === null ? null : [database(cat, call.db)];
    case 'tables':
      return call.db === null ? null : [tableLists(cat), database(cat, call.db)];
    case 'table':
      return call.db === null || call.table === null ? null : [table(cat, call.db, call.table.toLowerCase()), database(cat, call.db), everyTable(cat)];
  }
}

/** The keys one change-feed event touches. */
export function eventObjects(event: FeedEvent): string[] {
  const cat = (event.catalog ?? DEFAULT_CATALOG).toLowerCase();
  if (event.db === null) {
    // Catalog events name only the catalog; transaction events name nothing a cached answer holds.
    return event.catalog === null ? [] : [databaseList(cat)];
  }
  const db = event.db.toLowerCase();
  if (event.table === null) return [database(cat, db), databaseList(cat), tableLists(cat)];
  const keys = [table(cat, db, event.table.toLowerCase())];
  if (TABLE_LIST_EVENTS.has(event.type)) keys.push(tableLists(cat));
  if (event.type === 'ALTER_TABLE') {
    // A rename's event names the table as it is after the change; the old name's entries must go
    // too. When the feed read the former name from the event's message it says so; otherwise every
    // table of the catalog goes (a rename may cross databases).
    if (event.formerName !== undefined) keys.push(table(cat, event.formerName.db.toLowerCase(), event.formerName.table.toLowerCase()));
    else keys.push(everyTable(cat));
  }
  return keys;
}
