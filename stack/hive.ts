/**
 * Apache Hive standalone metastores for the test stack: classpath resolution through Maven,
 * schema initialisation with Hive's own schema tool, and starting a metastore JVM.
 *
 * Versions: 3.1.3 (what Presto/Trino/Waggle Dance are built against; the default) and 4.1.0.
 * Everything comes from Maven Central through stack/hive/pom.xml into ~/.m2; what is derived
 * from it (classpath.txt, the extracted schema scripts) lives in ~/.cache/hms-router/hive-<v>/
 * ($HMS_ROUTER_CACHE overrides ~/.cache/hms-router). Nothing is written into the repository.
 *
 * Java: `java` on PATH ($HMS_ROUTER_JAVA overrides), Java 17 or later. Maven: `mvn` on PATH.
 *
 * Hive 4.1.0 caveat: hive-standalone-metastore-server 4.1.0 and its bin tarball (which holds
 * the schema scripts) were never published to Maven Central. The server classes come from the
 * shaded hive-exec 4.1.0 (see the pom), and the newest MySQL scripts on Central are 4.0.1's
 * (schema 4.0.0). So for 4.1.0 the 4.1.0 schema tool initialises schema 4.0.0 (-initSchemaTo)
 * and the metastore runs with schema verification off. What 4.1.0's own upgrade script would
 * change on top (HIVE-27725: TAB_COL_STATS/PART_COL_STATS lose their CAT_NAME/DB_NAME/
 * TABLE_NAME(/PARTITION_NAME) columns; HIVE-28292, HIVE-28828: index changes) is absent: the
 * metadata calls work, but writing column statistics is expected to fail on 4.1.0.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

/** JDBC driver class of MySQL Connector/J 8 (see stack/hive/pom.xml for why not MariaDB's). */
export const JDBC_DRIVER = 'com.mysql.cj.jdbc.Driver';

/** Writes the metastore's notification log (Hive 3: hive-hcatalog-server-extensions, see the pom). */
export const DB_NOTIFICATION_LISTENER = 'org.apache.hive.hcatalog.listener.DbNotificationListener';

const START_TIMEOUT_MS = 120_000;
/** The metastore JVM: small heap (three run on a 2-core machine), small initial heap so RSS stays low. */
const METASTORE_HEAP = ['-Xms64m', '-Xmx512m'];
const SCHEMATOOL_HEAP = ['-Xmx256m'];
/** Environment variable the generated configs read the JDBC password from (never written to disk). */
const PASSWORD_ENV = 'HMS_JDBC_PASSWORD';

interface HiveLine {
  /** Maven profile of stack/hive/pom.xml. */
  readonly profile: 'hive3' | 'hive4';
  readonly schemaToolClass: string;
  readonly metastoreClass: string;
}

function hiveLine(version: string): HiveLine {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!m) {
    throw new Error(`Hive version '${version}' is not of the form X.Y.Z (e.g. 3.1.3 or 4.1.0)`);
  }
  if (m[1] === '3') {
    return {
      profile: 'hive3',
      schemaToolClass: 'org.apache.hadoop.hive.metastore.tools.MetastoreSchemaTool',
      metastoreClass: 'org.apache.hadoop.hive.metastore.HiveMetaStore',
    };
  }
  if (m[1] === '4') {
    return {
      profile: 'hive4',
      schemaToolClass: 'org.apache.hadoop.hive.metastore.tools.schematool.MetastoreSchemaTool',
      metastoreClass: 'org.apache.hadoop.hive.metastore.HiveMetaStore',
    };
  }
  throw new Error(`Hive ${version} is not supported: use a 3.x (3.1.3) or 4.x (4.1.0) version`);
}

/**
 * JVM flags Java 17 needs to run the metastore, its schema tool and Hive's client.
 *
 * None, for both lines, found by starting with none and running schema init, metastore start
 * and the probe scenario (test/java/HmsProbe.java: create/alter/drop database, table,
 * thousands of partitions, set_ugi, buffered and framed transport) on Java 17.0.15 with the
 * JDBC driver and Hadoop versions of stack/hive/pom.xml: nothing failed, and the metastore
 * logs have no InaccessibleObjectException / illegal-access error.
 *  - 3.1.3 (built for Java 8): Hive, DataNucleus 4.1, Hadoop 3.1.0 and Thrift 0.9.3 only use
 *    public JDK API on these paths. Things that would need --add-opens on Java 17 (Kerberos/
 *    SASL via sun.security.krb5, Hadoop's native/Unsafe buffer tricks) are not used with
 *    SASL off and a file:// warehouse.
 *  - 4.1.0 is built for Java 17.
 * If a future failure demands a flag, add it here with the error text it fixes.
 */
