/**
 * Query engines for the end-to-end tests (test/e2e): a PrestoDB and a Trino server with their Hive
 * connectors, from Maven Central into ~/.cache/hms-router/engines/ ($HMS_ROUTER_CACHE overrides
 * ~/.cache/hms-router), downloaded and unpacked once, then reused. Nothing goes into the repository.
 * Every download is checked against the .sha1 Maven Central publishes next to it; Maven resolves
 * with strict checksums (-C).
 *
 * Versions, and why (what Maven Central serves to this project's machines decides; Java 17):
 * - PrestoDB 0.287, from its server tarball. 0.295 is the first release built for Java 17, but no
 *   release after 0.287 has a server tarball or a Hive plugin there (presto-server: 0.122, 0.283,
 *   0.287; presto-hive-hadoop2: up to 0.287). 0.287 runs on Java 17 with two changes, both here:
 *   the --add-opens flags of `jvmFlags` (Guice and Presto reflect into java.base), and ASM 9.6
 *   instead of the bundled ASM 9.0, which cannot read Java 17 class files (airlift bytecode reads
 *   JDK classes to compute stack frames: "Unsupported class file major version 61" at start).
 *   Presto 0.295 made the same ASM upgrade when it moved to Java 17.
 * - Trino 416, assembled from Maven Central artifacts (stack/engines/pom.xml says how). Trino 435
 *   is the last release on Java 17, but no trino-server tarball between 368 and 470 is served, and
 *   for 435 its HDFS module (trino-hdfs, which serves file:// locations) is not served at all (436
 *   and later are built for Java 21). 416 is the newest release whose Hive plugin with HDFS
 *   (trino-hive-hadoop2-416.zip) is served; it runs on Java 17 unchanged.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { download, type Downloaded } from './download';
import { cacheDir } from './layout';

export type EngineName = 'presto' | 'trino';

/** What stack/engine-server.ts needs to run an installed engine. */
export interface EngineInstall {
  readonly name: EngineName;
  readonly version: string;
  /** The unpacked engine: lib/, plugin/ (and launcher/ for Trino). */
  readonly home: string;
  readonly mainClass: string;
  /** -cp entries. */
  readonly classpath: readonly string[];
  readonly pluginDir: string;
  /** JVM flags besides the heap (which the server sets). */
  readonly jvmFlags: readonly string[];
  /** Server properties this engine needs beyond the common single-node ones. */
  readonly serverProperties: Readonly<Record<string, string>>;
  /** The Hive catalog for a metastore URI, with what lets the engine write and drop. */
  hiveCatalog(metastoreUri: string): Record<string, string>;
  /** Client protocol header prefix: X-Presto-User or X-Trino-User. */
  readonly headerPrefix: 'X-Presto' | 'X-Trino';
  /** What this install did: nothing (cached), or how long downloading and unpacking took. */
  readonly timing: InstallTiming;
}

export interface InstallTiming {
  readonly cached: boolean;
  /** Downloads and Maven resolution. */
  readonly downloadMs: number;
  /** Extraction, patching, compiling the Trino launcher. */
  readonly unpackMs: number;
  /** Bytes downloaded by this process (Maven's own downloads not counted). */
  readonly downloadedBytes: number;
}

export const ENGINE_VERSIONS: Readonly<Record<EngineName, string>> = { presto: '0.287', trino: '416' };

/** Bumped whenever what an install puts into its directory changes: older installs are redone. */
const LAYOUT_REVISION = 1;
const ASM_VERSION = '9.6';
const ASM_ARTIFACTS = ['asm', 'asm-analysis', 'asm-tree', 'asm-util'];

/** Flags PrestoDB 0.287 needs on Java 17 (the set Presto 0.295 ships for Java 17). */
const PRESTO_ADD_OPENS = [
  'java.base/java.io', 'java.base/java.lang', 'java.base/java.lang.ref', 'java.base/java.lang.reflect',
  'java.base/java.net', 'java.base/java.nio', 'java.base/java.security', 'java.base/javax.security.auth',
  'java.base/javax.security.auth.login', 'java.base/java.text', 'java.base/java.util',
  'java.base/java.util.concurrent', 'java.base/java.util.concurrent.atomic', 'java.base/java.util.regex',
  'java.base/jdk.internal.loader', 'java.base/sun.nio.ch', 'java.base/sun.security.action',
  'java.security.jgss/sun.security.krb5',
].map((p) => `--add-opens=${p}=ALL-UNNAMED`);

function mavenRepo(): string {
  return (process.env.HMS_ROUTER_MAVEN_REPO ?? 'https://repo1.maven.org/maven2').replace(/\/$/, '');
}

function artifactUrl(group: string, artifact: string, version: string, ext: string): string {
  return `${mavenRepo()}/${group.replace(/\./g, '/')}/${artifact}/${version}/${artifact}-${version}.${ext}`;
}

