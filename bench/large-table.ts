/**
 * A table with a large number of partitions on a real Hive metastore of its own, for the benchmarks
 * that need one (batching; later the Waggle Dance comparison). Separate from the local stack: its
 * own MariaDB on 127.0.0.1:13309 and its own metastore on 19086, files under .work/bench/large-table/.
 *
 * Built once through the metastore's Thrift API (create_database, create_table, add_partitions in
 * batches of 1,000, a few in parallel), then MariaDB is stopped cleanly and its data dir archived to
 * ~/.cache/hms-router/bench/big-table-hive-<version>-<partitions>.tar.zst (.tar.gz or .tar without
 * zstd), beside a manifest saying what is in it. Later runs unpack the archive and start MariaDB and
 * the metastore on it: seconds instead of minutes. A manifest that no longer matches (table layout,
 * MariaDB version) makes it build again.
 *
 *   const big = await ensureLargeTable({ partitions: 100_000 });
 *   ... thrift://127.0.0.1:${big.metastorePort}, big.db, big.table ...
 *   await big.stop();
 *
 * `npx tsx bench/large-table.ts [--partitions N]` builds (or checks) the cache and stops again.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MARIADBD, MariadbSpec, ensureMariadbBinaries, mariadbLogFile, runAsRoot, startMariadb } from '../stack/mariadb';
import { createMetastoreUsers, HIVE_USER } from '../stack/replication';
import { initSchema, startMetastore } from '../stack/hive';
import { isAlive, portIsFree, stopProcess } from '../stack/process';
import { DEFAULT_HIVE_VERSION, REPO_ROOT, cacheDir, metastoreDatabase } from '../stack/layout';
import { HmsTestClient, args as callArgs } from '../test/support/hms-test-client';
import { addPartitionsArgs, createTableArgs, TableSpec } from '../test/support/hms-objects';

export const LARGE_TABLE_MYSQL_PORT = 13309;
export const LARGE_TABLE_METASTORE_PORT = 19086;
const DB = 'bench_big';
const TABLE = 'events';
/** Partitions per add_partitions call, and calls in flight while building. */
const ADD_BATCH = 1000;
const ADD_PARALLEL = 3;
/**
 * Heap of this metastore. The stack's -Xmx512m does hold one listing of all 100,000 partitions
 * (measured: 11 s, no OutOfMemoryError); a metastore serving tables of this size has several GiB,
 * with room for listings in parallel (the Waggle Dance comparison runs several).
 */
export const LARGE_TABLE_METASTORE_HEAP: readonly string[] = ['-Xms256m', '-Xmx3g'];
/** Bump when the table's layout or the way it is built changes: older archives are rebuilt. */
const LAYOUT_VERSION = 1;

/** An event table as engines write them: a dozen columns, partitioned by day and hour. */
const COLUMNS: ReadonlyArray<[string, string]> = [
  ['event_id', 'bigint'], ['event_time', 'timestamp'], ['user_id', 'bigint'], ['session_id', 'string'],
  ['event_type', 'string'], ['page_url', 'string'], ['referrer', 'string'], ['country', 'string'],
  ['device', 'struct<os:string,model:string,app_version:string>'], ['duration_ms', 'int'],
  ['revenue', 'decimal(18,4)'], ['attributes', 'map<string,string>'],
];
const PARTITION_KEYS: ReadonlyArray<[string, string]> = [['day', 'string'], ['hour', 'int']];
const FIRST_DAY = Date.UTC(2014, 0, 1);

export interface LargeTable {
  readonly hiveVersion: string;
  readonly partitions: number;
  readonly metastorePort: number;
  readonly metastoreUri: string;
  readonly mysqlPort: number;
  readonly db: string;
  readonly table: string;
  readonly metastoreLog: string;
  /** Seconds this call spent building the table (null when it came from the cache). */
  readonly builtSeconds: number | null;
  /** Seconds to unpack the cached data dir and start MariaDB and the metastore on it. */
  readonly startSeconds: number;
  readonly archive: string;
  /** Stops the metastore and MariaDB (idempotent). */
  stop(): Promise<void>;
}