export function jvmFlags(version: string): string[] {
  hiveLine(version);
  return [];
}

/**
 * JVM flags of a Kerberos client or server of Hive 3.1 on Java 17: the realm's krb5.conf, and
 * access to sun.security.krb5, which Hadoop 3.1's KerberosUtil reads by reflection. Without the
 * export a kerberized metastore stops at start with "Can't get Kerberos realm", caused by
 * "class org.apache.hadoop.security.authentication.util.KerberosUtil cannot access class
 * sun.security.krb5.Config (in module java.security.jgss) because module java.security.jgss does
 * not export sun.security.krb5 to unnamed module" (seen on 17.0.15 with Hadoop 3.1.0).
 */
export function kerberosJvmFlags(krb5Conf: string): string[] {
  return [
    `-Djava.security.krb5.conf=${krb5Conf}`,
    '--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED',
  ];
}

// ------------------------------------------------------------------ paths and small helpers

function cacheRoot(): string {
  return process.env.HMS_ROUTER_CACHE || path.join(os.homedir(), '.cache', 'hms-router');
}

function versionDir(version: string): string {
  return path.join(cacheRoot(), `hive-${version}`);
}

function pomPath(): string {
  const candidates = [
    path.join(__dirname, 'hive', 'pom.xml'), // stack/hive.ts run by tsx
    path.join(__dirname, '..', '..', 'stack', 'hive', 'pom.xml'), // dist/stack/hive.js
  ];
  for (const c of candidates) {
    if (fs.existsSync(c)) return c;
  }
  throw new Error(`stack/hive/pom.xml not found (looked in ${candidates.join(', ')})`);
}

/** Fingerprint of the pom: a cached classpath/script extraction made from another pom is redone. */
function pomStamp(version: string): string {
  return createHash('sha256').update(fs.readFileSync(pomPath())).update(`\0${version}`).digest('hex');
}

function stampMatches(file: string, stamp: string): boolean {
  try {
    return fs.readFileSync(file, 'utf8').trim() === stamp;
  } catch {
    return false;
  }
}

function javaBin(): string {
  return process.env.HMS_ROUTER_JAVA || 'java';
}

function toolMissing(cmd: string): Error {
  if (cmd === 'mvn') {
    return new Error('mvn was not found on PATH; fix: apt-get install -y maven (Maven 3.8+ resolves the Hive metastore jars)');
  }
  return new Error(`${cmd} was not found; fix: apt-get install -y openjdk-17-jdk-headless (or set HMS_ROUTER_JAVA to a Java 17+ binary)`);
}

const ANSI = /\u001b\[[0-9;]*m/g;

/** The most telling line of a tool's output, for a one-line error. */
function telltale(output: string): string {
  const lines = output.replace(ANSI, '').split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const pick = lines.find((l) => /^\[ERROR\]/.test(l) && !/^\[ERROR\]\s*(->|$|Re-run|To see|For more|\[Help)/.test(l))
    ?? [...lines].reverse().find((l) => /(Exception|Error|FAILED|failed)/.test(l) && !/^at /.test(l))
    ?? lines[lines.length - 1]
    ?? '';
  const oneLine = pick.replace(/^\[ERROR\]\s*/, '');
  return oneLine.length > 300 ? `${oneLine.slice(0, 297)}...` : oneLine;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs a command to completion with stdout+stderr appended to `logFile`. */
function runLogged(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = fs.openSync(logFile, 'a');
  return new Promise<RunResult>((resolve, reject) => {
    let child;
    try {
      child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env });
    } catch (err) {
      reject(err);
      return;
    } finally {
      fs.closeSync(fd); // the child has its own copy
    }
    let settled = false;
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      reject(err.code === 'ENOENT' ? toolMissing(cmd) : err);
    });
    child.once('close', (code, signal) => {
      if (settled) return;
      settled = true;
      resolve({ code, signal });
    });
  });
}

function readTail(file: string, bytes = 64 * 1024): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, bytes);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

function mvnArgs(version: string, goalArgs: string[]): string[] {
  const line = hiveLine(version);
  return ['-q', '-B', '-f', pomPath(), `-Dhive.version=${version}`, `-P${line.profile}`, ...goalArgs];
}

