/**
 * The routing map: which metastore serves which database, which databases are blocked, and which
 * metastores accept writes. It arrives as an object parsed from YAML, is validated completely (zod schema
 * plus cross-checks against the metastores that exist) and compiled into an immutable `RoutingMap`.
 * A new map replaces an old one whole; nothing here is ever mutated after compilation.
 *
 * Errors are values: `compileRoutingMap` returns every problem it finds, each as "path: reason".
 */
import { createHash } from 'node:crypto';
import { compileFlow, CompiledFlow, flowSchema } from '../flow/flow-policy';
import { z } from 'zod';
import { globToRegExp, isGlob } from './glob';

/** The catalog a call means when it names none (Hive 3+ `@cat#db` names carry one). */
export const DEFAULT_CATALOG = 'hive';

const nonEmpty = z.string().min(1, 'must not be empty');

const routeSchema = z.strictObject({
  /** One exact database name. */
  database: nonEmpty.optional(),
  /** A glob over database names: `*` any run, `?` one character. */
  glob: nonEmpty.optional(),
  /** A JavaScript regular expression over database names, matched against the whole name. */
  regex: nonEmpty.optional(),
  /** The route applies only to calls in this catalog; without it, to every catalog. */
  catalog: nonEmpty.optional(),
  metastore: nonEmpty,
}).superRefine((route, ctx) => {
  const given = (['database', 'glob', 'regex'] as const).filter((k) => route[k] !== undefined);
  if (given.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      path: [],
      message: given.length === 0
        ? 'a route needs exactly one of database, glob, regex (found none)'
        : `a route needs exactly one of database, glob, regex (found ${given.join(', ')})`,
    });
  }
});

const blockedSchema = z.strictObject({
  /** A database name or a glob. */
  database: nonEmpty,
  /** Shown to clients: "database X is blocked for maintenance: <reason>". */
  reason: nonEmpty,
});

const accessSchema = z.strictObject({
  /** read-write (the default), read-only, or writable only for `writableDatabases`. */
  mode: z.enum(['read-write', 'read-only', 'write-listed']),
  /** Names or globs; only with mode write-listed. */
  writableDatabases: z.array(nonEmpty).optional(),
}).superRefine((access, ctx) => {
  if (access.mode === 'write-listed' && (access.writableDatabases === undefined || access.writableDatabases.length === 0)) {
    ctx.addIssue({
      code: 'custom',
      path: ['writableDatabases'],
      message: 'mode write-listed needs writableDatabases (a non-empty list of database names or globs)',
    });
  }
  if (access.mode !== 'write-listed' && access.writableDatabases !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['writableDatabases'],
      message: `writableDatabases applies only to mode write-listed, not ${access.mode}`,
    });
  }
});

export const routingMapSchema = z.strictObject({
  /** Optional: the metastores this map expects; each must be one the router knows. */
  metastores: z.array(nonEmpty).optional(),
  /** In order: exact names always win; among globs and regexes the first match wins. */
  routes: z.array(routeSchema).default([]),
  /** Serves every database no route claims, and calls that name no database. */
  defaultMetastore: nonEmpty,
  blocked: z.array(blockedSchema).default([]),
  /** Per metastore; a metastore not listed is read-write. */
  access: z.record(z.string(), accessSchema).default({}),
  /**
   * Listings that fan out to every metastore: 'complete' fails the call when one metastore fails
   * (a database must not silently vanish); 'partial' answers with the rest and counts it.
   */
  fanOut: z.enum(['complete', 'partial']).default('complete'),
  /** Flow control by priority (src/flow/); absent: every call is admitted at once. */
  flow: flowSchema.optional(),
});

export type RoutingMapInput = z.infer<typeof routingMapSchema>;
export type RouteInput = z.infer<typeof routeSchema>;
export type AccessInput = z.infer<typeof accessSchema>;
export type AccessMode = AccessInput['mode'];

/** A glob or regex route, compiled; `index` is its position in the input's `routes`. */
export interface PatternRoute {
  readonly index: number;
  readonly kind: 'glob' | 'regex';
  readonly pattern: string;
  /** Lower-cased; null means every catalog. */
  readonly catalog: string | null;
  readonly metastore: string;
  readonly matcher: RegExp;
}

/** A set of names and globs, as blocked lists and write lists use. */
export interface NameSet<V> {
  /** Lower-cased exact names. */
  readonly exact: ReadonlyMap<string, V>;
  /** In input order. */
  readonly globs: ReadonlyArray<{ readonly glob: string; readonly matcher: RegExp; readonly value: V }>;
}

