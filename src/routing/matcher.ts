/**
 * Route matching over a compiled `RoutingMap`: pure functions, no state. Names are compared
 * case-insensitively because HMS lower-cases database (and catalog) names.
 */
import { DEFAULT_CATALOG, type NameSet, type RoutingMap } from './routing-map';

/**
 * The metastore that serves `db` in `catalog` (null: the default catalog, 'hive'). Exact names first
 * (a route for this catalog before one for every catalog), then globs and regexes in map order, first
 * match wins; otherwise, and when the call names no database, the default metastore.
 */
export function resolveMetastore(map: RoutingMap, db: string | null, catalog: string | null): string {
  if (db === null) return map.defaultMetastore;
  const name = db.toLowerCase();
  const cat = (catalog ?? DEFAULT_CATALOG).toLowerCase();
  const exact = map.exactByCatalog.get(cat)?.get(name) ?? map.exactAnyCatalog.get(name);
  if (exact !== undefined) return exact;
  if (map.patterns.length === 0) return map.defaultMetastore;
  // Pattern results are remembered per map (maps are immutable, a reload brings a new one): engines
  // ask about the same databases over and over, and a long pattern list is a linear scan.
  let memo = patternMemo.get(map);
  if (memo === undefined) {
    memo = new Map();
    patternMemo.set(map, memo);
  }
  const key = `${cat}\u0000${name}`;
  const known = memo.get(key);
  if (known !== undefined) return known;
  let found = map.defaultMetastore;
  for (const route of map.patterns) {
    if (route.catalog !== null && route.catalog !== cat) continue;
    if (route.matcher.test(name)) {
      found = route.metastore;
      break;
    }
  }
  if (memo.size >= PATTERN_MEMO_LIMIT) memo.clear();
  memo.set(key, found);
  return found;
}

const PATTERN_MEMO_LIMIT = 100_000;
const patternMemo = new WeakMap<RoutingMap, Map<string, string>>();

/** The configured reason when `db` is blocked (by name or glob), else null. */
export function blockedReason(map: RoutingMap, db: string | null): string | null {
  if (db === null) return null;
  return lookup(map.blocked, db);
}

/** The text a client sees for a blocked database. */
export function blockedMessage(db: string, reason: string): string {
  return `database ${db} is blocked for maintenance: ${reason}`;
}

export type WriteDecision = { allowed: true } | { allowed: false; reason: string };

/**
 * Whether `metastore` accepts a write to `db` (null: a write that names no database). A metastore
 * without an access entry is read-write.
 */
export function writeAllowed(map: RoutingMap, metastore: string, db: string | null): WriteDecision {
  const access = map.access.get(metastore);
  if (access === undefined || access.mode === 'read-write') return { allowed: true };
  if (access.mode === 'read-only') return { allowed: false, reason: `metastore ${metastore} is read-only` };
  if (db === null) {
    return { allowed: false, reason: `metastore ${metastore} accepts writes only to listed databases, and this call names none` };
  }
  if (access.writable !== null && lookup(access.writable, db) !== null) return { allowed: true };
  return { allowed: false, reason: `metastore ${metastore} accepts writes only to listed databases, and ${db.toLowerCase()} is not one of them` };
}

function lookup<V>(set: NameSet<V>, db: string): V | null {
  const name = db.toLowerCase();
  const exact = set.exact.get(name);
  if (exact !== undefined) return exact;
  for (const g of set.globs) if (g.matcher.test(name)) return g.value;
  return null;
}