/** Moves a freshly built temp file/dir into place; if another process got there first, keeps theirs. */
function publish(tmp: string, target: string): void {
  try {
    fs.renameSync(tmp, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && fs.existsSync(target)) {
      fs.rmSync(tmp, { recursive: true, force: true });
      return;
    }
    throw err;
  }
}

// ------------------------------------------------------------------ classpath

/**
 * Checks that a jar is a complete zip: local header magic at the start, and an end-of-central-
 * directory record at the end whose central directory fits the file (a truncated download
 * fails this). Returns null when fine, else what is wrong.
 */
function zipProblem(file: string): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'missing' : `unreadable (${code ?? String(err)})`;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 22) return `truncated (${size} bytes)`;
    const head = Buffer.alloc(4);
    fs.readSync(fd, head, 0, 4, 0);
    if (head.readUInt32LE(0) !== 0x04034b50) return 'not a zip (bad header)';
    const len = Math.min(size, 22 + 0xffff);
    const tail = Buffer.alloc(len);
    fs.readSync(fd, tail, 0, len, size - len);
    for (let i = len - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) !== 0x06054b50) continue;
      const cdSize = tail.readUInt32LE(i + 12);
      const cdOffset = tail.readUInt32LE(i + 16);
      const eocdPos = size - len + i;
      if (cdSize === 0xffffffff || cdOffset === 0xffffffff) return null; // zip64: trust the record
      if (cdOffset + cdSize > eocdPos) return 'corrupt (central directory out of bounds)';
      const sig = Buffer.alloc(4);
      if (cdSize > 0) {
        fs.readSync(fd, sig, 0, 4, cdOffset);
        if (sig.readUInt32LE(0) !== 0x02014b50) return 'corrupt (bad central directory)';
      }
      return null;
    }
    return 'truncated (no end of central directory)';
  } finally {
    fs.closeSync(fd);
  }
}

/** Maven keeps <jar>.sha1 next to each download; a mismatch means a corrupt file. */
function sha1Problem(file: string): string | null {
  let expected: string;
  try {
    expected = fs.readFileSync(`${file}.sha1`, 'utf8').trim().slice(0, 40).toLowerCase();
  } catch {
    return null;
  }
  if (!/^[0-9a-f]{40}$/.test(expected)) return null;
  const actual = createHash('sha1').update(fs.readFileSync(file)).digest('hex');
  return actual === expected ? null : `corrupt (sha1 ${actual}, Maven recorded ${expected})`;
}

function jarError(version: string, jar: string, problem: string): Error {
  return new Error(`Hive ${version} classpath: ${jar} is ${problem}; fix: rm -r '${path.dirname(jar)}' and rerun, so Maven downloads it again`);
}

/** Returns the first jar that is missing, or throws for a present but broken one. */
function verifyJars(version: string, jars: string[], checksums: boolean): string | null {
  for (const jar of jars) {
    const problem = zipProblem(jar) ?? (checksums ? sha1Problem(jar) : null);
    if (problem === 'missing') return jar;
    if (problem) throw jarError(version, jar, problem);
  }
  return null;
}

async function resolveClasspath(version: string): Promise<string> {
  const dir = versionDir(version);
  const file = path.join(dir, 'classpath.txt');
  const stampFile = path.join(dir, 'classpath.pom-sha256');
  const stamp = pomStamp(version);
  fs.mkdirSync(dir, { recursive: true });
  if (fs.existsSync(file) && stampMatches(stampFile, stamp)) {
    const cp = fs.readFileSync(file, 'utf8').trim();
    const jars = cp.split(path.delimiter).filter((j) => j.length > 0);
    if (jars.length > 0 && verifyJars(version, jars, false) === null) {
      return cp;
    }
    // a jar went missing from ~/.m2 (cleaned?): resolve again, Maven downloads what is gone
  }
  const tmp = path.join(dir, `classpath.txt.tmp-${process.pid}`);
  const log = path.join(dir, 'mvn-classpath.log');
  fs.writeFileSync(log, '');
  const res = await runLogged('mvn', mvnArgs(version, ['dependency:build-classpath', `-Dmdep.outputFile=${tmp}`]), log);
  if (res.code !== 0 || !fs.existsSync(tmp)) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`mvn could not resolve Hive ${version}'s metastore classpath: ${telltale(readTail(log))} (full output: ${log})`);
  }
  const cp = fs.readFileSync(tmp, 'utf8').trim();
  const jars = cp.split(path.delimiter).filter((j) => j.length > 0);
  const missing = verifyJars(version, jars, true);
  if (missing) {
    fs.rmSync(tmp, { force: true });
    throw jarError(version, missing, 'missing right after resolution');
  }
  fs.renameSync(tmp, file);
  fs.writeFileSync(stampFile, `${stamp}\n`);
  return cp;
}

