/**
 * Reloads the routing map without a restart: from the config file on SIGHUP, on a change of the
 * file (debounced), or on an admin call. The new map is validated whole before use; a bad one is
 * refused with every problem named (log line, metric, the admin call's 400 body) and the old map
 * keeps serving. A good one is swapped in whole: calls in flight keep the map they started with.
 * The `routing` section, defaultMetastore, each metastore's `batching` settings and its `cache`
 * settings (enabled, maxBytes, maxLagMs, callerIndependent; not the feed) change this way (swapped
 * together); the rest of a metastore's settings need a restart.
 */
import { readFileSync, watch, FSWatcher } from 'node:fs';
import type { Logger } from 'pino';
import { parse } from 'yaml';
import { compileRoutingMap, RoutingMap } from './routing-map';
import { cacheSchema, type CacheConfig, type RouterConfig } from '../config/schema';
import type { RouterMetrics } from '../admin/metrics';
import { batchingSchema, BatchingPolicy } from '../batching/batching-policy';
import { canonicalJson } from './routing-map';

/** What a reload swaps in, whole. */
export interface ReloadablePolicies {
  readonly map: RoutingMap;
  readonly batching: ReadonlyMap<string, BatchingPolicy>;
  readonly cache: ReadonlyMap<string, CacheConfig>;
}

export type ReloadSource = 'sighup' | 'file' | 'admin';
export type ReloadResult = { ok: true; version: string; changed: boolean } | { ok: false; problems: string[] };

export class RoutingMapReloader {
  private watch: { close(): void } | null = null;

  constructor(
    private readonly configPath: string | null,
    private readonly config: RouterConfig,
    private readonly current: () => ReloadablePolicies,
    private readonly swap: (policies: ReloadablePolicies) => void,
    private readonly metrics: RouterMetrics,
    private readonly log: Logger,
  ) {}

  /**
   * Re-reads the config file and swaps in its routing map if it is valid. `text` is the file's
   * content already read (the cluster primary reads the file once and hands the same text to every
   * worker, so all of them judge the same document).
   */
  reload(source: ReloadSource, text?: string): ReloadResult {
    const result = this.compileFromFile(text);
    if (!result.ok) {
      this.metrics.routingReloads.inc({ source, outcome: 'refused' });
      this.log.error({ source, problems: result.problems, config: this.configPath }, 'routing map refused; the previous map keeps serving');
      return result;
    }
    const previous = this.current();
    const changed = previous.map.version !== result.map.version
      || canonicalJson(Object.fromEntries(previous.batching)) !== canonicalJson(Object.fromEntries(result.batching))
      || canonicalJson(Object.fromEntries(previous.cache)) !== canonicalJson(Object.fromEntries(result.cache));
    if (changed) this.swap(result);
    this.metrics.routingReloads.inc({ source, outcome: changed ? 'ok' : 'unchanged' });
    this.log.info({ source, version: result.map.version, previous: previous.map.version }, changed ? 'routing map reloaded' : 'routing map unchanged');
    return { ok: true, version: result.map.version, changed };
  }

  private compileFromFile(text?: string): ({ ok: true } & ReloadablePolicies) | { ok: false; problems: string[] } {
    const path = this.configPath;
    if (path === null && text === undefined) return { ok: false, problems: ['the router was started without a config file; nothing to reload'] };
    let raw: unknown;
    try {
      raw = parse(text ?? readFileSync(path as string, 'utf8'));
    } catch (err) {
      return { ok: false, problems: [`${this.configPath}: ${(err as Error).message}`] };
    }
    const doc = (raw ?? {}) as { routing?: unknown; defaultMetastore?: unknown; metastores?: Record<string, { batching?: unknown; cache?: unknown } | undefined> };
    const input = { ...(doc.routing as object | undefined ?? {}), defaultMetastore: doc.defaultMetastore ?? this.config.defaultMetastore };
    const compiled = compileRoutingMap(input, Object.keys(this.config.metastores));
    const problems = compiled.ok ? [] : compiled.problems.map((p) => `routing.${p}`);
    const batching = new Map<string, BatchingPolicy>();
    for (const name of Object.keys(this.config.metastores)) {
      const parsed = batchingSchema.safeParse(doc.metastores?.[name]?.batching);
      if (parsed.success) batching.set(name, parsed.data);
      else problems.push(...parsed.error.issues.map((i) => `metastores.${[name, 'batching', ...i.path].join('.')}: ${i.message}`));
    }
    const cache = new Map<string, CacheConfig>();
    for (const [name, m] of Object.entries(this.config.metastores)) {
      const parsed = cacheSchema.safeParse(doc.metastores?.[name]?.cache);
      if (!parsed.success) {
        problems.push(...parsed.error.issues.map((i) => `metastores.${[name, 'cache', ...i.path].join('.')}: ${i.message}`));
        continue;
      }
      // The feed is opened at start: a reload keeps the running one (and says so when asked to change it).
      if (canonicalJson(parsed.data.feed ?? null) !== canonicalJson(m.cache.feed ?? null)) {
        problems.push(`metastores.${name}.cache.feed: the change feed's settings take effect at restart only; restore them to reload the rest`);
        continue;
      }
      if (parsed.data.enabled && m.cache.feed === undefined) {
        problems.push(`metastores.${name}.cache.enabled: this metastore was started without a change feed (cache.feed); add it and restart`);
        continue;
      }
      cache.set(name, parsed.data);
    }
    if (!compiled.ok || problems.length > 0) return { ok: false, problems };
    return { ok: true, map: compiled.map, batching, cache };
  }

  /** Reloads on every change of the config file, debounced (editors write in several steps). */
  watchFile(debounceMs = 300): void {
    if (this.configPath === null) return;
    this.watch = watchConfigFile(this.configPath, () => { this.reload('file'); }, this.log, debounceMs);
  }

  close(): void {
    this.watch?.close();
  }
}

/**
 * Calls `changed` after each change of the file, debounced (editors write in several steps). A
 * file that cannot be watched is logged; SIGHUP and the admin API still reload.
 */
export function watchConfigFile(path: string, changed: () => void, log: Logger, debounceMs = 300): { close(): void } {
  let watcher: FSWatcher | null = null;
  let debounce: NodeJS.Timeout | null = null;
  try {
    watcher = watch(path, () => {
      if (debounce !== null) clearTimeout(debounce);
      debounce = setTimeout(() => { debounce = null; changed(); }, debounceMs);
    });
    watcher.on('error', (err) => log.warn({ err: err.message, config: path }, 'config file watch failed; SIGHUP and the admin API still reload'));
  } catch (err) {
    log.warn({ err: (err as Error).message, config: path }, 'cannot watch the config file; SIGHUP and the admin API still reload');
  }
  return {
    close: () => {
      if (debounce !== null) clearTimeout(debounce);
      watcher?.close();
    },
  };
}