export interface LargeTableOptions {
  readonly partitions: number;
  readonly hiveVersion?: string;
  /** JVM heap flags of the metastore (default LARGE_TABLE_METASTORE_HEAP). */
  readonly metastoreHeap?: readonly string[];
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void;
}

interface Manifest {
  readonly layout: string;
  readonly hiveVersion: string;
  readonly partitions: number;
  readonly mariadb: string;
  readonly db: string;
  readonly table: string;
  readonly builtAt: string;
  readonly buildSeconds: number;
  readonly archiveBytes: number;
}

/** The partition values of the i-th partition: consecutive hours from 2014-01-01 00. */
export function partitionValues(i: number): [string, string] {
  const day = new Date(FIRST_DAY + Math.floor(i / 24) * 86_400_000).toISOString().slice(0, 10);
  return [day, String(i % 24)];
}

function workDir(hiveVersion: string): string {
  return join(REPO_ROOT, '.work', 'bench', `large-table-${hiveVersion}`);
}

function mysqlSpec(hiveVersion: string): MariadbSpec {
  return { role: 'bench large-table', port: LARGE_TABLE_MYSQL_PORT, serverId: 9, dir: join(workDir(hiveVersion), 'mariadb'), readOnly: false };
}

function tableSpec(hiveVersion: string): TableSpec {
  return { db: DB, table: TABLE, location: `file://${join(workDir(hiveVersion), 'warehouse', `${DB}.db`, TABLE)}`, columns: COLUMNS, partitionKeys: PARTITION_KEYS };
}

/** What the archive must have been built from; any difference means a rebuild. */
function layoutStamp(): string {
  return createHash('sha256').update(JSON.stringify({ LAYOUT_VERSION, DB, TABLE, COLUMNS, PARTITION_KEYS, FIRST_DAY, ADD_BATCH })).digest('hex').slice(0, 16);
}

function mariadbVersion(): string {
  return execFileSync(MARIADBD, ['--version'], { encoding: 'utf8' }).trim().replace(/^.*Ver\s+/, '').split(/\s+/)[0] ?? 'unknown';
}

type Compression = { readonly ext: string; readonly tarFlags: string[] };

function compression(): Compression {
  const has = (tool: string) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
  if (has('zstd')) return { ext: '.tar.zst', tarFlags: ['-I', 'zstd -T0 -3'] };
  if (has('gzip')) return { ext: '.tar.gz', tarFlags: ['-z'] };
  return { ext: '.tar', tarFlags: [] };
}

function archiveBase(hiveVersion: string, partitions: number): string {
  return join(cacheDir(), 'bench', `big-table-hive-${hiveVersion}-${partitions}`);
}

/** The cached archive and its manifest, when both exist and still fit the current layout. */
function findArchive(hiveVersion: string, partitions: number, mariadb: string): { file: string; manifest: Manifest } | null {
  const base = archiveBase(hiveVersion, partitions);
  const manifestFile = `${base}.json`;
  if (!existsSync(manifestFile)) return null;
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  if (manifest.layout !== layoutStamp() || manifest.mariadb !== mariadb) return null;
  for (const ext of ['.tar.zst', '.tar.gz', '.tar']) {
    if (existsSync(`${base}${ext}`)) return { file: `${base}${ext}`, manifest };
  }
  return null;
}

/** Names the process holding a port when it is one a previous run of this module left behind. */
function stalePidHint(hiveVersion: string): string {
  const stateFile = join(workDir(hiveVersion), 'pids.json');
  if (!existsSync(stateFile)) return '';
  const pids = (JSON.parse(readFileSync(stateFile, 'utf8')) as number[]).filter(isAlive);
  return pids.length === 0 ? '' : `; an earlier benchmark run left pids ${pids.join(', ')} running (stop them: kill ${pids.join(' ')})`;
}