const classpaths = new Map<string, Promise<string>>();

/**
 * The metastore runtime classpath of Hive `version` (jars in ~/.m2, ':'-separated). Resolved by
 * Maven once into ~/.cache/hms-router/hive-<version>/classpath.txt and reused; every jar is
 * checked to be a complete zip each time.
 */
export function hiveClasspath(version: string): Promise<string> {
  let p = classpaths.get(version);
  if (!p) {
    p = resolveClasspath(version);
    classpaths.set(version, p);
    p.catch(() => classpaths.delete(version));
  }
  return p;
}

// ------------------------------------------------------------------ schema scripts

interface SchemaPlan {
  /** METASTORE_HOME for the schema tool: holds scripts/metastore/upgrade/mysql/. */
  readonly home: string;
  /** Schema version the tool initialises. */
  readonly schemaVersion: string;
  /** Version to pass as -initSchemaTo when the scripts lack the tool's own version, else null. */
  readonly initSchemaTo: string | null;
  /** Whether metastore.schema.verification can be on (scripts of the release's own schema). */
  readonly verification: boolean;
}

async function extractScripts(version: string): Promise<string> {
  const dir = versionDir(version);
  const home = path.join(dir, 'metastore-home');
  const marker = path.join(home, 'scripts', 'metastore', 'upgrade', 'mysql', 'upgrade.order.mysql');
  const stampFile = path.join(dir, 'metastore-home.pom-sha256');
  const stamp = pomStamp(version);
  if (fs.existsSync(marker) && stampMatches(stampFile, stamp)) return home;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `metastore-home.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  const log = path.join(dir, 'mvn-scripts.log');
  fs.writeFileSync(log, '');
  const res = await runLogged('mvn', mvnArgs(version, ['dependency:unpack@schema-scripts', `-Dhms.scripts.dir=${tmp}`]), log);
  const tmpMarker = path.join(tmp, 'scripts', 'metastore', 'upgrade', 'mysql', 'upgrade.order.mysql');
  if (res.code !== 0 || !fs.existsSync(tmpMarker)) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`mvn could not extract Hive ${version}'s MySQL schema scripts: ${telltale(readTail(log))} (full output: ${log})`);
  }
  fs.rmSync(path.join(tmp, '.markers'), { recursive: true, force: true });
  if (!stampMatches(stampFile, stamp)) {
    // extracted from another pom (or half-written): replace it
    fs.rmSync(home, { recursive: true, force: true });
  }
  publish(tmp, home);
  fs.writeFileSync(stampFile, `${stamp}\n`);
  return home;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const plans = new Map<string, Promise<SchemaPlan>>();

function schemaPlan(version: string): Promise<SchemaPlan> {
  let p = plans.get(version);
  if (!p) {
    p = (async () => {
      const home = await extractScripts(version);
      const mysqlDir = path.join(home, 'scripts', 'metastore', 'upgrade', 'mysql');
      const available = fs.readdirSync(mysqlDir)
        .map((f) => /^hive-schema-(\d+\.\d+\.\d+)\.mysql\.sql$/.exec(f)?.[1])
        .filter((v): v is string => v !== undefined)
        .sort(compareVersions);
      // The schema tool of X.Y.Z initialises schema X.Y.0 (3.1.3 -> 3.1.0, 4.1.0 -> 4.1.0).
      const [major, minor] = version.split('.');
      const own = `${major}.${minor}.0`;
      if (available.includes(own)) {
        return { home, schemaVersion: own, initSchemaTo: null, verification: true };
      }
      const older = available.filter((v) => compareVersions(v, own) < 0);
      const best = older[older.length - 1];
      if (!best) {
        throw new Error(`no MySQL schema script for Hive ${version} (or older) in ${mysqlDir}`);
      }
      return { home, schemaVersion: best, initSchemaTo: best, verification: false };
    })();
    plans.set(version, p);
    p.catch(() => plans.delete(version));
  }
  return p;
}

