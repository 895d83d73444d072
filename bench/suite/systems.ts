/**
 * The proxies the suite measures, as processes of their own (so CPU and RSS are theirs alone):
 * hms-router built from dist/ (what `npm start` runs) and Waggle Dance from its released tgz.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../stack/layout';
import { installWaggleDance, startWaggleDance, stopWaggleDance, WAGGLE_DANCE_VERSION, WAGGLE_DANCE_JVM_FLAGS } from '../../stack/waggle-dance';
import { scrapeMetrics, startRouterProcess, stopRouterProcess, sumSeries } from '../support';
import type { Target } from './measure';
import type { SuiteResults, SystemName } from './results';
import { FED_DB } from './objects';

const ROUTER_PORT = 19990;
const ROUTER_ADMIN_PORT = 19991;
/**
 * Waggle Dance keeps each client connection's metastore connections for disconnect-connection-delay
 * after the client leaves (its default: 300 s). With a new connection per call (how Presto and
 * Trino call) that reached ~1,000 open connections per metastore within a minute, the metastores'
 * worker threads (hive.metastore.server.max.threads, default 1,000) were all taken, and every later
 * call through it hung (measured 2026-12-02: 16 of 16 callers unanswered after 60 s, and the
 * workloads after it starved too). 5 s keeps it answering, so it is measured at its best.
 */
const WAGGLE_DANCE_DISCONNECT_DELAY_S = 5;
const WAGGLE_DANCE_PORTS: Readonly<Record<string, number>> = { stack: 19190, big: 19191 };

interface MysqlSpec { readonly port: number; readonly user: string; readonly password: string }

interface MetastoreSpec {
  readonly endpoint: number;
  readonly mysql?: MysqlSpec;
  readonly replica?: { readonly endpoint: number; readonly mysql: MysqlSpec };
  /** The metadata cache (issue #15) and its change feed: the metastore's schema on its primary MySQL. Absent: no cache key (off). */
  readonly cache?: { readonly enabled: boolean; readonly feedDatabase: string; readonly feedMysql: MysqlSpec };
}

/** Where a router listens: one pair per router process that runs beside another. */
export interface RouterPorts { readonly port: number; readonly adminPort: number }

const DEFAULT_PORTS: RouterPorts = { port: ROUTER_PORT, adminPort: ROUTER_ADMIN_PORT };

const mysqlLine = (m: MysqlSpec) => `{ host: 127.0.0.1, port: ${m.port}, user: ${JSON.stringify(m.user)}, password: ${JSON.stringify(m.password)} }`;

/** Router config lines: metastores on 127.0.0.1, pools sized for 64 callers, routes for federation. */
export function routerConfig(metastores: Readonly<Record<string, MetastoreSpec>>, defaultMetastore: string,
  routes: ReadonlyArray<{ database: string; metastore: string }> = [], ports: RouterPorts = DEFAULT_PORTS): string[] {
  const lines = [
    `server: { host: 127.0.0.1, port: ${ports.port} }`,
    `admin: { host: 127.0.0.1, port: ${ports.adminPort} }`,
    'log: { level: warn }',
    'metastores:',
  ];
  for (const [name, m] of Object.entries(metastores)) {
    lines.push(`  ${name}:`);
    lines.push('    primary:');
    lines.push(`      endpoints: ["127.0.0.1:${m.endpoint}"]`);
    if (m.mysql) lines.push(`      mysql: ${mysqlLine(m.mysql)}`);
    if (m.replica) {
      lines.push('    replicas:');
      lines.push(`      - name: r1`);
      lines.push(`        endpoints: ["127.0.0.1:${m.replica.endpoint}"]`);
      lines.push(`        mysql: ${mysqlLine(m.replica.mysql)}`);
      lines.push('    consistency: { mode: session, maxWaitMs: 200 }');
    }
    lines.push('    pool: { minIdle: 16, max: 128 }');
    lines.push('    timeouts: { callMs: 600000 }');
    if (m.cache) lines.push(`    cache: { enabled: ${m.cache.enabled}, feed: { database: ${JSON.stringify(m.cache.feedDatabase)}, mysql: ${mysqlLine(m.cache.feedMysql)} } }`);
  }
  lines.push(`defaultMetastore: ${defaultMetastore}`);
  if (routes.length > 0) {
    lines.push('routing:', '  routes:');
    for (const r of routes) lines.push(`    - { database: ${JSON.stringify(r.database)}, metastore: ${r.metastore} }`);
  }
  return lines;
}

export interface RouterProcess {
  readonly child: ChildProcess;
  readonly ports: RouterPorts;
  /** The router as a load target; `replicaShare` adds the share of reads the replica served per round. */
  target(options?: { replicaShare?: boolean }): Target;
}

