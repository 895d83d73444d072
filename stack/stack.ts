/**
 * The local real stack: three MariaDB servers (primary, GTID replica, federated), an MIT Kerberos
 * KDC, a Redis server (the routers' shared token store), and five Hive metastores: rw on the primary, ro on the replica, fed on the federated server,
 * and the kerberized rwKrb (primary) and roKrb (replica) with SASL on their ports.
 *
 * `up` starts what is not running (idempotent), `down` stops exactly what the state file lists (by
 * pid), `status` reports every endpoint. A failed `up` stops what it started and names the part that
 * failed and its log.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ensureMariadbBinaries, startMariadb, mariadbLogFile, MariadbSpec } from './mariadb';
import { createMetastoreUsers, startReplication, waitForReplicaToCatchUp, HIVE_USER, HIVE_RO_USER, ROUTER_USER } from './replication';
import { hiveClasspath, initSchema, startMetastore, MetastoreKerberos } from './hive';
import { ensureKdcBinaries, kdcFiles, startKdc, KdcFiles, PRINCIPALS, PrincipalRole } from './kdc';
import { isAlive, portIsFree, stopProcess } from './process';
import { ensureRedisBinaries, redisLogFile, startRedis } from './redis';
import { StackLayout, stackLayout, metastoreDatabase } from './layout';

type MysqlRole = 'primary' | 'replica' | 'federated';
type MetastoreRole = 'rw' | 'ro' | 'fed' | 'rwKrb' | 'roKrb';
const METASTORE_ROLES = ['rw', 'ro', 'fed', 'rwKrb', 'roKrb'] as const;

interface ProcessRecord { readonly pid: number; readonly port: number; readonly log: string }

interface StackState {
  hiveVersion: string;
  mysql: Partial<Record<MysqlRole, ProcessRecord>>;
  metastores: Partial<Record<MetastoreRole, ProcessRecord>>;
  kdc?: ProcessRecord;
  tokenStore?: ProcessRecord;
}

export interface MysqlEndpoint {
  readonly host: string; readonly port: number; readonly user: string; readonly password: string;
  readonly database: string; readonly pid: number | null; readonly up: boolean; readonly log: string;
}
export interface MetastoreEndpoint {
  readonly host: string; readonly port: number; readonly uri: string; readonly mysql: MysqlRole;
  readonly mysqlUser: string; readonly pid: number | null; readonly up: boolean; readonly log: string;
}
export interface KdcEndpoint {
  readonly port: number; readonly pid: number | null; readonly up: boolean; readonly log: string;
  readonly realm: string;
  /** krb5.conf of the realm: KRB5_CONFIG for MIT tools, -Djava.security.krb5.conf for Java. */
  readonly krb5Conf: string;
  /** Keytab files by principal role (stack/kdc.ts PRINCIPALS). */
  readonly keytabs: Record<string, string>;
  /** Full principal names by role. */
  readonly principals: Record<string, string>;
}
export interface TokenStoreEndpoint {
  readonly port: number; readonly pid: number | null; readonly up: boolean; readonly log: string;
  /** consistency.tokenStore.url for routers. */
  readonly url: string;
}
export interface StackStatus {
  readonly running: boolean;
  readonly hiveVersion: string;
  readonly workDir: string;
  readonly warehouse: string;
  readonly mysql: Record<MysqlRole, MysqlEndpoint>;
  readonly metastores: Record<MetastoreRole, MetastoreEndpoint>;
  readonly kdc: KdcEndpoint;
  readonly tokenStore: TokenStoreEndpoint;
  /** The kerberized metastores' service principal (hive/localhost@HMS.TEST). */
  readonly metastorePrincipal: string;
  /** The MySQL account the router uses to read and wait for GTID positions. */
  readonly routerMysqlUser: { readonly user: string; readonly password: string };
}

const METASTORE_ON: Record<MetastoreRole, MysqlRole> = { rw: 'primary', ro: 'replica', fed: 'federated', rwKrb: 'primary', roKrb: 'replica' };
/** Metastores on the replica read with the read-only account. */
const ON_REPLICA: ReadonlySet<MetastoreRole> = new Set(['ro', 'roKrb']);
const KERBERIZED: ReadonlySet<MetastoreRole> = new Set(['rwKrb', 'roKrb']);
const SERVER_ID: Record<MysqlRole, number> = { primary: 1, replica: 2, federated: 3 };