// ------------------------------------------------------------------ configuration files

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function siteXml(props: Array<[string, string]>): string {
  const body = props
    .map(([k, v]) => `  <property>\n    <name>${xmlEscape(k)}</name>\n    <value>${xmlEscape(v)}</value>\n  </property>\n`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<!-- written by stack/hive.ts; rewritten on every start -->\n<configuration>\n${body}</configuration>\n`;
}

/** Connection settings. The password is read from the JVM's environment by Hadoop's ${env.X}
 *  substitution: an empty <value/> would read as unset, and Hive would then use its default
 *  password "mine". */
function connectionProps(jdbcUrl: string, user: string): Array<[string, string]> {
  return [
    ['javax.jdo.option.ConnectionURL', jdbcUrl],
    ['javax.jdo.option.ConnectionDriverName', JDBC_DRIVER],
    ['javax.jdo.option.ConnectionUserName', user],
    ['javax.jdo.option.ConnectionPassword', `\${env.${PASSWORD_ENV}}`],
  ];
}

function log4j2Properties(level: string): string {
  return [
    '# written by stack/hive.ts: everything to stdout, which the stack sends to the log file',
    'status = WARN',
    'name = hms-router-metastore',
    'appender.console.type = Console',
    'appender.console.name = console',
    'appender.console.target = SYSTEM_OUT',
    'appender.console.layout.type = PatternLayout',
    'appender.console.layout.pattern = %d{ISO8601} %-5p [%t] %c{1}: %m%n',
    `rootLogger.level = ${level}`,
    'rootLogger.appenderRef.console.ref = console',
    'logger.datanucleus.name = DataNucleus',
    'logger.datanucleus.level = WARN',
    'logger.datanucleus2.name = org.datanucleus',
    'logger.datanucleus2.level = WARN',
    '',
  ].join('\n');
}

function childEnv(password: string, confDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra, [PASSWORD_ENV]: password, METASTORE_CONF_DIR: confDir };
  // keep site files of a local Hive/Hadoop installation out of these JVMs
  delete env.HIVE_CONF_DIR;
  delete env.HADOOP_CONF_DIR;
  return env;
}

// ------------------------------------------------------------------ schema

interface JdbcTarget {
  host: string;
  port: number;
  database: string;
}

function parseJdbcUrl(jdbcUrl: string): JdbcTarget {
  const m = /^jdbc:(?:mysql|mariadb):\/\/([^/:?,]+)(?::(\d+))?\/([^?;]+)/.exec(jdbcUrl);
  if (!m || !m[1] || !m[3]) {
    throw new Error(`unsupported JDBC URL '${jdbcUrl}': expected jdbc:mysql://HOST[:PORT]/DATABASE[?...]`);
  }
  return { host: m[1], port: m[2] ? Number(m[2]) : 3306, database: decodeURIComponent(m[3]) };
}

/** Whether the metastore schema exists (table VERSION present); creates the database if missing. */
async function schemaExists(jdbcUrl: string, user: string, password: string): Promise<boolean> {
  return withMysql(jdbcUrl, user, password, async (conn, target) => {
    const [rows] = await conn.query(
      'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [target.database, 'VERSION'],
    );
    if (Number((rows as Array<{ n: number | string }>)[0]?.n ?? 0) > 0) return true;
    const [dbs] = await conn.query('SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [target.database]);
    if (Number((dbs as Array<{ n: number | string }>)[0]?.n ?? 0) === 0) {
      await conn.query(`CREATE DATABASE \`${target.database.replace(/`/g, '``')}\``);
    }
    return false;
  });
}

/** Runs `use` on a connection to the MySQL of `jdbcUrl`, closed afterwards; a failed connect names the server. */
async function withMysql<T>(jdbcUrl: string, user: string, password: string,
  use: (conn: import('mysql2/promise').Connection, target: ReturnType<typeof parseJdbcUrl>) => Promise<T>): Promise<T> {
  const target = parseJdbcUrl(jdbcUrl);
  // imported lazily: only schema initialisation and the listener check need a MySQL client here
  const mysql = await import('mysql2/promise');
  let conn;
  try {
    conn = await mysql.createConnection({ host: target.host, port: target.port, user, password, connectTimeout: 10_000 });
  } catch (err) {
    throw new Error(`cannot connect to MySQL/MariaDB at ${target.host}:${target.port} as ${user}: ${(err as Error).message}`);
  }
  try {
    return await use(conn, target);
  } finally {
    await conn.end().catch(() => undefined);
  }
}

/**
 * Whether the MySQL of `jdbcUrl` takes writes (@@GLOBAL.read_only off): the stack's replica runs
 * read-only, the primary and the federated server do not.
 */