async function ensurePortsFree(hiveVersion: string): Promise<void> {
  for (const [port, what] of [[LARGE_TABLE_MYSQL_PORT, 'MariaDB'], [LARGE_TABLE_METASTORE_PORT, 'metastore']] as const) {
    if (!(await portIsFree(port))) {
      throw new Error(`port ${port} (the large-table ${what}) is in use${stalePidHint(hiveVersion)}; free port ${port} and run again`);
    }
  }
}

/**
 * The detached processes of one build or run, recorded in pids.json (so a later run can name them
 * if they were left behind) and stopped on SIGINT/SIGTERM of this process.
 */
class ProcessSet {
  private readonly pids: number[] = [];
  private stopping: Promise<void> | null = null;
  private readonly onSignal = () => { void this.stopAll().finally(() => process.exit(130)); };
  constructor(private readonly stateFile: string) {}
  add(pid: number): void {
    if (this.pids.length === 0) {
      process.once('SIGINT', this.onSignal);
      process.once('SIGTERM', this.onSignal);
    }
    this.pids.push(pid);
    writeFileSync(this.stateFile, JSON.stringify(this.pids));
  }
  /** Stops every recorded process; a second caller waits for the stop already under way. */
  stopAll(): Promise<void> {
    this.stopping ??= this.stopNow().finally(() => { this.stopping = null; });
    return this.stopping;
  }
  private async stopNow(): Promise<void> {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    // Metastore (started last) first, then MariaDB, which gets time for a clean shutdown.
    const pids = this.pids.splice(0).reverse();
    for (const pid of pids) await stopProcess(pid, 60_000);
    rmSync(this.stateFile, { force: true });
  }
}

async function startServers(hiveVersion: string, heap: readonly string[], processes: ProcessSet): Promise<void> {
  const dir = workDir(hiveVersion);
  const spec = mysqlSpec(hiveVersion);
  processes.add(await startMariadb(spec));
  const { pid } = await startMetastore({
    version: hiveVersion, port: LARGE_TABLE_METASTORE_PORT,
    jdbcUrl: `jdbc:mysql://127.0.0.1:${spec.port}/${metastoreDatabase(hiveVersion)}`, ...HIVE_USER,
    warehouseDir: join(dir, 'warehouse'), confDir: join(dir, 'metastore', 'conf'), logFile: join(dir, 'metastore', 'metastore.log'),
    heap,
  });
  processes.add(pid);
}

async function countPartitions(hiveVersion: string): Promise<number> {
  const [rows] = (await runAsRoot(LARGE_TABLE_MYSQL_PORT,
    `SELECT COUNT(*) AS n FROM ${metastoreDatabase(hiveVersion)}.PARTITIONS p JOIN ${metastoreDatabase(hiveVersion)}.TBLS t ON p.TBL_ID = t.TBL_ID ` +
    `JOIN ${metastoreDatabase(hiveVersion)}.DBS d ON t.DB_ID = d.DB_ID WHERE d.NAME = '${DB}' AND t.TBL_NAME = '${TABLE}'`)) as [Array<{ n: number | string }>];
  return Number(rows[0]?.n ?? 0);
}

async function addAllPartitions(spec: TableSpec, partitions: number, log: (line: string) => void): Promise<void> {
  const batches = Math.ceil(partitions / ADD_BATCH);
  let next = 0;
  let done = 0;
  const started = Date.now();
  const worker = async () => {
    const c = await HmsTestClient.connect(LARGE_TABLE_METASTORE_PORT);
    try {
      for (let b = next++; b < batches; b = next++) {
        const values: string[][] = [];
        for (let i = b * ADD_BATCH; i < Math.min(partitions, (b + 1) * ADD_BATCH); i++) values.push(partitionValues(i));
        await c.success('add_partitions', addPartitionsArgs(spec, values));
        done += values.length;
        const seconds = (Date.now() - started) / 1000;
        const rate = done / seconds;
        log(`${done.toLocaleString('en')}/${partitions.toLocaleString('en')} partitions added (${seconds.toFixed(0)} s, ${rate.toFixed(0)}/s, about ${((partitions - done) / rate).toFixed(0)} s left)`);
      }
    } finally {
      c.close();
    }
  };
  await Promise.all(Array.from({ length: Math.min(ADD_PARALLEL, batches) }, worker));
}