export function enginesDir(): string {
  return path.join(cacheDir(), 'engines');
}

// ------------------------------------------------------------------ commands

/** Runs a command to completion; output goes to `logFile`; rejects naming the log on failure. */
function run(cmd: string, args: readonly string[], logFile: string, cwd?: string): Promise<void> {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = fs.openSync(logFile, 'a');
  fs.writeSync(fd, `# ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
  return new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], cwd });
    fs.closeSync(fd);
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT'
        ? new Error(`${cmd} was not found on PATH; fix: apt-get install -y openjdk-17-jdk-headless maven tar`)
        : err);
    });
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')} ... failed (${code ?? signal}); see ${logFile}`));
    });
  });
}

function pomPath(): string {
  const candidates = [
    path.join(__dirname, 'engines', 'pom.xml'), // stack/engines.ts run by tsx or vitest
    path.join(__dirname, '..', '..', 'stack', 'engines', 'pom.xml'), // dist/stack/engines.js
  ];
  const found = candidates.find((c) => fs.existsSync(c));
  if (found === undefined) throw new Error(`stack/engines/pom.xml not found (looked in ${candidates.join(', ')})`);
  return found;
}

// ------------------------------------------------------------------ installs

interface InstallRecord {
  readonly name: EngineName;
  readonly version: string;
  readonly revision: number;
  readonly sources: readonly string[];
  readonly installedAt: string;
}

interface Builder {
  /** Fills `tmp` (an empty directory); returns the URLs it used. */
  build(tmp: string, downloads: string, logFile: string, log: (line: string) => void,
    account: (d: Downloaded) => void, phase: (p: 'download' | 'unpack') => void): Promise<string[]>;
}

const PRESTO_BUILDER: Builder = {
  async build(tmp, downloads, logFile, log, account, phase) {
    const version = ENGINE_VERSIONS.presto;
    const url = artifactUrl('com.facebook.presto', 'presto-server', version, 'tar.gz');
    const asmUrls = ASM_ARTIFACTS.map((a) => artifactUrl('org.ow2.asm', a, ASM_VERSION, 'jar'));
    const tarball = await download(url, path.join(downloads, path.basename(url)), log);
    account(tarball);
    const asmJars = await Promise.all(asmUrls.map((u) => download(u, path.join(downloads, path.basename(u)), log)));
    asmJars.forEach(account);
    phase('unpack');
    // Only what a single-node server with the Hive connector needs: lib/ and the hive-hadoop2 plugin
    // (the tarball holds every connector, 2 GB).
    const top = `presto-server-${version}`;
    await run('tar', ['-xzf', tarball.file, '-C', tmp, '--strip-components=1', '--wildcards',
      `${top}/lib/*`, `${top}/plugin/hive-hadoop2/*`, `${top}/NOTICE`], logFile);
    for (const dir of [path.join(tmp, 'lib'), path.join(tmp, 'plugin', 'hive-hadoop2')]) {
      const old = fs.readdirSync(dir).filter((f) => ASM_ARTIFACTS.some((a) => new RegExp(`^${a}-\\d[\\d.]*\\.jar$`).test(f)));
      if (old.length !== ASM_ARTIFACTS.length) throw new Error(`expected the 4 ASM jars in ${dir}, found ${old.join(', ') || 'none'}`);
      for (const f of old) fs.rmSync(path.join(dir, f));
      for (const jar of asmJars) fs.copyFileSync(jar.file, path.join(dir, path.basename(jar.file)));
    }
    // The tarball is 2 GB and the unpacked part is what is reused: keep only that.
    fs.rmSync(tarball.file, { force: true });
    return [url, ...asmUrls];
  },
};