async function mysqlWritable(jdbcUrl: string, user: string, password: string): Promise<boolean> {
  return withMysql(jdbcUrl, user, password, async (conn) => {
    const [rows] = await conn.query('SELECT @@GLOBAL.read_only AS ro');
    return Number((rows as Array<{ ro: number | string }>)[0]?.ro ?? 0) === 0;
  });
}

/**
 * Creates the metastore schema in the database of `jdbcUrl` with Hive's schema tool
 * (MetastoreSchemaTool -dbType mysql -initSchema, scripts from the release's bin tarball on
 * Maven Central). Does nothing if the schema exists (table VERSION present). The database is
 * created if missing. Tool output goes to `logFile`.
 */
export async function initSchema(opts: { version: string; jdbcUrl: string; user: string; password: string; logFile: string }): Promise<void> {
  const line = hiveLine(opts.version);
  const [cp, plan] = await Promise.all([hiveClasspath(opts.version), schemaPlan(opts.version)]);
  if (await schemaExists(opts.jdbcUrl, opts.user, opts.password)) return;

  const confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-schematool-'));
  try {
    fs.writeFileSync(path.join(confDir, 'metastore-site.xml'), siteXml(connectionProps(opts.jdbcUrl, opts.user)));
    fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
    fs.appendFileSync(opts.logFile, `# ${new Date().toISOString()} Hive ${opts.version} schema tool: init schema ${plan.schemaVersion} in ${opts.jdbcUrl}\n`);
    const command = plan.initSchemaTo ? ['-initSchemaTo', plan.initSchemaTo] : ['-initSchema'];
    const args = [
      ...jvmFlags(opts.version), ...SCHEMATOOL_HEAP,
      '-cp', cp, line.schemaToolClass,
      '-dbType', 'mysql', ...command,
      '-url', opts.jdbcUrl, '-driver', JDBC_DRIVER, '-userName', opts.user,
    ];
    const res = await runLogged(javaBin(), args, opts.logFile, childEnv(opts.password, confDir, { METASTORE_HOME: plan.home }));
    if (res.code !== 0) {
      throw new Error(`Hive ${opts.version} schema tool failed (exit ${res.code ?? res.signal}) on ${opts.jdbcUrl}: ${telltale(readTail(opts.logFile))}; see ${opts.logFile}`);
    }
  } finally {
    fs.rmSync(confDir, { recursive: true, force: true });
  }
  if (!(await schemaExists(opts.jdbcUrl, opts.user, opts.password))) {
    throw new Error(`Hive ${opts.version} schema tool exited 0 but ${opts.jdbcUrl} has no VERSION table; see ${opts.logFile}`);
  }
}

// ------------------------------------------------------------------ metastore process

function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A kerberized metastore: SASL (GSSAPI for Kerberos clients, DIGEST-MD5 for delegation tokens) on
 * its Thrift port, logged in from its keytab, with Hadoop proxy users allowed to impersonate.
 */
export interface MetastoreKerberos {
  /** The metastore's own principal, e.g. hive/localhost@HMS.TEST. */
  readonly principal: string;
  readonly keytab: string;
  /** The krb5.conf of the realm (-Djava.security.krb5.conf). */
  readonly krb5Conf: string;
  /** Short names allowed to impersonate any user from any host (hadoop.proxyuser.<name>.*). */
  readonly proxyUsers: readonly string[];
}