export interface CompiledAccess {
  readonly mode: AccessMode;
  /** Only for write-listed. */
  readonly writable: NameSet<true> | null;
}

export interface RoutingMap {
  /** First 12 hex characters of the sha256 of the canonical JSON of the validated input. */
  readonly version: string;
  /** ISO-8601 time of compilation. */
  readonly loadedAt: string;
  /** The validated input (defaults filled in), for the admin API. */
  readonly source: RoutingMapInput;
  /** The metastore names the map was validated against. */
  readonly metastores: readonly string[];
  readonly defaultMetastore: string;
  /** Exact routes for every catalog: lower-cased name -> metastore. */
  readonly exactAnyCatalog: ReadonlyMap<string, string>;
  /** Exact routes for one catalog: lower-cased catalog -> lower-cased name -> metastore. */
  readonly exactByCatalog: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Glob and regex routes in input order. */
  readonly patterns: readonly PatternRoute[];
  /** Blocked names and globs -> reason. */
  readonly blocked: NameSet<string>;
  /** Metastores with an access entry; every other one is read-write. */
  readonly access: ReadonlyMap<string, CompiledAccess>;
  /** Flow control classes and pressure settings, or null when the map has no `flow`. */
  readonly flow: CompiledFlow | null;
}

export type CompileResult = { ok: true; map: RoutingMap } | { ok: false; problems: string[] };

export interface CompileOptions {
  /** Clock for `loadedAt` (tests). */
  readonly now?: () => Date;
}

/**
 * Validates `input` (already parsed from YAML) against the schema and against `metastoreNames`, the
 * metastores the router has, and compiles it. Every problem found is reported, not just the first.
 */
