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
  for (const i of candidatePatterns(map, name)) {
    const route = map.patterns[i]!;
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

/**
 * Patterns indexed by the literal text every name they match must start with, so a first lookup
 * tests only the patterns that can match (a long list of `team_0042_*` globs costs one hash lookup
 * for a name that starts otherwise). Patterns without such a prefix are always tested.
 */
interface PrefixIndex {
  readonly lengths: readonly number[];
  readonly byPrefix: ReadonlyMap<string, readonly number[]>;
  readonly unprefixed: readonly number[];
}

const prefixIndexes = new WeakMap<RoutingMap, PrefixIndex>();

/** Indices of the patterns that may match `name`, in map order. */
function candidatePatterns(map: RoutingMap, name: string): readonly number[] {
  let index = prefixIndexes.get(map);
  if (index === undefined) {
    index = buildPrefixIndex(map);
    prefixIndexes.set(map, index);
  }
  if (index.byPrefix.size === 0) return index.unprefixed;
  const found: number[] = [...index.unprefixed];
  for (const length of index.lengths) {
    if (name.length < length) continue;
    const bucket = index.byPrefix.get(name.slice(0, length));
    if (bucket !== undefined) found.push(...bucket);
  }
  return found.sort((a, b) => a - b);
}

function buildPrefixIndex(map: RoutingMap): PrefixIndex {
  const byPrefix = new Map<string, number[]>();
  const unprefixed: number[] = [];
  map.patterns.forEach((route, i) => {
    const prefix = route.kind === 'glob' ? globPrefix(route.pattern) : regexPrefix(route.pattern);
    if (prefix === '') unprefixed.push(i);
    else {
      const bucket = byPrefix.get(prefix);
      if (bucket === undefined) byPrefix.set(prefix, [i]);
      else bucket.push(i);
    }
  });
  const lengths = [...new Set([...byPrefix.keys()].map((k) => k.length))];
  return { lengths, byPrefix, unprefixed };
}

/** The text before a glob's first wildcard, lower-cased. */
function globPrefix(glob: string): string {
  const wildcard = glob.search(/[*?]/);
  return (wildcard < 0 ? glob : glob.slice(0, wildcard)).toLowerCase();
}

/**
 * The plain letters, digits, '_' and '-' a regex starts with, lower-cased; '' when the regex has an
 * alternation anywhere (any branch could match) or starts with something else. A character followed
 * by a quantifier that allows zero of it is not part of the prefix.
 */
function regexPrefix(source: string): string {
  if (source.includes('|')) return '';
  const literal = /^[A-Za-z0-9_-]*/.exec(source)![0];
  const next = source[literal.length];
  const optional = next === '*' || next === '?' || next === '{';
  return (optional ? literal.slice(0, -1) : literal).toLowerCase();
}
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