function metastoreProps(opts: {
  version: string; port: number; jdbcUrl: string; user: string; warehouseDir: string;
  framed: boolean; verification: boolean; bindHost: string; kerberos?: MetastoreKerberos;
  /** The metastore's MySQL takes writes (not a read-only replica): it keeps the notification log. */
  writableMysql: boolean;
}): Array<[string, string]> {
  const line = hiveLine(opts.version);
  const props: Array<[string, string]> = [
    ...connectionProps(opts.jdbcUrl, opts.user),
    ['metastore.thrift.port', String(opts.port)],
    // honoured by 4.x; 3.1.3 always binds the wildcard address
    ['metastore.thrift.bind.host', opts.bindHost],
    ['metastore.warehouse.dir', pathToFileURL(path.resolve(opts.warehouseDir)).href],
    // binary protocol, buffered (or framed) transport, no SASL, set_ugi honoured
    ['metastore.thrift.compact.protocol.enabled', 'false'],
    ['metastore.thrift.framed.transport.enabled', String(opts.framed)],
    ...saslProps(opts.kerberos),
    ['metastore.schema.verification', String(opts.verification)],
    ['datanucleus.schema.autoCreateAll', 'false'],
    // as in the conf/metastore-site.xml both standalone bin tarballs ship: the default proxy
    // (org.apache.hadoop.hive.ql.optimizer.ppr.PartitionExpressionForMetastore) is Hive-QL code,
    // and the default "always" task list names QL-side tasks
    ['metastore.expression.proxy', 'org.apache.hadoop.hive.metastore.DefaultPartitionExpressionProxy'],
    ['metastore.task.threads.always', 'org.apache.hadoop.hive.metastore.events.EventCleanerTask'],
  ];
  if (opts.kerberos !== undefined) props.push(...securityProps(opts.kerberos));
  if (opts.writableMysql && line.profile === 'hive3') {
    // The notification log (NOTIFICATION_LOG) that hms-router's change feed reads. A transactional
    // listener runs inside the change's own JDO transaction, so the event row commits (or rolls
    // back) with the change, at the same GTID. Only where the MySQL takes writes: a metastore on the
    // read-only replica must not write events (it reads the primary's, replicated), and its
    // listener's cleaner thread would fail every interval. Hive 4: see stack/hive/pom.xml.
    props.push(['metastore.transactional.event.listeners', DB_NOTIFICATION_LISTENER]);
  }
  if (line.profile === 'hive4') {
    // the 4.1.0 default list minus org.apache.iceberg.mr.hive.metastore.task.IcebergHouseKeeperService,
    // which lives in hive-iceberg-handler ("class not found" at every start otherwise)
    props.push(['metastore.task.threads.remote', [
      'org.apache.hadoop.hive.metastore.txn.service.AcidHouseKeeperService',
      'org.apache.hadoop.hive.metastore.txn.service.CompactionHouseKeeperService',
      'org.apache.hadoop.hive.metastore.txn.service.AcidTxnCleanerService',
      'org.apache.hadoop.hive.metastore.txn.service.AcidOpenTxnsCounterService',
      'org.apache.hadoop.hive.metastore.MaterializationsRebuildLockCleanerTask',
      'org.apache.hadoop.hive.metastore.PartitionManagementTask',
    ].join(',')]);
    props.push(['metastore.server.thrift.transport.mode', 'binary']);
  }
  return props;
}

function saslProps(kerberos: MetastoreKerberos | undefined): Array<[string, string]> {
  if (kerberos === undefined) return [['metastore.sasl.enabled', 'false'], ['metastore.execute.setugi', 'true']];
  return [
    ['metastore.sasl.enabled', 'true'],
    ['metastore.kerberos.principal', kerberos.principal],
    ['metastore.kerberos.keytab.file', kerberos.keytab],
    // Tokens live in each metastore's memory (the default): a metastore on a read-only replica
    // cannot keep them in MySQL, so a client asks every metastore for its own token.
    ['metastore.cluster.delegation.token.store.class', 'org.apache.hadoop.hive.metastore.security.MemoryTokenStore'],
  ];
}

/** Hadoop security settings: read by UserGroupInformation and ProxyUsers from core-site.xml. */
function securityProps(kerberos: MetastoreKerberos): Array<[string, string]> {
  const props: Array<[string, string]> = [
    ['hadoop.security.authentication', 'kerberos'],
    ['hadoop.security.authorization', 'true'],
    // authentication only (no integrity or privacy layer): the QOP hms-router speaks
    ['hadoop.rpc.protection', 'authentication'],
  ];
  for (const name of kerberos.proxyUsers) {
    props.push([`hadoop.proxyuser.${name}.hosts`, '*'], [`hadoop.proxyuser.${name}.groups`, '*']);
  }
  return props;
}

/**
 * Writes the metastore's config into `confDir` (metastore-site.xml, metastore-log4j2.properties),
 * starts the metastore JVM detached in its own process group (stdout/stderr appended to
 * `logFile`, the child unref'd), and resolves once its Thrift port accepts TCP connections.
 * Rejects with a one-line error naming the log file if the process exits first or 120 s pass
 * (then the process group is killed). Stop it with stopMetastore(pid) (or kill -- -pid).
 */
