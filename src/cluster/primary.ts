/**
 * server.workers > 1: this process becomes a node:cluster primary. It forks the workers (each runs
 * today's router, src/cluster/worker.ts, on the shared Thrift port; the primary accepts and hands
 * connections round robin) and serves the admin port itself, answering from the workers over IPC:
 *
 * - /metrics and /stats: every live worker's registry, aggregated (src/cluster/cluster-metrics.ts);
 * - /readyz: ready only when every configured worker runs and says it is ready, and the primary
 *   is not draining; the reason names the worker;
 * - /routing and /backends: the first running worker's view (every worker runs the same map);
 * - a reload (SIGHUP, POST /routing/reload, a change of the config file, which only the primary
 *   watches): the file is read once and the same text goes to every worker; one outcome, ok with
 *   the version when every worker applied it, else every worker's problems;
 * - close (SIGTERM/SIGINT): every worker drains as a single router does; resolves when all exited.
 *
 * A worker that exits while the host serves is logged and replaced (after 250 ms, backing off up
 * to 10 s when replacements die young); a worker that fails during the start fails the start with
 * its own error, and no replacement is tried.
 */
import cluster, { Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { RouterConfig } from '../config/schema';
import { AdminMetrics, AdminState, ReloadOutcome, startAdminServer } from '../admin/http';
import type { BackendsView } from '../admin/backends-view';
import { ReloadResult, ReloadSource, watchConfigFile } from '../routing/map-reloader';
import { ClusterMetrics, WorkerMetrics } from './cluster-metrics';
import { isToPrimary, Question, RoutingText, ToPrimary, ToWorker } from './messages';

/** server.workers as a number of processes. */
export function workerCount(setting: RouterConfig['server']['workers']): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

export interface ClusterOptions {
  /** The config file: re-read on reloads, watched. */
  readonly configPath: string;
  readonly workers: number;
  /** Watch the config file (default true). */
  readonly watchConfig?: boolean;
}

export interface RunningCluster {
  readonly port: number;
  readonly adminPort: number;
  /** One reload applied to every worker, one outcome. */
  reloadRouting(source?: ReloadSource): Promise<ReloadOutcome>;
  /** Every worker drains; resolves when all have exited (rejects naming a worker that did not exit cleanly). */
  close(): Promise<void>;
}

/** How long a worker may take to answer a question over IPC. */
const ANSWER_TIMEOUT_MS = 10_000;
const RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 10_000;
/** A replacement that dies younger than this doubles the next delay. */
const YOUNG_EXIT_MS = 10_000;

interface Exit { readonly code: number | null; readonly signal: string | null }

interface Slot {
  readonly worker: Worker;
  readonly pid: number;
  state: 'starting' | 'running' | 'draining';
  /** The reload text this worker runs (null: the config it was started with). */
  routing: RoutingText | null;
  readonly forkedAt: number;
  /** The worker's own reason, when it failed to start. */
  failure: string | null;
  readonly started: Promise<void>;
  readonly exited: Promise<Exit>;
  markStarted(): void;
  markFailed(err: Error): void;
}

interface Pending {
  readonly workerId: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

type WorkerReload = { worker: number } & ({ ok: true; version: string; changed: boolean } | { ok: false; problems: string[] });

class ClusterPrimary {
  private readonly slots = new Map<number, Slot>();
  private readonly pending = new Map<number, Pending>();
  private readonly metrics: ClusterMetrics;
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private nextQuestion = 1;
  private activeRouting: RoutingText | null = null;
  private reloads: Promise<unknown> = Promise.resolve();
  private restartDelayMs = RESTART_DELAY_MS;
  private lastExit: string | null = null;
  private startedUp = false;
  private shuttingDown = false;
  port = 0;

  constructor(private readonly config: RouterConfig, private readonly log: Logger, private readonly options: ClusterOptions) {
    this.metrics = new ClusterMetrics(() => ({ configured: options.workers, running: this.inState('running').length }));
  }

  /** Forks every worker and waits until all listen; the first one that fails fails the start. */
  async start(): Promise<void> {
    cluster.schedulingPolicy = cluster.SCHED_RR;
    const slots = Array.from({ length: this.options.workers }, () => this.fork());
    try {
      await Promise.all(slots.map((s) => s.started));
    } catch (err) {
      this.shuttingDown = true;
      for (const s of this.slots.values()) s.worker.process.kill('SIGKILL');
      await Promise.all(slots.map((s) => s.exited));
      throw err;
    }
    this.startedUp = true;
  }

  private inState(...states: Array<Slot['state']>): Slot[] {
    return [...this.slots.values()].filter((s) => states.includes(s.state));
  }

  private fork(): Slot {
    const worker = cluster.fork();
    let markStarted!: () => void;
    let markFailed!: (err: Error) => void;
    const started = new Promise<void>((resolve, reject) => { markStarted = resolve; markFailed = reject; });
    started.catch(() => {}); // a replacement's failure is handled by its exit
    const exited = new Promise<Exit>((resolve) => worker.once('exit', (code, signal) => resolve({ code, signal })));
    const slot: Slot = {
      worker, pid: worker.process.pid ?? 0, state: 'starting', routing: null, forkedAt: Date.now(), failure: null,
      started, exited, markStarted, markFailed,
    };
    this.slots.set(worker.id, slot);
    worker.on('message', (message: unknown) => { if (isToPrimary(message)) this.onMessage(slot, message); });
    void exited.then((exit) => this.onExit(slot, exit));
    return slot;
  }

  private send(slot: Slot, message: ToWorker): void {
    if (slot.worker.isConnected()) slot.worker.send(message);
  }

  private onMessage(slot: Slot, message: ToPrimary): void {
    switch (message.hms) {
      case 'hello':
        slot.routing = this.activeRouting;
        this.send(slot, { hms: 'start', config: this.config, configPath: this.options.configPath, routing: slot.routing });
        return;
      case 'started':
        this.port = message.port;
        void this.catchUp(slot).then(() => {
          if (slot.state !== 'starting') return;
          slot.state = 'running';
          this.log.info({ worker: slot.worker.id, pid: slot.pid }, 'worker started');
          slot.markStarted();
        });
        return;
      case 'failed':
        slot.failure = message.message;
        return;
      case 'answer': {
        const p = this.pending.get(message.id);
        if (p === undefined) return;
        this.pending.delete(message.id);
        clearTimeout(p.timer);
        if (message.ok) p.resolve(message.value);
        else p.reject(new Error(message.error));
      }
    }
  }

  /** A worker started while a reload was applied gets that reload before it counts as running. */
  private async catchUp(slot: Slot): Promise<void> {
    const routing = this.activeRouting;
    if (routing === null || routing === slot.routing) return;
    try {
      const result = await this.ask(slot, { what: 'reload', ...routing }) as ReloadResult;
      if (!result.ok) throw new Error(result.problems.join('; '));
      slot.routing = routing;
    } catch (err) {
      this.log.error({ worker: slot.worker.id, err: (err as Error).message }, 'new worker could not apply the routing map the others run; stopping it');
      slot.worker.process.kill('SIGKILL');
    }
  }

  private onExit(slot: Slot, { code, signal }: Exit): void {
    this.slots.delete(slot.worker.id);
    const how = signal !== null ? `signal ${signal}` : `exit code ${code}`;
    for (const [id, p] of this.pending) {
      if (p.workerId !== slot.worker.id) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new Error(`worker ${slot.worker.id} exited (${how}) before it answered`));
    }
    if (slot.state === 'starting') {
      slot.markFailed(new Error(`worker ${slot.worker.id} failed to start: ${slot.failure ?? `it exited with ${how}`}`));
    }
    if (this.shuttingDown || !this.startedUp) {
      this.log.info({ worker: slot.worker.id, pid: slot.pid, code, signal }, 'worker exited');
      return;
    }
    this.lastExit = `worker ${slot.worker.id} (pid ${slot.pid}) exited with ${how}`;
    this.metrics.restarts.inc();
    const lived = Date.now() - slot.forkedAt;
    this.restartDelayMs = lived < YOUNG_EXIT_MS ? Math.min(this.restartDelayMs * 2, MAX_RESTART_DELAY_MS) : RESTART_DELAY_MS;
    const delay = lived < YOUNG_EXIT_MS ? this.restartDelayMs : RESTART_DELAY_MS;
    this.log.error({ worker: slot.worker.id, pid: slot.pid, code, signal, failure: slot.failure ?? undefined, restartInMs: delay },
      'worker exited unexpectedly; starting a replacement');
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.shuttingDown) return;
      const replacement = this.fork();
      replacement.started.then(() => { this.lastExit = null; }, () => {});
    }, delay);
    this.restartTimers.add(timer);
  }

  private ask(slot: Slot, question: Question, timeoutMs = ANSWER_TIMEOUT_MS): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.nextQuestion++;
      const workerId = slot.worker.id;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${workerId} did not answer '${question.what}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { workerId, resolve, reject, timer });
      if (!slot.worker.isConnected()) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new Error(`worker ${workerId} is not connected`));
        return;
      }
      slot.worker.send({ hms: 'ask', id, question } satisfies ToWorker);
    });
  }

  private firstRunning(): Slot {
    const slot = this.inState('running')[0];
    if (slot === undefined) throw new Error(`no worker is running (${this.lastExit ?? 'none started'}); try again when /readyz answers 200`);
    return slot;
  }

  private async workerMetrics(): Promise<Array<{ worker: number; pid: number; metrics: WorkerMetrics }>> {
    const live = this.inState('running', 'draining');
    return Promise.all(live.map(async (s) => ({ worker: s.worker.id, pid: s.pid, metrics: await this.ask(s, { what: 'metrics' }) as WorkerMetrics })));
  }

  adminMetrics(): AdminMetrics {
    return {
      scrape: async () => this.metrics.scrape(await this.workerMetrics()),
      contentType: Registry.PROMETHEUS_CONTENT_TYPE,
      stats: async () => this.metrics.stats(await this.workerMetrics()),
    };
  }

  adminState(): AdminState {
    return {
      accepting: () => !this.shuttingDown,
      notReadyReason: async () => {
        const running = this.inState('running');
        if (running.length < this.options.workers) {
          return `${running.length} of ${this.options.workers} workers running${this.lastExit === null ? '' : `: ${this.lastExit}; a replacement is starting`}`;
        }
        const reasons = await Promise.all(running.map(async (s) => {
          try {
            const reason = await this.ask(s, { what: 'ready' }) as string | null;
            return reason === null ? null : `worker ${s.worker.id}: ${reason}`;
          } catch (err) {
            return `worker ${s.worker.id}: ${(err as Error).message}`;
          }
        }));
        const notReady = reasons.filter((r): r is string => r !== null);
        return notReady.length === 0 ? null : notReady.join('; ');
      },
      routing: async () => this.ask(this.firstRunning(), { what: 'routing' }) as Promise<{ version: string; loadedAt: string; map: unknown; batching: unknown }>,
      backends: async () => this.ask(this.firstRunning(), { what: 'backends' }) as Promise<BackendsView>,
      reloadRouting: () => this.reloadRouting('admin'),
      adminToken: this.config.admin.token,
    };
  }

  /** Reloads run one after another: each sees every worker on the outcome of the one before. */
  reloadRouting(source: ReloadSource): Promise<ReloadOutcome> {
    const next = this.reloads.then(() => this.reloadAll(source));
    this.reloads = next.catch(() => {});
    return next;
  }

  private async reloadAll(source: ReloadSource): Promise<ReloadOutcome> {
    let text: string;
    try {
      text = readFileSync(this.options.configPath, 'utf8');
    } catch (err) {
      const problems = [`cannot read the config file ${this.options.configPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`];
      this.log.error({ source, problems }, 'routing map refused; the previous map keeps serving');
      return { ok: false, problems };
    }
    const running = this.inState('running');
    if (running.length === 0) return { ok: false, problems: [`no worker is running (${this.lastExit ?? 'none started'}); nothing was reloaded`] };
    const routing: RoutingText = { source, text };
    const results: WorkerReload[] = await Promise.all(running.map(async (s): Promise<WorkerReload> => {
      try {
        return { worker: s.worker.id, ...await this.ask(s, { what: 'reload', ...routing }) as ReloadResult };
      } catch (err) {
        return { worker: s.worker.id, ok: false, problems: [(err as Error).message] };
      }
    }));
    const applied = results.filter((r): r is Extract<WorkerReload, { ok: true }> => r.ok);
    const versions = new Set(applied.map((r) => r.version));
    if (applied.length === results.length && versions.size === 1) {
      this.activeRouting = routing;
      for (const s of running) s.routing = routing;
      const version = applied[0]!.version;
      const changed = applied.some((r) => r.changed);
      this.log.info({ source, version, workers: results.length }, changed ? 'routing map reloaded on every worker' : 'routing map unchanged on every worker');
      return { ok: true, version, changed, workers: results };
    }
    const problems = this.problemsOf(results, applied.length, versions);
    this.log.error({ source, problems }, 'routing map refused; the previous map keeps serving');
    return { ok: false, problems, workers: results };
  }

  /** Problems every worker reports are listed once; the rest name their worker. */
  private problemsOf(results: readonly WorkerReload[], applied: number, versions: ReadonlySet<string>): string[] {
    const lists = results.map((r) => (r.ok ? [] : r.problems));
    const common = applied === 0 ? lists[0]!.filter((p) => lists.every((l) => l.includes(p))) : [];
    const problems = [...common];
    for (const r of results) {
      if (!r.ok) problems.push(...r.problems.filter((p) => !common.includes(p)).map((p) => `worker ${r.worker}: ${p}`));
    }
    if (applied > 0) {
      problems.push(`${applied} of ${results.length} workers applied version ${[...versions].join(', ')}: reload again once every worker answers`);
    }
    return problems;
  }

  private closing: Promise<void> | null = null;

  close(admin: HttpServer | null, watch: { close(): void } | null): Promise<void> {
    this.closing ??= (async () => {
      this.shuttingDown = true;
      watch?.close();
      for (const t of this.restartTimers) clearTimeout(t);
      this.restartTimers.clear();
      const slots = [...this.slots.values()];
      for (const s of slots) {
        s.state = 'draining';
        this.send(s, { hms: 'shutdown' });
      }
      // A worker that cannot finish within its own drain bound is stopped.
      const hardStop = setTimeout(() => {
        for (const s of this.slots.values()) {
          this.log.error({ worker: s.worker.id, pid: s.pid }, 'worker did not exit after draining; killing it');
          s.worker.process.kill('SIGKILL');
        }
      }, this.config.server.drainTimeoutMs + 15_000);
      const exits = await Promise.all(slots.map(async (s) => ({ worker: s.worker.id, ...await s.exited })));
      clearTimeout(hardStop);
      if (admin !== null) {
        await new Promise<void>((resolve) => admin.close(() => resolve()));
        admin.closeAllConnections();
      }
      const unclean = exits.filter((e) => e.code !== 0);
      if (unclean.length > 0) {
        throw new Error(unclean.map((e) => `worker ${e.worker} exited with ${e.signal !== null ? `signal ${e.signal}` : `exit code ${e.code}`}`).join('; '));
      }
      this.log.info('hms-router stopped (every worker drained)');
    })();
    return this.closing;
  }
}

/** Forks the workers, then opens the admin port; a failure of either stops everything again. */
export async function startCluster(config: RouterConfig, log: Logger, options: ClusterOptions): Promise<RunningCluster> {
  const primary = new ClusterPrimary(config, log, options);
  await primary.start();
  let admin: HttpServer;
  try {
    admin = await startAdminServer(config.admin.host, config.admin.port, primary.adminMetrics(), primary.adminState(), log);
  } catch (err) {
    await primary.close(null, null).catch(() => {});
    throw err;
  }
  const watch = options.watchConfig === false ? null
    : watchConfigFile(options.configPath, () => { void primary.reloadRouting('file'); }, log);
  const adminPort = (admin.address() as AddressInfo).port;
  log.info({ port: primary.port, adminPort, workers: options.workers, metastores: Object.keys(config.metastores), defaultMetastore: config.defaultMetastore },
    'hms-router listening (cluster primary)');
  return {
    port: primary.port,
    adminPort,
    reloadRouting: (source = 'sighup') => primary.reloadRouting(source),
    close: () => primary.close(admin, watch),
  };
}