/** Builds the table from nothing and archives MariaDB's data dir. Leaves nothing running. */
async function build(hiveVersion: string, partitions: number, mariadb: string, log: (line: string) => void): Promise<Manifest> {
  const dir = workDir(hiveVersion);
  const started = Date.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const processes = new ProcessSet(join(dir, 'pids.json'));
  const spec = mysqlSpec(hiveVersion);
  const database = metastoreDatabase(hiveVersion);
  try {
    log(`building a table of ${partitions.toLocaleString('en')} partitions on Hive ${hiveVersion} (once; cached in ${archiveBase(hiveVersion, partitions)}.*)`);
    processes.add(await startMariadb(spec));
    await createMetastoreUsers(spec.port, database);
    await initSchema({ version: hiveVersion, jdbcUrl: `jdbc:mysql://127.0.0.1:${spec.port}/${database}`, ...HIVE_USER, logFile: join(dir, 'schema.log') });
    log(`MariaDB on ${spec.port} with metastore schema ${hiveVersion} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    const { pid } = await startMetastore({
      version: hiveVersion, port: LARGE_TABLE_METASTORE_PORT, jdbcUrl: `jdbc:mysql://127.0.0.1:${spec.port}/${database}`, ...HIVE_USER,
      warehouseDir: join(dir, 'warehouse'), confDir: join(dir, 'metastore', 'conf'), logFile: join(dir, 'metastore', 'metastore.log'),
      heap: LARGE_TABLE_METASTORE_HEAP,
    });
    processes.add(pid);
    const table = tableSpec(hiveVersion);
    const c = await HmsTestClient.connect(LARGE_TABLE_METASTORE_PORT);
    await c.success('create_database', callArgs.createDatabase(DB, `file://${join(dir, 'warehouse', `${DB}.db`)}`));
    await c.success('create_table', createTableArgs(table));
    c.close();
    log(`metastore on ${LARGE_TABLE_METASTORE_PORT}, ${DB}.${TABLE} created (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    await addAllPartitions(table, partitions, log);
    const counted = await countPartitions(hiveVersion);
    if (counted !== partitions) throw new Error(`built ${counted} partitions instead of ${partitions}`);
    // Binlogs are not needed for reading and name the data dir's absolute path in their index.
    await runAsRoot(spec.port, 'RESET MASTER');
    await processes.stopAll();
    for (const f of readdirSync(join(spec.dir, 'data'))) if (/^binlog\./.test(f)) rmSync(join(spec.dir, 'data', f));
    const buildSeconds = (Date.now() - started) / 1000;
    log(`built in ${buildSeconds.toFixed(0)} s; archiving MariaDB's data dir...`);

    const { ext, tarFlags } = compression();
    const base = archiveBase(hiveVersion, partitions);
    mkdirSync(join(cacheDir(), 'bench'), { recursive: true });
    const tmp = `${base}${ext}.tmp-${process.pid}`;
    execFileSync('tar', [...tarFlags, '-C', spec.dir, '-cf', tmp, 'data'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const manifest: Manifest = {
      layout: layoutStamp(), hiveVersion, partitions, mariadb, db: DB, table: TABLE, builtAt: new Date().toISOString(),
      buildSeconds: Math.round(buildSeconds), archiveBytes: statSync(tmp).size,
    };
    renameSync(tmp, `${base}${ext}`);
    writeFileSync(`${base}.json`, `${JSON.stringify(manifest, null, 2)}\n`);
    // The partitions' directories (made by add_partitions) are not read by anything that follows.
    rmSync(join(dir, 'warehouse'), { recursive: true, force: true });
    log(`archived ${(manifest.archiveBytes / 1048576).toFixed(0)} MiB to ${base}${ext} (${((Date.now() - started) / 1000 - buildSeconds).toFixed(0)} s)`);
    return manifest;
  } catch (err) {
    log(`build failed: ${(err as Error).message}; stopping what it started (logs: ${mariadbLogFile(spec)}, ${join(dir, 'metastore', 'metastore.log')})`);
    await processes.stopAll();
    throw err;
  }
}

/**
 * A running metastore holding `db.table` with `partitions` partitions (built and cached on first
 * use). Fails, naming the port, when 13309 or 19086 is taken.
 */
export async function ensureLargeTable(options: LargeTableOptions): Promise<LargeTable> {
  const hiveVersion = options.hiveVersion ?? process.env.HIVE_VERSION ?? DEFAULT_HIVE_VERSION;
  const partitions = options.partitions;
  const log = options.log ?? ((line: string) => process.stderr.write(`large-table: ${line}\n`));
  if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`partitions must be a positive integer, got ${partitions}`);
  ensureMariadbBinaries();
  await ensurePortsFree(hiveVersion);
  const mariadb = mariadbVersion();

  let builtSeconds: number | null = null;
  let found = findArchive(hiveVersion, partitions, mariadb);
  if (found === null) {
    const started = Date.now();
    await build(hiveVersion, partitions, mariadb, log);
    builtSeconds = (Date.now() - started) / 1000;
    found = findArchive(hiveVersion, partitions, mariadb);
    if (found === null) throw new Error(`the archive of ${partitions} partitions was built but is not found in ${join(cacheDir(), 'bench')}`);
  }

  const started = Date.now();
  const dir = workDir(hiveVersion);
  const spec = mysqlSpec(hiveVersion);
  // A fresh copy of the data dir every time: whatever the last run changed is gone.
  rmSync(join(spec.dir, 'data'), { recursive: true, force: true });
  mkdirSync(spec.dir, { recursive: true });
  const { tarFlags } = found.file.endsWith('.zst') ? { tarFlags: ['-I', 'zstd -T0'] } : found.file.endsWith('.gz') ? { tarFlags: ['-z'] } : { tarFlags: [] };
  execFileSync('tar', [...tarFlags, '-C', spec.dir, '-xf', found.file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const processes = new ProcessSet(join(dir, 'pids.json'));
  try {
    await startServers(hiveVersion, options.metastoreHeap ?? LARGE_TABLE_METASTORE_HEAP, processes);
    const counted = await countPartitions(hiveVersion);
    if (counted !== partitions) throw new Error(`${found.file} holds ${counted} partitions, not ${partitions}; delete it to rebuild`);
  } catch (err) {
    await processes.stopAll();
    throw err;
  }
  const startSeconds = (Date.now() - started) / 1000;
  log(`${DB}.${TABLE} with ${partitions.toLocaleString('en')} partitions on thrift://127.0.0.1:${LARGE_TABLE_METASTORE_PORT} ` +
    `(Hive ${hiveVersion}, MariaDB ${mariadb} on ${LARGE_TABLE_MYSQL_PORT}; unpacked and started in ${startSeconds.toFixed(1)} s)`);
  return {
    hiveVersion, partitions, db: DB, table: TABLE,
    metastorePort: LARGE_TABLE_METASTORE_PORT, metastoreUri: `thrift://127.0.0.1:${LARGE_TABLE_METASTORE_PORT}`,
    mysqlPort: LARGE_TABLE_MYSQL_PORT, metastoreLog: join(dir, 'metastore', 'metastore.log'),
    builtSeconds, startSeconds, archive: found.file,
    stop: () => processes.stopAll(),
  };
}

if (require.main === module) {
  const i = process.argv.indexOf('--partitions');
  const partitions = i >= 0 ? Number(process.argv[i + 1]) : 100_000;
  ensureLargeTable({ partitions })
    .then((t) => t.stop())
    .catch((err: Error) => {
      process.stderr.write(`large-table: ${err.message}\n`);
      process.exit(1);
    });
}
