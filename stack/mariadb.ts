/**
 * MariaDB servers owned by the stack: one data dir and one port each, started from the machine's own
 * MariaDB binaries (never the system service on port 3306).
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
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

/** What mariadbd prints before its --log-error file is open (bad options, a crash at once). */
export function mariadbdOutFile(spec: MariadbSpec): string {
  return join(spec.dir, 'mariadbd.out');
}

/**
 * The server's own temporary directory. Every mariadbd, the bootstrap one inside install-db too,
 * deletes all "#sql*" files in its tmpdir as it starts (checked: files put in /tmp were gone after one
 * install-db). With the default /tmp shared by the stack's servers and the host's own, a server
 * starting beside an install deleted the bootstrap's temporary table: one install-db in about fifty
 * failed under load ("ERROR: 1017 Can't find file: '/tmp/#sql-temptable-...MAI'", then "Aborting"),
 * as CI's replica did; none in 160 with a tmpdir each.
 */
export function mariadbTmpDir(spec: MariadbSpec): string {
  return join(spec.dir, 'tmp');
}

/** Everything mariadb-install-db printed, one timestamped section per attempt; kept after success. */
export function installDbLogFile(spec: MariadbSpec): string {
  return join(spec.dir, 'install-db.log');
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
    `--tmpdir=${mariadbTmpDir(spec)}`,
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
    // reports a GTID position the router can read. The change feed (src/cache/change-feed.ts) needs
    // it on the primary and the federated server: BINLOG_GTID_POS of a snapshot's binlog position.
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

export interface InitDataDirOptions {
  /** The install command (default INSTALL_DB); tests put a stand-in here. */
  readonly installDb?: string;
  /** Progress lines (default: stderr, as the stack's other lines). */
  readonly log?: (line: string) => void;
  /** Longest one attempt may take (default 5 min: three installs share 2 busy cores at stack start). */
  readonly timeoutMs?: number;
}

/**
 * mariadbd's own crash banner ("[ERROR] mariadbd got signal 11 ;"): the bootstrap server inside
 * mariadb-install-db crashed, which a run on a loaded machine once did and the next run did not.
 */
const CRASH_BANNER = /got signal \d+|Fatal signal \d+/i;

/**
 * The bootstrap losing one of its own temporary tables to another server's start-up clean-up (see
 * mariadbTmpDir). Each server now has its own tmpdir; should it still happen, it is retried once.
 */
const LOST_TEMP_TABLE = /ERROR: 1017 .*#sql-temptable/;

/** mariadbd's closing line after any fatal error: it says nothing about the cause. */
const ABORTING = /\[ERROR\] Aborting\s*$/;

/**
 * Written by mariadb-install-db as its last step, only when the system tables were made; a data dir
 * without it is what a crashed or killed install left behind.
 */
const INSTALLED_MARKER = 'mysql_upgrade_info';

/**
 * Creates the data dir on first use. mariadb-install-db's whole output goes to installDbLogFile; a
 * failure prints that output, then throws naming the exit code or signal, the telling line and that
 * file. A known transient failure (a signal, mariadbd's crash banner, a lost temporary table) removes
 * the half-made data dir and is retried once.
 */
export function initDataDir(spec: MariadbSpec, options: InitDataDirOptions = {}): void {
  const dataDir = join(spec.dir, 'data');
  if (existsSync(join(dataDir, INSTALLED_MARKER))) return;
  const log = options.log ?? ((line: string) => process.stderr.write(`stack: ${line}\n`));
  const logFile = installDbLogFile(spec);
  if (existsSync(dataDir)) {
    log(`mariadb ${spec.role}: ${dataDir} has no ${INSTALLED_MARKER} (an install that did not finish); making it again`);
    rmSync(dataDir, { recursive: true, force: true });
  }
  const first = runInstallDb(spec, options, log, 1);
  if (first === null) return;
  if (!first.transient) throw installError(spec, first, logFile);
  log(`mariadb-install-db for the ${spec.role} server failed (${first.summary}: ${first.tellingLine}); `
    + `retrying once (a known transient failure; its output is above and in ${logFile})`);
  const second = runInstallDb(spec, options, log, 2);
  if (second === null) return;
  throw installError(spec, second, logFile, first);
}

interface InstallFailure {
  /** "exit code 1" or "signal SIGSEGV" or "timed out after 300 s". */
  readonly summary: string;
  readonly tellingLine: string;
  /** A crash or a lost temporary table: worth one more try on a fresh data dir. */
  readonly transient: boolean;
}

/** One attempt on an empty data dir; null when it succeeded, else why it failed (data dir removed). */
function runInstallDb(spec: MariadbSpec, options: InitDataDirOptions, log: (line: string) => void,
  attempt: number): InstallFailure | null {
  const dataDir = join(spec.dir, 'data');
  const logFile = installDbLogFile(spec);
  const command = options.installDb ?? INSTALL_DB;
  const timeoutMs = options.timeoutMs ?? 300_000;
  // install-db hands --tmpdir on to its bootstrap server.
  const args = ['--no-defaults', `--datadir=${dataDir}`, `--tmpdir=${mariadbTmpDir(spec)}`,
    '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve'];
  if (process.getuid?.() === 0) args.push('--user=root');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(mariadbTmpDir(spec), { recursive: true });
  appendFileSync(logFile, `==== ${new Date().toISOString()} attempt ${attempt} of 2: ${command} ${args.join(' ')}\n`);
  const from = statSync(logFile).size;
  // Output straight into the file: nothing is cut, and a crash cannot lose what was printed.
  const out = openSync(logFile, 'a');
  let res: ReturnType<typeof spawnSync>;
  try {
    res = spawnSync(command, args, { stdio: ['ignore', out, out], timeout: timeoutMs, killSignal: 'SIGKILL' });
  } finally {
    closeSync(out);
  }
  const output = readFileSync(logFile).subarray(from).toString('utf8');
  const timedOut = (res.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  let failure: InstallFailure | null = null;
  if (res.error !== undefined && !timedOut) {
    failure = { summary: `could not run ${command}: ${res.error.message}`, tellingLine: '', transient: false };
  } else if (timedOut) {
    failure = { summary: `timed out after ${timeoutMs / 1000} s (killed)`, tellingLine: tellingLine(output), transient: false };
  } else if (res.signal !== null) {
    failure = { summary: `signal ${res.signal}`, tellingLine: tellingLine(output), transient: true };
  } else if (res.status !== 0) {
    failure = { summary: `exit code ${res.status}`, tellingLine: tellingLine(output),
      transient: CRASH_BANNER.test(output) || LOST_TEMP_TABLE.test(output) };
  } else if (!existsSync(join(dataDir, INSTALLED_MARKER))) {
    failure = { summary: `exit code 0 without ${join(dataDir, INSTALLED_MARKER)}`, tellingLine: tellingLine(output), transient: false };
  }
  appendFileSync(logFile, `==== attempt ${attempt}: ${failure === null ? 'ok' : failure.summary}\n`);
  // Printed too: a CI run keeps its console, not the clone's .work/stack.
  if (failure !== null) {
    log(`mariadb-install-db for the ${spec.role} server, attempt ${attempt}, printed:`);
    for (const line of output.split('\n').filter((l) => l.trim() !== '')) log(`  | ${line}`);
  }
  // A half-made data dir would pass for a made one on the next start (it has mysql/ already).
  if (failure !== null) rmSync(dataDir, { recursive: true, force: true });
  return failure;
}

/**
 * The line that says what went wrong: mariadbd's first [ERROR] or bootstrap SQL error ("ERROR: 1017
 * ..."), never its closing "[ERROR] Aborting"; else the crash banner or a line saying something
 * failed, else the last line printed. (install-db's own closing advice is generic.)
 */
export function tellingLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.find((l) => (l.includes('[ERROR]') && !ABORTING.test(l)) || /^ERROR: \d+/.test(l))
    ?? lines.find((l) => l.includes('[ERROR]'))
    ?? lines.find((l) => CRASH_BANNER.test(l) || /failed|error|cannot|can't/i.test(l))
    ?? lines.at(-1) ?? '(no output)';
}

function installError(spec: MariadbSpec, failure: InstallFailure, logFile: string, earlier?: InstallFailure): Error {
  const said = failure.tellingLine === '' ? '' : `: ${failure.tellingLine}`;
  const retried = earlier === undefined ? '' : ` (retried once after a known transient failure: ${earlier.summary})`;
  return new Error(`mariadb-install-db failed for the ${spec.role} server in ${join(spec.dir, 'data')} with `
    + `${failure.summary}${said}${retried}; its whole output is in ${logFile}. Fix what it names, then start again `
    + `(the half-made data dir was removed)`);
}

/** Starts the server and resolves once it answers a query as root. */
export async function startMariadb(spec: MariadbSpec): Promise<number> {
  // spec.dir and its tmp/ (a data dir made by an older stack has no tmp/ yet).
  mkdirSync(mariadbTmpDir(spec), { recursive: true });
  initDataDir(spec);
  const logFile = mariadbLogFile(spec);
  const { pid } = spawnDetached(MARIADBD, serverArgs(spec), mariadbdOutFile(spec));
  const what = `MariaDB ${spec.role} server (port ${spec.port})`;
  try {
    // Both files: a bad option or an early crash is printed before the --log-error file is open.
    await waitUntilReady(spec, pid, what, `${logFile} (and ${mariadbdOutFile(spec)})`);
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