export async function startMetastore(opts: {
  version: string; port: number; jdbcUrl: string; user: string; password: string;
  warehouseDir: string; confDir: string; logFile: string;
  /** Framed instead of buffered Thrift transport (default false). */
  framed?: boolean;
  /** Address 4.x binds to (default 127.0.0.1); 3.1.3 binds all addresses whatever this says. */
  bindHost?: string;
  /** Root log level of the metastore (default INFO, as Hive ships). */
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** JVM heap flags (default -Xms64m -Xmx512m, the stack's small footprint). */
  heap?: readonly string[];
  /** Kerberos (SASL) on the Thrift port; plain Thrift with set_ugi when absent. */
  kerberos?: MetastoreKerberos;
}): Promise<{ pid: number }> {
  const line = hiveLine(opts.version);
  const [cp, plan] = await Promise.all([hiveClasspath(opts.version), schemaPlan(opts.version)]);
  if (await canConnect(opts.port)) {
    throw new Error(`port ${opts.port} already accepts connections: another process listens there, so a metastore cannot start on it`);
  }
  fs.mkdirSync(opts.confDir, { recursive: true });
  fs.mkdirSync(opts.warehouseDir, { recursive: true });
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const props = metastoreProps({
    version: opts.version, port: opts.port, jdbcUrl: opts.jdbcUrl, user: opts.user,
    warehouseDir: opts.warehouseDir, framed: opts.framed ?? false, verification: plan.verification,
    bindHost: opts.bindHost ?? '127.0.0.1', kerberos: opts.kerberos,
    writableMysql: await mysqlWritable(opts.jdbcUrl, opts.user, opts.password),
  });
  fs.writeFileSync(path.join(opts.confDir, 'metastore-site.xml'), siteXml(props));
  // Hadoop's UserGroupInformation and ProxyUsers read core-site.xml from the classpath, not the
  // metastore's own file.
  const coreSite = path.join(opts.confDir, 'core-site.xml');
  if (opts.kerberos !== undefined) fs.writeFileSync(coreSite, siteXml(securityProps(opts.kerberos)));
  else fs.rmSync(coreSite, { force: true });
  const log4j = path.join(opts.confDir, 'metastore-log4j2.properties');
  fs.writeFileSync(log4j, log4j2Properties(opts.logLevel ?? 'INFO'));

  const args = [
    ...jvmFlags(opts.version), ...(opts.heap ?? METASTORE_HEAP),
    `-Dlog4j.configurationFile=${log4j}`, `-Dlog4j2.configurationFile=${log4j}`,
    ...(opts.kerberos ? kerberosJvmFlags(opts.kerberos.krb5Conf) : []),
    '-cp', `${path.resolve(opts.confDir)}${path.delimiter}${cp}`,
    line.metastoreClass, '-p', String(opts.port),
  ];
  fs.appendFileSync(opts.logFile, `# ${new Date().toISOString()} starting Hive ${opts.version} metastore on port ${opts.port} (${opts.framed ? 'framed' : 'buffered'})\n`);
  const fd = fs.openSync(opts.logFile, 'a');
  const child = spawn(javaBin(), args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: childEnv(opts.password, path.resolve(opts.confDir)),
    cwd: path.resolve(opts.confDir),
  });
  fs.closeSync(fd);

  // written by the child's callbacks (an object, so TypeScript does not narrow it away)
  const proc: { exited: { code: number | null; signal: NodeJS.Signals | null } | null; error: NodeJS.ErrnoException | null } =
    { exited: null, error: null };
  child.once('error', (err: NodeJS.ErrnoException) => { proc.error = err; });
  child.once('exit', (code, signal) => { proc.exited = { code, signal }; });
  child.unref();

  const where = `Hive ${opts.version} metastore on port ${opts.port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (proc.error) {
      throw proc.error.code === 'ENOENT' ? toolMissing(javaBin()) : proc.error;
    }
    if (proc.exited) {
      const e = proc.exited;
      throw new Error(`${where} exited (${e.code ?? e.signal}) before opening its port: ${telltale(readTail(opts.logFile))}; see ${opts.logFile}`);
    }
    if (child.pid !== undefined && await canConnect(opts.port)) {
      await sleep(100);
      if (proc.exited) continue; // the port belongs to someone else after all
      return { pid: child.pid };
    }
    if (Date.now() > deadline) {
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      throw new Error(`${where} did not open its port within ${START_TIMEOUT_MS / 1000} s (killed it); see ${opts.logFile}`);
    }
    await sleep(200);
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Stops a metastore started by startMetastore: SIGTERM to its process group, SIGKILL after `graceMs`. */
export async function stopMetastore(pid: number, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  killGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) killGroup(pid, 'SIGKILL');
  const killDeadline = Date.now() + 5_000;
  while (isAlive(pid) && Date.now() < killDeadline) await sleep(50);
}