const TRINO_BUILDER: Builder = {
  async build(tmp, downloads, logFile, log, account, phase) {
    const version = ENGINE_VERSIONS.trino;
    const started = Date.now();
    await run('mvn', ['-q', '-B', '-C', '-f', pomPath(), `-Dtrino.version=${version}`, 'dependency:copy-dependencies',
      '-DincludeScope=runtime', `-DoutputDirectory=${path.join(tmp, 'lib')}`], logFile);
    log(`resolved trino-main ${version} and its runtime dependencies with Maven in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const url = artifactUrl('io.trino', 'trino-hive-hadoop2', version, 'zip');
    const zip = await download(url, path.join(downloads, path.basename(url)), log);
    account(zip);
    phase('unpack');
    const unpacked = path.join(tmp, 'plugin-unpack');
    fs.mkdirSync(unpacked, { recursive: true });
    await run('jar', ['xf', zip.file], logFile, unpacked);
    fs.mkdirSync(path.join(tmp, 'plugin'), { recursive: true });
    fs.renameSync(path.join(unpacked, `trino-hive-hadoop2-${version}`), path.join(tmp, 'plugin', 'hive'));
    fs.rmSync(unpacked, { recursive: true, force: true });
    fs.rmSync(zip.file, { force: true });
    const source = path.join(path.dirname(pomPath()), 'TrinoServerMain.java');
    await run('javac', ['-nowarn', '-cp', `${path.join(tmp, 'lib')}/*`, '-d', path.join(tmp, 'launcher'), source], logFile);
    return [`mvn io.trino:trino-main:${version} (runtime)`, url];
  },
};

const BUILDERS: Record<EngineName, Builder> = { presto: PRESTO_BUILDER, trino: TRINO_BUILDER };

function describeInstall(name: EngineName, home: string, timing: InstallTiming): EngineInstall {
  const version = ENGINE_VERSIONS[name];
  if (name === 'presto') {
    return {
      name, version, home, timing,
      mainClass: 'com.facebook.presto.server.PrestoServer',
      classpath: [path.join(home, 'lib', '*')],
      pluginDir: path.join(home, 'plugin'),
      jvmFlags: PRESTO_ADD_OPENS,
      serverProperties: { 'discovery-server.enabled': 'true', 'query.max-total-memory-per-node': '768MB' },
      hiveCatalog: (uri) => ({
        'connector.name': 'hive-hadoop2',
        'hive.metastore.uri': uri,
        'hive.non-managed-table-writes-enabled': 'true',
        // Presto's default ("legacy") Hive security refuses DROP TABLE and ADD COLUMN unless allowed.
        'hive.allow-drop-table': 'true',
        'hive.allow-add-column': 'true',
      }),
      headerPrefix: 'X-Presto',
    };
  }
  return {
    name, version, home, timing,
    mainClass: 'TrinoServerMain',
    classpath: [path.join(home, 'launcher'), path.join(home, 'lib', '*')],
    pluginDir: path.join(home, 'plugin'),
    jvmFlags: [],
    serverProperties: {},
    hiveCatalog: (uri) => ({
      'connector.name': 'hive',
      'hive.metastore.uri': uri,
      'hive.non-managed-table-writes-enabled': 'true',
      // Trino 416's default ("legacy") refuses DROP TABLE and ADD COLUMN.
      'hive.security': 'allow-all',
    }),
    headerPrefix: 'X-Trino',
  };
}

function readRecord(home: string): InstallRecord | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(home, 'install.json'), 'utf8')) as InstallRecord;
  } catch {
    return null;
  }
}

const installs = new Map<EngineName, Promise<EngineInstall>>();

/**
 * The engine, installed: from the cache when a complete install of this version and layout is
 * there, else downloaded, checked and unpacked into a temporary directory that is renamed into
 * place when complete (a failed or interrupted install leaves nothing that looks usable).
 */
export function installEngine(name: EngineName, log: (line: string) => void = () => {}): Promise<EngineInstall> {
  let p = installs.get(name);
  if (p === undefined) {
    p = doInstall(name, log);
    installs.set(name, p);
    p.catch(() => installs.delete(name));
  }
  return p;
}

async function doInstall(name: EngineName, log: (line: string) => void): Promise<EngineInstall> {
  const version = ENGINE_VERSIONS[name];
  const root = enginesDir();
  const home = path.join(root, `${name}-${version}`);
  const record = readRecord(home);
  if (record !== null && record.version === version && record.revision === LAYOUT_REVISION) {
    return describeInstall(name, home, { cached: true, downloadMs: 0, unpackMs: 0, downloadedBytes: 0 });
  }
  const started = Date.now();
  log(`installing ${name} ${version} into ${home} (first use: downloads from Maven Central)`);
  const tmp = path.join(root, `${name}-${version}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const logFile = path.join(root, `${name}-${version}-install.log`);
  fs.writeFileSync(logFile, '');
  let bytes = 0;
  let unpackStarted = 0;
  try {
    const sources = await BUILDERS[name].build(tmp, path.join(root, 'downloads'), logFile, log,
      (d) => { bytes += d.bytes; }, (p) => { if (p === 'unpack') unpackStarted = Date.now(); });
    const rec: InstallRecord = { name, version, revision: LAYOUT_REVISION, sources, installedAt: new Date().toISOString() };
    fs.writeFileSync(path.join(tmp, 'install.json'), `${JSON.stringify(rec, null, 2)}\n`);
    fs.rmSync(home, { recursive: true, force: true });
    fs.renameSync(tmp, home);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`installing ${name} ${version} failed: ${(err as Error).message}`);
  }
  const done = Date.now();
  const timing = { cached: false, downloadMs: (unpackStarted || done) - started, unpackMs: unpackStarted ? done - unpackStarted : 0, downloadedBytes: bytes };
  log(`${name} ${version} installed in ${((done - started) / 1000).toFixed(1)} s (download ${(timing.downloadMs / 1000).toFixed(1)} s, unpack ${(timing.unpackMs / 1000).toFixed(1)} s)`);
  return describeInstall(name, home, timing);
}