function readState(layout: StackLayout): StackState | null {
  if (!existsSync(layout.stateFile)) return null;
  return JSON.parse(readFileSync(layout.stateFile, 'utf8')) as StackState;
}

function writeState(layout: StackLayout, state: StackState): void {
  mkdirSync(layout.workDir, { recursive: true });
  writeFileSync(layout.stateFile, JSON.stringify(state, null, 2));
}

function mysqlSpec(layout: StackLayout, role: MysqlRole): MariadbSpec {
  return { role, port: layout.mysql[role], serverId: SERVER_ID[role], dir: join(layout.workDir, `mariadb-${role}`), readOnly: role === 'replica' };
}

function warehouseDir(layout: StackLayout): string {
  return join(layout.workDir, 'warehouse');
}

function metastoreDir(layout: StackLayout, role: MetastoreRole): string {
  return join(layout.workDir, `metastore-${role}-${layout.hiveVersion}`);
}

export function status(layout: StackLayout = stackLayout()): StackStatus {
  const state = readState(layout);
  const version = state?.hiveVersion ?? layout.hiveVersion;
  const database = metastoreDatabase(version);
  const mysqlEndpoint = (role: MysqlRole): MysqlEndpoint => {
    const rec = state?.mysql[role];
    const account = role === 'replica' ? HIVE_RO_USER : HIVE_USER;
    return {
      host: '127.0.0.1', port: layout.mysql[role], user: account.user, password: account.password, database,
      pid: rec?.pid ?? null, up: rec ? isAlive(rec.pid) : false, log: mariadbLogFile(mysqlSpec(layout, role)),
    };
  };
  const metastoreEndpoint = (role: MetastoreRole): MetastoreEndpoint => {
    const rec = state?.metastores[role];
    const port = layout.metastores[role];
    // Kerberized metastores are addressed by the host name of their principal (hive/localhost).
    const host = KERBERIZED.has(role) ? 'localhost' : '127.0.0.1';
    return {
      host, port, uri: `thrift://${host}:${port}`, mysql: METASTORE_ON[role],
      mysqlUser: ON_REPLICA.has(role) ? HIVE_RO_USER.user : HIVE_USER.user,
      pid: rec?.pid ?? null, up: rec ? isAlive(rec.pid) : false, log: join(metastoreDir(layout, role), 'metastore.log'),
    };
  };
  const mysql = { primary: mysqlEndpoint('primary'), replica: mysqlEndpoint('replica'), federated: mysqlEndpoint('federated') };
  const metastores = Object.fromEntries(METASTORE_ROLES.map((r) => [r, metastoreEndpoint(r)])) as Record<MetastoreRole, MetastoreEndpoint>;
  const files = kdcFiles(layout.kdc);
  const roles = Object.keys(PRINCIPALS) as PrincipalRole[];
  const kdc: KdcEndpoint = {
    port: layout.kdc.port, pid: state?.kdc?.pid ?? null, up: state?.kdc ? isAlive(state.kdc.pid) : false, log: files.log,
    realm: files.realm, krb5Conf: files.krb5Conf,
    keytabs: Object.fromEntries(roles.map((r) => [r, files.keytab(r)])),
    principals: Object.fromEntries(roles.map((r) => [r, files.principal(r)])),
  };
  const tokenStore: TokenStoreEndpoint = {
    port: layout.tokenStore.port, pid: state?.tokenStore?.pid ?? null, up: state?.tokenStore ? isAlive(state.tokenStore.pid) : false,
    log: redisLogFile(layout.tokenStore.dir), url: `redis://127.0.0.1:${layout.tokenStore.port}`,
  };
  const running = [...Object.values(mysql), ...Object.values(metastores), kdc, tokenStore].every((e) => e.up);
  return {
    running, hiveVersion: version, workDir: layout.workDir, warehouse: `file://${warehouseDir(layout)}`, mysql, metastores, kdc, tokenStore,
    metastorePrincipal: files.principal('metastore'), routerMysqlUser: ROUTER_USER,
  };
}

function ensureJava(): void {
  const res = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (res.error || res.status !== 0) {
    throw new Error('java was not found on PATH; fix: apt-get install -y openjdk-17-jdk-headless (Java 17 runs the metastores)');
  }
}

async function ensurePortFree(port: number, what: string): Promise<void> {
  if (!(await portIsFree(port))) {
    throw new Error(`port ${port} (${what}) is in use by a process the stack did not start; stop that process or run 'npm run stack -- down' if it is an old stack`);
  }
}