interface WaggleDanceInstance { readonly pid: number; readonly port: number }

export class Proxies {
  private readonly routers = new Set<ChildProcess>();
  private readonly waggleDances = new Map<string, WaggleDanceInstance>();
  private waggleDanceProblem: string | null = null;
  private waggleDanceInstalled = false;

  constructor(private readonly log: (line: string) => void) {}

  /** `ports`: the ones its config names (routerConfig's last argument), when not the default pair. */
  async startRouter(name: string, config: readonly string[], ports: RouterPorts = DEFAULT_PORTS): Promise<RouterProcess> {
    const child = await startRouterProcess(`suite-${name}`, config, ports.adminPort);
    this.routers.add(child);
    return {
      child,
      ports,
      target: (options = {}) => {
        let before = new Map<string, number>();
        const reads = (m: ReadonlyMap<string, number>, role?: string) => sumSeries(m, 'hms_router_calls_total', ['kind="read"', ...(role ? [`role="${role}"`] : [])]);
        return {
          system: 'hms-router',
          port: ports.port,
          pid: child.pid!,
          ...(options.replicaShare ? {
            beforeRound: async () => { before = await scrapeMetrics(ports.adminPort); },
            afterRound: async () => {
              const after = await scrapeMetrics(ports.adminPort);
              const all = reads(after) - reads(before);
              return { replicaShare: all === 0 ? 0 : +((reads(after, 'replica') - reads(before, 'replica')) / all).toFixed(3) };
            },
          } : {}),
        };
      },
    };
  }

  async stopRouter(router: RouterProcess): Promise<void> {
    this.routers.delete(router.child);
    await stopRouterProcess(router.child);
  }

  async installWaggleDance(): Promise<void> {
    try {
      await installWaggleDance(this.log);
      this.waggleDanceInstalled = true;
    } catch (err) {
      this.waggleDanceProblem = `install failed: ${(err as Error).message}`;
      this.log(`Waggle Dance unavailable: ${this.waggleDanceProblem}`);
    }
  }

  async startWaggleDance(name: string, primary: { name: string; uri: string },
    federated: ReadonlyArray<{ name: string; uri: string; mappedDatabases: string[] }>, heap = '512m'): Promise<void> {
    if (!this.waggleDanceInstalled) return;
    const port = WAGGLE_DANCE_PORTS[name]!;
    const workDir = join(REPO_ROOT, '.work', 'bench', `waggle-dance-${name}`);
    try {
      const { pid } = await startWaggleDance({ port, primary, federated: [...federated], logFile: join(workDir, 'waggle-dance.log'), workDir, heap, disconnectDelaySeconds: WAGGLE_DANCE_DISCONNECT_DELAY_S, log: this.log });
      this.waggleDances.set(name, { pid, port });
    } catch (err) {
      this.waggleDanceProblem = `start failed: ${(err as Error).message}`;
      this.log(`Waggle Dance unavailable: ${this.waggleDanceProblem}`);
    }
  }

  waggleDanceTarget(name: string): Target | { system: SystemName; unavailable: string } {
    const wd = this.waggleDances.get(name);
    if (wd === undefined) return { system: 'waggle-dance', unavailable: this.waggleDanceProblem ?? 'not started' };
    return { system: 'waggle-dance', port: wd.port, pid: wd.pid };
  }

  async stopWaggleDance(name: string): Promise<void> {
    const wd = this.waggleDances.get(name);
    if (wd === undefined) return;
    this.waggleDances.delete(name);
    await stopWaggleDance(wd.pid);
  }

  waggleDanceInfo(): SuiteResults['waggleDance'] {
    return {
      version: this.waggleDanceInstalled ? WAGGLE_DANCE_VERSION : null,
      javaFlags: WAGGLE_DANCE_JVM_FLAGS,
      unavailable: this.waggleDanceProblem,
      settings: [
        `disconnect-connection-delay ${WAGGLE_DANCE_DISCONNECT_DELAY_S} s (default 300 s): at the default, a new connection per call ` +
        'left ~1,000 connections open per metastore within a minute, the metastores ran out of worker threads ' +
        '(hive.metastore.server.max.threads 1,000) and every call through Waggle Dance hung',
        `database-resolution MANUAL; the fed metastore federated with mapped-databases [${FED_DB}]`,
      ],
    };
  }

  async stopAll(): Promise<void> {
    for (const child of [...this.routers]) { this.routers.delete(child); await stopRouterProcess(child); }
    for (const name of [...this.waggleDances.keys()]) await this.stopWaggleDance(name);
  }
}
