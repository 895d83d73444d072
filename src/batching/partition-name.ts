/**
 * Partition names as the Hive metastore writes them: `k1=v1/k2=v2`, each key lower-cased and each
 * key and value escaped by FileUtils.escapePathName (Warehouse.makePartName -> FileUtils.makePartName).
 * The metastore always computes a partition's name from its values (ObjectStore.convertToMPart), so
 * a name from get_partition_names is canonical and the router can read the values back from it.
 *
 * One ambiguity is built into the encoding: an empty value is written as the name
 * `__HIVE_DEFAULT_PARTITION__`, the same text as the value `__HIVE_DEFAULT_PARTITION__` itself
 * (FileUtils.escapePathName, defaultPath null). partitionValuesFromName returns the name text; the
 * filter evaluator treats that value as "either of the two".
 */
import type { PartitionKey } from './partition-filter';

/** What FileUtils.escapePathName writes for an empty value (hard-coded there, not configurable). */
export const DEFAULT_PARTITION_NAME = '__HIVE_DEFAULT_PARTITION__';

/** FileUtils.charToEscape: ASCII control characters, DEL and these punctuation marks. */
const ESCAPED_PUNCTUATION = '"#%\'*/:=?\\{[]^';

function needsEscaping(code: number): boolean {
  return code < 0x20 || code === 0x7f || ESCAPED_PUNCTUATION.includes(String.fromCharCode(code));
}

/**
 * FileUtils.escapePathName(value): `%XX` (two upper-case hex digits) for each character in
 * charToEscape, every other UTF-16 unit unchanged; '' becomes `__HIVE_DEFAULT_PARTITION__`.
 */
export function escapePartitionValue(value: string): string {
  if (value.length === 0) return DEFAULT_PARTITION_NAME;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    out += needsEscaping(code) ? `%${code.toString(16).toUpperCase().padStart(2, '0')}` : value[i];
  }
  return out;
}

const HEX2 = /^[0-9A-Fa-f]{2}$/;

/**
 * Decodes `%XX` sequences (the inverse of escapePartitionValue on its output). A '%' not followed
 * by two hex digits stays as it is. Java's unescapePathName also accepts a sign in the two
 * characters (`%+A`); escapePathName never writes one, and partitionValuesFromName only accepts
 * names that re-escape to themselves, so that difference never reaches a value.
 */
export function unescapePartitionValue(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const pair = text.slice(i + 1, i + 3);
    if (text[i] === '%' && HEX2.test(pair)) {
      out += String.fromCharCode(parseInt(pair, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

function isAscii(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text);
}

/** The name component of a key: FileUtils.makePartName lower-cases it, then escapes it. */
function keyComponent(key: PartitionKey): string {
  return escapePartitionValue(key.name.toLowerCase());
}

/** Warehouse.makePartName(partitionKeys, values): `k1=v1/k2=v2` with keys lower-cased. */
export function makePartitionName(keys: readonly PartitionKey[], values: readonly string[]): string {
  if (keys.length === 0 || keys.length !== values.length) {
    throw new Error(`makePartitionName: ${keys.length} partition keys but ${values.length} values`);
  }
  return keys.map((key, i) => `${keyComponent(key)}=${escapePartitionValue(values[i]!)}`).join('/');
}

/**
 * The values of a partition name, unescaped, in key order (Warehouse.makeValsFromName), or null
 * when the name is not exactly what the metastore would write for these keys: wrong number of
 * components, another key or key order, or an escaping the metastore never produces. Null tells
 * the caller it cannot know the values from the name (pass the call through).
 *
 * Key names must be ASCII: the metastore lower-cases them with Java's locale-dependent
 * String.toLowerCase(), which this module does not reproduce for other characters.
 */
export function partitionValuesFromName(name: string, keys: readonly PartitionKey[]): string[] | null {
  if (keys.length === 0 || keys.some((k) => !isAscii(k.name))) return null;
  const components = name.split('/');
  if (components.length !== keys.length) return null;
  const values: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const prefix = `${keyComponent(keys[i]!)}=`;
    const component = components[i]!;
    if (!component.startsWith(prefix)) return null;
    const escaped = component.slice(prefix.length);
    const value = unescapePartitionValue(escaped);
    if (escapePartitionValue(value) !== escaped) return null;
    values.push(value);
  }
  return values;
}

/**
 * True when MySQL's PART_NAME column (latin1_bin, which pads with spaces when it compares) orders
 * and matches this name as its bytes: printable ASCII without a trailing space. The metastore lists
 * partitions in that order; names outside it are left to the metastore (batching and the cache).
 */
export function ordersAsBytes(name: string): boolean {
  return /^[\x20-\x7e]*$/.test(name) && !name.endsWith(' ');
}

/** Names in PART_NAME's order (byte order, for names that ordersAsBytes accepts). */
export function byNameOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
