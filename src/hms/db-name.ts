/**
 * Catalog-qualified database names. Hive 3+ clients encode a catalog into the plain-string database
 * argument of the older methods as "@<catalog>#<database>"; "@<catalog>#" means no database (any)
 * and "@<catalog>#!" the empty name.
 */
export interface QualifiedDb {
  /** The catalog named in the string, or null when the string carries none. */
  readonly catalog: string | null;
  /** The database, or null when the string names only a catalog. */
  readonly db: string | null;
}

const CATALOG_MARKER = '@';
const SEPARATOR = '#';
const EMPTY_DB_MARKER = '!';

export function parseDbName(raw: string): QualifiedDb {
  if (!raw.startsWith(CATALOG_MARKER)) return { catalog: null, db: raw };
  const hash = raw.indexOf(SEPARATOR, 1);
  if (hash < 0) return { catalog: null, db: raw }; // a database whose name starts with '@'
  const catalog = raw.slice(1, hash);
  const rest = raw.slice(hash + 1);
  if (rest === '') return { catalog, db: null };
  if (rest === EMPTY_DB_MARKER) return { catalog, db: '' };
  return { catalog, db: rest };
}
