/**
 * What the router learns about one call from its raw bytes: the catalog entry, and the database,
 * catalog and table it names. Only the message header and the fields on the entry's paths are read.
 */
import { findMethod } from './catalog';
import { parseDbName } from './db-name';
import type { MethodEntry } from './method-entry';
import { firstStringAtPath } from '../thrift/value-reader';
import type { RawMessage } from '../thrift/message-reader';

export interface CallInfo {
  readonly method: string;
  /** The catalog entry, or null for a method the catalog does not know (passed to the default primary). */
  readonly entry: MethodEntry | null;
  /** Database name (lower-cased, as the metastore stores it), or null when the call names none. */
  readonly db: string | null;
  readonly catalog: string | null;
  readonly table: string | null;
}

export function describeCall(message: RawMessage): CallInfo {
  const method = message.header.name;
  const entry = findMethod(method) ?? null;
  if (entry === null) return { method, entry, db: null, catalog: null, table: null };
  const body = message.bytes;
  const offset = message.header.bodyOffset;
  let db: string | null = null;
  let catalog: string | null = null;
  if (entry.db !== undefined) {
    const raw = firstStringAtPath(body, offset, entry.db);
    if (raw !== undefined) {
      const parsed = parseDbName(raw);
      db = parsed.db === null ? null : parsed.db.toLowerCase();
      catalog = parsed.catalog;
    }
  }
  if (entry.catalog !== undefined) {
    catalog = firstStringAtPath(body, offset, entry.catalog) ?? catalog;
  }
  const table = entry.table === undefined ? null : (firstStringAtPath(body, offset, entry.table) ?? null);
  return { method, entry, db, catalog, table };
}
