/**
 * Merging the replies of calls that name no database and were sent to every metastore
 * (get_all_databases, get_databases). Pure: the fan-out itself lives elsewhere.
 */
import { resolveMetastore } from './matcher';
import type { RoutingMap } from './routing-map';

/**
 * One list of database names from each metastore's list: a database appears once, and only from the
 * metastore its route points to (a leftover copy on another metastore, e.g. after a move, is dropped).
 * Sorted ascending by UTF-16 code units, as HMS sorts get_all_databases (ObjectStore.getAllDatabases
 * ends with Collections.sort over Java strings); names keep the spelling the owning metastore gave.
 * A database whose owner is missing from `perMetastore` is absent: the caller decides whether a
 * missing metastore fails the call.
 */
export function mergeDatabaseLists(
  map: RoutingMap,
  perMetastore: ReadonlyMap<string, readonly string[]>,
  catalog: string | null = null,
): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const [metastore, names] of perMetastore) {
    for (const name of names) {
      const key = name.toLowerCase();
      if (seen.has(key)) continue;
      if (resolveMetastore(map, name, catalog) !== metastore) continue;
      seen.add(key);
      out.push(name);
    }
  }
  return out.sort(compareUtf16);
}

/** Java's String.compareTo order (JS string comparison is the same: UTF-16 code units). */
function compareUtf16(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