export function compileRoutingMap(input: unknown, metastoreNames: readonly string[], options: CompileOptions = {}): CompileResult {
  const parsed = routingMapSchema.safeParse(input);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${formatPath(issue.path)}: ${issue.message}`);
  }
  // Cross-check whatever parts parse, even when others do not, so one pass reports everything.
  const pieces = parsed.success ? piecesOf(parsed.data) : salvagePieces(input);
  const compiled = crossCheckAndCompile(pieces, metastoreNames, problems);
  const flow = parsed.success && parsed.data.flow !== undefined ? compileFlow(parsed.data.flow, metastoreNames, problems) : null;
  if (!parsed.success || problems.length > 0 || compiled === null) return { ok: false, problems };

  const source = parsed.data;
  const now = options.now ?? (() => new Date());
  const map: RoutingMap = Object.freeze({
    version: createHash('sha256').update(canonicalJson(source)).digest('hex').slice(0, 12),
    loadedAt: now().toISOString(),
    source: deepFreeze(source),
    metastores: Object.freeze([...metastoreNames]),
    defaultMetastore: source.defaultMetastore,
    ...compiled,
    flow,
  });
  return { ok: true, map };
}

/** "routes.2.regex"; the root is "(root)". */
function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.length === 0 ? '(root)' : path.map((p) => String(p)).join('.');
}

/** The parts of a map the cross-checks look at; `undefined` where that part did not parse. */
interface Pieces {
  readonly metastores: readonly string[] | undefined;
  readonly routes: ReadonlyArray<RouteInput | undefined>;
  readonly defaultMetastore: string | undefined;
  readonly blocked: ReadonlyArray<z.infer<typeof blockedSchema> | undefined>;
  readonly access: ReadonlyArray<readonly [string, AccessInput | undefined]>;
}

function piecesOf(data: RoutingMapInput): Pieces {
  return {
    metastores: data.metastores,
    routes: data.routes,
    defaultMetastore: data.defaultMetastore,
    blocked: data.blocked,
    access: Object.entries(data.access),
  };
}

function salvagePieces(input: unknown): Pieces {
  const obj = isRecord(input) ? input : {};
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const ok = <T>(schema: z.ZodType<T>, v: unknown): T | undefined => {
    const r = schema.safeParse(v);
    return r.success ? r.data : undefined;
  };
  return {
    metastores: ok(z.array(nonEmpty), obj['metastores']),
    routes: list(obj['routes']).map((r) => ok(routeSchema, r)),
    defaultMetastore: ok(nonEmpty, obj['defaultMetastore']),
    blocked: list(obj['blocked']).map((b) => ok(blockedSchema, b)),
    access: isRecord(obj['access']) ? Object.entries(obj['access']).map(([k, v]) => [k, ok(accessSchema, v)] as const) : [],
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

type Compiled = Pick<RoutingMap, 'exactAnyCatalog' | 'exactByCatalog' | 'patterns' | 'blocked' | 'access'>;

function crossCheckAndCompile(pieces: Pieces, metastoreNames: readonly string[], problems: string[]): Compiled | null {
  const known = new Set(metastoreNames);
  const knownList = metastoreNames.length === 0 ? 'none' : metastoreNames.join(', ');
  const unknown = (name: string): string => `unknown metastore '${name}' (known: ${knownList})`;

  pieces.metastores?.forEach((name, i) => {
    if (!known.has(name)) problems.push(`metastores.${i}: ${unknown(name)}`);
  });
  if (pieces.defaultMetastore !== undefined && !known.has(pieces.defaultMetastore)) {
    problems.push(`defaultMetastore: ${unknown(pieces.defaultMetastore)}`);
  }

  const exactAnyCatalog = new Map<string, string>();
  const exactByCatalog = new Map<string, Map<string, string>>();
  /** Who claimed an exact name first: "catalog\0name" -> route index. */
  const claimedBy = new Map<string, number>();
  const patterns: PatternRoute[] = [];

  pieces.routes.forEach((route, index) => {
    if (route === undefined) return;
    if (!known.has(route.metastore)) problems.push(`routes.${index}.metastore: ${unknown(route.metastore)}`);
    const catalog = route.catalog === undefined ? null : route.catalog.toLowerCase();
    if (route.database !== undefined) {
      const name = route.database.toLowerCase();
      const key = `${catalog ?? ''}\u0000${name}`;
      const first = claimedBy.get(key);
      if (first !== undefined) {
        const where = catalog === null ? '' : ` in catalog '${catalog}'`;
        problems.push(`routes.${index}.database: database '${name}'${where} is already claimed by routes.${first}`);
        return;
      }
      claimedBy.set(key, index);
      if (catalog === null) {
        exactAnyCatalog.set(name, route.metastore);
      } else {
        let names = exactByCatalog.get(catalog);
        if (names === undefined) exactByCatalog.set(catalog, (names = new Map()));
        names.set(name, route.metastore);
      }
    } else if (route.glob !== undefined) {
      patterns.push(Object.freeze({ index, kind: 'glob', pattern: route.glob, catalog, metastore: route.metastore, matcher: globToRegExp(route.glob) }));
    } else if (route.regex !== undefined) {
      const compiled = compileRegex(route.regex);
      if (typeof compiled === 'string') problems.push(`routes.${index}.regex: ${compiled}`);
      else patterns.push(Object.freeze({ index, kind: 'regex', pattern: route.regex, catalog, metastore: route.metastore, matcher: compiled }));
    }
  });

  const blockedEntries: Array<[string, string]> = [];
  for (const b of pieces.blocked) if (b !== undefined) blockedEntries.push([b.database, b.reason]);
  const blocked = compileNameSet(blockedEntries);

  const access = new Map<string, CompiledAccess>();
  for (const [name, a] of pieces.access) {
    if (!known.has(name)) problems.push(`access.${name}: ${unknown(name)}`);
    if (a === undefined) continue;
    const writable = a.mode === 'write-listed' && a.writableDatabases !== undefined
      ? compileNameSet(a.writableDatabases.map((d) => [d, true] as [string, true]))
      : null;
    access.set(name, Object.freeze({ mode: a.mode, writable }));
  }

  if (problems.length > 0) return null;
  return { exactAnyCatalog, exactByCatalog, patterns: Object.freeze(patterns), blocked, access };
}

/** The anchored, case-insensitive RegExp of a route's regex, or why it does not compile. */
function compileRegex(source: string): RegExp | string {
  try {
    new RegExp(source, 'i');
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    // V8: "Invalid regular expression: /(/i: Unterminated group"; keep only the reason.
    const reason = message.replace(/^Invalid regular expression: \/[\s\S]*\/[a-z]*: /, '');
    return `invalid regular expression /${source}/: ${reason}`;
  }
  // Whole-name match, as with globs: "sales" must not claim "presales_eu".
  try {
    return new RegExp(`^(?:${source})$`, 'i');
  } catch (e) {
    return `invalid regular expression /${source}/: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function compileNameSet<V>(entries: ReadonlyArray<readonly [string, V]>): NameSet<V> {
  const exact = new Map<string, V>();
  const globs: Array<{ glob: string; matcher: RegExp; value: V }> = [];
  for (const [name, value] of entries) {
    if (isGlob(name)) globs.push(Object.freeze({ glob: name, matcher: globToRegExp(name), value }));
    else if (!exact.has(name.toLowerCase())) exact.set(name.toLowerCase(), value);
  }
  return Object.freeze({ exact, globs: Object.freeze(globs) });
}

/** JSON with object keys sorted at every level, so equal maps hash equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = value[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
