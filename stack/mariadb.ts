/**
 * MariaDB servers owned by the stack: one data dir and one port each, started from the machine's own
 * MariaDB binaries (never the system service on port 3306).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { spawnDetached, waitForPort, isAlive, sleep, stopProcess } from './process';

export const MARIADBD = '/usr/sbin/mariadbd';
export const INSTALL_DB = '/usr/bin/mariadb-install-db';

export interface MariadbSpec {
  /** primary | replica | federated: used in messages and file names. */
  readonly role: string;
  readonly port: number;
  readonly serverId: number;
  /** Directory owning this server's files: data/, the socket, the log. */
  readonly dir: string;
  /** Replicas are read-only and keep their own binlog of applied events off. */
  readonly readOnly: boolean;
}

export function mariadbLogFile(spec: MariadbSpec): string {
  return join(spec.dir, 'mariadb.log');
}

/**
 * Makes sure the MariaDB server binaries exist. On a fresh machine of this kind they come from
 * Debian's mariadb-server package; as root we install it, otherwise we say how.
 */
export function ensureMariadbBinaries(): void {
  if (existsSync(MARIADBD) && existsSync(INSTALL_DB)) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    throw new Error(`MariaDB server binaries are missing (${MARIADBD}); fix: sudo apt-get install -y mariadb-server`);
  }
  process.stderr.write('stack: installing mariadb-server from Debian packages...\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const res = spawnSync('apt-get', ['install', '-y', '-qq', 'mariadb-server', 'mariadb-client'], { stdio: 'inherit', env });
  if (res.status !== 0 || !existsSync(MARIADBD)) {
    throw new Error('could not install mariadb-server with apt-get; fix: apt-get update && apt-get install -y mariadb-server');
  }
}

function serverArgs(spec: MariadbSpec): string[] {
  const dataDir = join(spec.dir, 'data');
  const args = [
    '--no-defaults',
    `--datadir=${dataDir}`,
    `--port=${spec.port}`,
    '--bind-address=127.0.0.1',
    `--socket=${join(spec.dir, 'mysqld.sock')}`,
    `--pid-file=${join(spec.dir, 'mysqld.pid')}`,
    `--log-error=${mariadbLogFile(spec)}`,
    `--server-id=${spec.serverId}`,
    '--skip-name-resolve',
    '--character-set-server=latin1',
    '--collation-server=latin1_swedish_ci',
    // Small footprint: three servers and three JVMs share 2 cores.
    '--innodb-buffer-pool-size=64M',
    '--innodb-log-file-size=48M',
    '--innodb-flush-log-at-trx-commit=2',
    '--max-connections=500',
    '--performance-schema=OFF',
    // Binlog with GTIDs on every server: the primary for replication, the others so that each
    // reports a GTID position the router can read.
    `--log-bin=${join(spec.dir, 'data', 'binlog')}`,
    '--binlog-format=ROW',
    '--gtid-strict-mode=1',
    '--sync-binlog=0',
    `--relay-log=${join(spec.dir, 'data', 'relay')}`,
  ];
  if (spec.readOnly) args.push('--read-only=1', '--log-slave-updates=0');
  if (process.getuid?.() === 0) args.push('--user=root');
  return args;
}

/** Creates the data dir on first use. */
export function initDataDir(spec: MariadbSpec): void {
  const dataDir = join(spec.dir, 'data');
  if (existsSync(join(dataDir, 'mysql'))) return;
  mkdirSync(dataDir, { recursive: true });
  const args = ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal',
    '--skip-test-db', '--skip-name-resolve'];
  if (process.getuid?.() === 0) args.push('--user=root');
  try {
    execFileSync(INSTALL_DB, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer };
    const detail = `${e.stderr?.toString() ?? ''}${e.stdout?.toString() ?? ''}`.trim().split('\n').slice(-3).join(' | ');
    throw new Error(`mariadb-install-db failed for the ${spec.role} server in ${dataDir}: ${detail}`);
  }
}

/** Starts the server and resolves once it answers a query as root. */
export async function startMariadb(spec: MariadbSpec): Promise<number> {
  mkdirSync(spec.dir, { recursive: true });
  initDataDir(spec);
  const logFile = mariadbLogFile(spec);
  const { pid } = spawnDetached(MARIADBD, serverArgs(spec), join(spec.dir, 'mariadbd.out'));
  const what = `MariaDB ${spec.role} server (port ${spec.port})`;
  try {
    await waitUntilReady(spec, pid, what, logFile);
  } catch (err) {
    await stopProcess(pid);
    throw err;
  }
  return pid;
}

async function waitUntilReady(spec: MariadbSpec, pid: number, what: string, logFile: string): Promise<void> {
  await waitForPort({ port: spec.port, pid, what, logFile, timeoutMs: 60_000 });
  // The port opens slightly before the server takes logins.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const conn = await rootConnection(spec.port);
      await conn.end();
      return;
    } catch (err) {
      if (!isAlive(pid) || Date.now() > deadline) {
        throw new Error(`${what} does not accept logins: ${(err as Error).message}; see ${logFile}`);
      }
      await sleep(200);
    }
  }
}

export function rootConnection(port: number): Promise<mysql.Connection> {
  return mysql.createConnection({ host: '127.0.0.1', port, user: 'root', password: '', multipleStatements: true });
}

/** Runs statements as root on the server at `port`. */
export async function runAsRoot(port: number, sql: string | string[]): Promise<unknown[]> {
  const conn = await rootConnection(port);
  try {
    const results: unknown[] = [];
    for (const statement of Array.isArray(sql) ? sql : [sql]) {
      const [rows] = await conn.query(statement);
      results.push(rows);
    }
    return results;
  } finally {
    await conn.end();
  }
}