/**
 * Starts whatever part of the stack is not running. Returns the status once everything is up.
 * `log` receives one line per step.
 */
export async function up(layout: StackLayout = stackLayout(), log: (line: string) => void = () => {}): Promise<StackStatus> {
  const previous = readState(layout);
  if (previous && previous.hiveVersion !== layout.hiveVersion && anyAlive(previous)) {
    throw new Error(`the stack is running Hive ${previous.hiveVersion}; run 'npm run stack -- down' before starting ${layout.hiveVersion}`);
  }
  const state: StackState = previous && previous.hiveVersion === layout.hiveVersion
    ? previous : { hiveVersion: layout.hiveVersion, mysql: {}, metastores: {} };
  const startedNow: number[] = [];
  const started = Date.now();
  try {
    ensureJava();
    ensureMariadbBinaries();
    ensureKdcBinaries();
    ensureRedisBinaries();
    mkdirSync(warehouseDir(layout), { recursive: true });
    const classpath = hiveClasspath(layout.hiveVersion);
    classpath.catch(() => { /* awaited below; this only keeps an early failure from being unhandled */ });
    const database = metastoreDatabase(layout.hiveVersion);

    // Every port first: a start that cannot finish should not begin.
    for (const role of ['primary', 'replica', 'federated'] as const) {
      const rec = state.mysql[role];
      if (!(rec && isAlive(rec.pid))) await ensurePortFree(layout.mysql[role], `MariaDB ${role}`);
    }
    for (const role of METASTORE_ROLES) {
      const rec = state.metastores[role];
      if (!(rec && isAlive(rec.pid))) await ensurePortFree(layout.metastores[role], `metastore ${role}`);
    }
    if (!(state.kdc && isAlive(state.kdc.pid))) {
      await ensurePortFree(layout.kdc.port, 'Kerberos KDC');
      const pid = await startKdc(layout.kdc);
      startedNow.push(pid);
      state.kdc = { pid, port: layout.kdc.port, log: kdcFiles(layout.kdc).log };
      writeState(layout, state);
      log(`kerberos KDC up on 127.0.0.1:${layout.kdc.port} (realm ${kdcFiles(layout.kdc).realm}, pid ${pid})`);
    }
    if (!(state.tokenStore && isAlive(state.tokenStore.pid))) {
      await ensurePortFree(layout.tokenStore.port, 'token store (Redis)');
      const pid = await startRedis(layout.tokenStore.port, layout.tokenStore.dir);
      startedNow.push(pid);
      state.tokenStore = { pid, port: layout.tokenStore.port, log: redisLogFile(layout.tokenStore.dir) };
      writeState(layout, state);
      log(`token store (Redis) up on 127.0.0.1:${layout.tokenStore.port} (pid ${pid})`);
    }
    const kerberos = metastoreKerberos(kdcFiles(layout.kdc));
    await allOrFirstError((['primary', 'replica', 'federated'] as const).map(async (role) => {
      const rec = state.mysql[role];
      if (rec && isAlive(rec.pid)) return;
      const spec = mysqlSpec(layout, role);
      const pid = await startMariadb(spec);
      startedNow.push(pid);
      state.mysql[role] = { pid, port: spec.port, log: mariadbLogFile(spec) };
      writeState(layout, state);
      log(`mariadb ${role} up on 127.0.0.1:${spec.port} (pid ${pid})`);
    }));
    // Users and the metastore database are created on the primary and reach the replica by replication.
    await startReplication(layout.mysql.primary, layout.mysql.replica);
    await createMetastoreUsers(layout.mysql.primary, database);
    await createMetastoreUsers(layout.mysql.federated, database);
    log('replication primary -> replica running (MASTER_USE_GTID=slave_pos)');

    await classpath;
    const jdbc = (port: number) => `jdbc:mysql://127.0.0.1:${port}/${database}`;
    await Promise.all([
      initSchema({ version: layout.hiveVersion, jdbcUrl: jdbc(layout.mysql.primary), ...HIVE_USER, logFile: join(layout.workDir, `schema-primary-${layout.hiveVersion}.log`) }),
      initSchema({ version: layout.hiveVersion, jdbcUrl: jdbc(layout.mysql.federated), ...HIVE_USER, logFile: join(layout.workDir, `schema-federated-${layout.hiveVersion}.log`) }),
    ]);
    log(`metastore schema ${layout.hiveVersion} ready on primary and federated`);

    const startOne = async (role: MetastoreRole) => {
      const rec = state.metastores[role];
      if (rec && isAlive(rec.pid)) return;
      const port = layout.metastores[role];
      await ensurePortFree(port, `metastore ${role}`);
      const dir = metastoreDir(layout, role);
      mkdirSync(dir, { recursive: true });
      const account = ON_REPLICA.has(role) ? HIVE_RO_USER : HIVE_USER;
      const logFile = join(dir, 'metastore.log');
      const { pid } = await startMetastore({
        version: layout.hiveVersion, port, jdbcUrl: jdbc(layout.mysql[METASTORE_ON[role]]), ...account,
        warehouseDir: warehouseDir(layout), confDir: join(dir, 'conf'), logFile,
        kerberos: KERBERIZED.has(role) ? kerberos : undefined,
      });
      startedNow.push(pid);
      state.metastores[role] = { pid, port, log: logFile };
      writeState(layout, state);
      log(`metastore ${role} up on thrift://127.0.0.1:${port} (pid ${pid})`);
    };
    await allOrFirstError([startOne('rw'), startOne('fed')]);
    // The rw metastore writes its defaults (default database, roles) on first start; the ro one
    // can only read them, so it starts once the replica has them.
    await waitForReplicaToCatchUp(layout.mysql.primary, layout.mysql.replica);
    await allOrFirstError([startOne('ro'), startOne('rwKrb'), startOne('roKrb')]);
    log(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return status(layout);
  } catch (err) {
    log(`start failed: ${(err as Error).message}`);
    log('stopping what this start started...');
    await Promise.all(startedNow.map((pid) => stopProcess(pid)));
    clearDeadRecords(layout, state);
    throw err;
  }
}

/** The kerberized metastores' settings: their principal and keytab, and the router as a proxy user. */
function metastoreKerberos(files: KdcFiles): MetastoreKerberos {
  return {
    principal: files.principal('metastore'),
    keytab: files.keytab('metastore'),
    krb5Conf: files.krb5Conf,
    proxyUsers: [PRINCIPALS.router.name, PRINCIPALS.routerShortLived.name].map((n) => n.split('/')[0]!),
  };
}

/** Like Promise.all, but waits for every start to settle before failing, so cleanup sees all pids. */
async function allOrFirstError(starts: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(starts);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

function anyAlive(state: StackState): boolean {
  return [...Object.values(state.mysql), ...Object.values(state.metastores), state.kdc, state.tokenStore].some((r) => r && isAlive(r.pid));
}

function clearDeadRecords(layout: StackLayout, state: StackState): void {
  for (const role of Object.keys(state.mysql) as MysqlRole[]) {
    const rec = state.mysql[role];
    if (rec && !isAlive(rec.pid)) delete state.mysql[role];
  }
  for (const role of Object.keys(state.metastores) as MetastoreRole[]) {
    const rec = state.metastores[role];
    if (rec && !isAlive(rec.pid)) delete state.metastores[role];
  }
  if (state.kdc && !isAlive(state.kdc.pid)) delete state.kdc;
  if (state.tokenStore && !isAlive(state.tokenStore.pid)) delete state.tokenStore;
  if (anyAlive(state)) writeState(layout, state);
  else rmSync(layout.stateFile, { force: true });
}

/** Stops exactly the processes the state file lists: metastores first, then MariaDB. */
export async function down(layout: StackLayout = stackLayout(), log: (line: string) => void = () => {}): Promise<void> {
  const state = readState(layout);
  if (!state) { log('stack is not running'); return; }
  await Promise.all(Object.entries(state.metastores).map(async ([role, rec]) => {
    if (rec) { await stopProcess(rec.pid); log(`metastore ${role} stopped (pid ${rec.pid})`); }
  }));
  await Promise.all(Object.entries(state.mysql).map(async ([role, rec]) => {
    if (rec) { await stopProcess(rec.pid, 60_000); log(`mariadb ${role} stopped (pid ${rec.pid})`); }
  }));
  if (state.kdc) { await stopProcess(state.kdc.pid); log(`kerberos KDC stopped (pid ${state.kdc.pid})`); }
  if (state.tokenStore) { await stopProcess(state.tokenStore.pid); log(`token store stopped (pid ${state.tokenStore.pid})`); }
  rmSync(layout.stateFile, { force: true });
}
