/**
 * Waggle Dance (github.com/ExpediaGroup/waggle-dance), the open-source Hive Metastore federation
 * proxy, run on this machine's Java 17 in front of the stack's metastores, for benchmarks that
 * compare it with the router. Installed from Maven Central into ~/.cache/hms-router/waggle-dance/
 * ($HMS_ROUTER_CACHE overrides ~/.cache/hms-router), checked against the published SHA-1, never
 * into the repository.
 *
 * What is installed, and why:
 * - Version 3.13.3, the newest release whose runnable artifact Maven Central serves here. The
 *   project's bin tarball (com.hotels:waggle-dance:<v>:bin:tgz, assembled by the `waggle-dance`
 *   module since 3.x) is not served at all: com/hotels/waggle-dance/maven-metadata.xml lists only
 *   2.0.0, a `pom` parent with no bin.tgz, and waggle-dance-3.13.x-bin.tgz answers 404.
 *   waggle-dance-core goes up to 3.13.4 but is a plain library jar; the runnable Spring Boot jar,
 *   com.hotels:waggle-dance-boot:<v>:exec:jar, is served for 3.7.0, 3.10.11, 3.13.1 and 3.13.3.
 * - That exec jar is exactly what the bin tarball ships (as service/waggle-dance-core-latest-exec.jar)
 *   and runs with `java -jar` (its bin/waggle-dance.sh does the same), so it is kept whole and not
 *   unpacked: exploding it and running `-cp BOOT-INF/lib/*` changes the order of its 359 nested
 *   jars, and start-up then fails (two Hibernate Validator versions: "HV000030: No validator could
 *   be found for constraint 'javax.validation.constraints.NotBlank'"; JAXB's Injector wants
 *   java.lang opened).
 *
 * Java 17 (the release is built for Java 8): no --add-opens is needed. The one failure on Java 17 is
 * Spring Boot auto-configuring Groovy templates because Hive drags groovy-all 2.4.4 onto the class
 * path; Groovy 2.4 then reflects into every JDK class and start-up fails with
 *   "Error creating bean with name 'groovyMarkupConfigurer' ... InaccessibleObjectException: Unable
 *    to make private java.lang.Class(java.lang.ClassLoader,java.lang.Class) accessible: module
 *    java.base does not "opens java.lang" to unnamed module".
 * --add-opens=java.base/java.lang only moves it on ("does not opens java.lang.reflect"), and with
 * that one too it fails on "module jdk.proxy2 does not opens jdk.proxy2" (a module generated at run
 * time, which no command line flag can open). Waggle Dance does not use Groovy templates, so the
 * auto-configuration is switched off instead (-Dspring.autoconfigure.exclude=...). With that and no
 * other flag, on Java 17.0.15 against the stack's Hive 3.1.3 metastores, start-up and every call tried
 * work (get_all_databases, get_database, get_all_tables, get_table, get_partition_names,
 * get_partitions_by_names on primary and federated databases; set_ugi, create/drop_database,
 * add_partitions on the primary), and the log has no InaccessibleObjectException.
 *
 * Behaviour worth knowing when comparing it with the router:
 * - Thrift: TThreadPoolServer with buffered transport, binary protocol; framed only when
 *   hive.metastore.thrift.framed.transport.enabled is set (`transport: 'framed'`), and then only
 *   framed, towards its metastores too. A framed client against the buffered server hangs (no
 *   reply, no error).
 * - Backend connections are per client connection, not pooled: every new client connection makes it
 *   open a connection to every metastore and call get_all_databases on each (it builds the MANUAL
 *   database mapping per client connection), so connecting costs ~40 ms through it against ~2 ms
 *   to a metastore directly; calls on an open connection then reuse those backend connections.
 *   They stay open after the client disconnects until a monitor running every
 *   `disconnect-connection-delay` (`disconnectDelaySeconds`; Waggle Dance's default 5 minutes)
 *   closes them, i.e. for one to two delays.
 * - MANUAL database resolution: names are not prefixed; a federated metastore serves the databases
 *   listed in its mapped-databases under their own names, the primary serves everything else.
 * - It logs one "WD Audit" INFO line per call (its shipped logging), and opens a Spring Boot web
 *   port (its REST API) besides the Thrift port: `restPort`, default an ephemeral port on 127.0.0.1.
 */
import * as fs from 'node:fs';
import { connect } from 'node:net';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { download } from './download';
import { cacheDir } from './layout';
import { isAlive, portIsFree, sleep, spawnDetached, stopProcess } from './process';

export const WAGGLE_DANCE_VERSION = '3.13.3';

/** The runnable Spring Boot jar of the release (see the header for why not the bin tarball). */
const ARTIFACT = { group: 'com.hotels', artifact: 'waggle-dance-boot', classifier: 'exec', ext: 'jar' } as const;

/** Bumped whenever what an install puts into its directory changes: older installs are redone. */
const LAYOUT_REVISION = 1;

/**
 * Java 17 needs no --add-opens for Waggle Dance 3.13.3; this is the one flag it needs instead (why:
 * the header of this file).
 */
export const WAGGLE_DANCE_JVM_FLAGS: readonly string[] = [
  '-Dspring.autoconfigure.exclude=org.springframework.boot.autoconfigure.groovy.template.GroovyTemplateAutoConfiguration',
];

const DEFAULT_HEAP = '512m';
const DEFAULT_START_TIMEOUT_MS = 180_000;
const ACCEPTED_BUT_FAILING_MS = 30_000;

export interface WaggleDanceInstall {
  readonly version: string;
  /** cacheDir()/waggle-dance/waggle-dance-<version>: lib/<exec jar>, install.json. */
  readonly home: string;
  /** The exec jar, run with java -jar. */
  readonly jar: string;
  /** Where it came from. */
  readonly url: string;
  /** True when the install was already there (nothing downloaded). */
  readonly cached: boolean;
}

export interface WaggleDanceMetastore {
  readonly name: string;
  /** thrift://host:port (several comma-separated are allowed, as in Hive). */
  readonly uri: string;
}

export interface WaggleDanceOptions {
  /** Thrift port Waggle Dance listens on (all addresses: it cannot be bound to one). */
  readonly port: number;
  /** The primary metastore: serves every database no federated metastore maps. */
  readonly primary: WaggleDanceMetastore & {
    /** Default READ_AND_WRITE_AND_CREATE (writes pass, like the router's rw side); Waggle Dance's own default is READ_ONLY. */
    readonly accessControlType?: 'READ_ONLY' | 'READ_AND_WRITE_AND_CREATE';
  };
  /**
   * Federated metastores (read only), each serving its mapped databases under their own names. A
   * mapped database that also exists on the primary is refused on every client connection
   * ("Database clash, found 'x' to be mapped for the federated metastore 'y' already present in the
   * primary database"): startWaggleDance then fails.
   */
  readonly federated: ReadonlyArray<WaggleDanceMetastore & { readonly mappedDatabases: readonly string[] }>;
  /** stdout and stderr of the JVM (Waggle Dance logs to the console), appended. */
  readonly logFile: string;
  /** Gets waggle-dance-server.yml and waggle-dance-federation.yml; the JVM's working directory. */
  readonly workDir: string;
  /**
   * Thrift transport (default buffered). Waggle Dance applies hive.metastore.thrift.framed.transport.enabled
   * to its own server and to its metastore clients alike: framed needs framed metastores too (against
   * the stack's buffered ones every call fails with "MetastoreUnavailableException: Client
   * waggledance-<name> is not available").
   */
  readonly transport?: 'buffered' | 'framed';
  /** Port of Waggle Dance's REST API (Spring Boot web server) on 127.0.0.1; default 0, an ephemeral port. */
  readonly restPort?: number;
  /** -Xmx (default 512m: a 2-core machine shared with the stack). */
  readonly heap?: string;
  /** How long after a client disconnects its backend connections are closed (Waggle Dance's default: 300 s). */
  readonly disconnectDelaySeconds?: number;
  /** Default 180 s (start-up took 5 s on the idle 2-core machine, 25-75 s while benchmarks loaded it). */
  readonly startTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface WaggleDanceServer {
  readonly pid: number;
  /** From spawning the JVM until a get_all_databases through it answered. */
  readonly startMs: number;
  readonly serverConfig: string;
  readonly federationConfig: string;
}

export function waggleDanceDir(): string {
  return path.join(cacheDir(), 'waggle-dance');
}

export function waggleDanceUrl(version = WAGGLE_DANCE_VERSION): string {
  const repo = (process.env.HMS_ROUTER_MAVEN_REPO ?? 'https://repo1.maven.org/maven2').replace(/\/$/, '');
  const { group, artifact, classifier, ext } = ARTIFACT;
  return `${repo}/${group.replace(/\./g, '/')}/${artifact}/${version}/${artifact}-${version}-${classifier}.${ext}`;
}

interface InstallRecord {
  readonly version: string;
  readonly revision: number;
  readonly url: string;
  readonly installedAt: string;
}

let installing: Promise<WaggleDanceInstall> | null = null;

/**
 * Waggle Dance, installed: from the cache when a complete install of this version is there, else
 * downloaded (SHA-1 checked) into cacheDir()/waggle-dance/downloads and moved into
 * cacheDir()/waggle-dance/waggle-dance-<version>/lib, install.json written last. Idempotent.
 */
export function installWaggleDance(log: (line: string) => void = () => {}): Promise<WaggleDanceInstall> {
  if (installing === null) {
    installing = doInstall(log);
    installing.catch(() => { installing = null; });
  }
  return installing;
}

async function doInstall(log: (line: string) => void): Promise<WaggleDanceInstall> {
  const version = WAGGLE_DANCE_VERSION;
  const url = waggleDanceUrl(version);
  const root = waggleDanceDir();
  const home = path.join(root, `waggle-dance-${version}`);
  const jar = path.join(home, 'lib', path.basename(url));
  const record = readRecord(home);
  if (record !== null && record.version === version && record.revision === LAYOUT_REVISION && fs.existsSync(jar)) {
    return { version, home, jar, url, cached: true };
  }
  const started = Date.now();
  log(`installing Waggle Dance ${version} into ${home} (first use: downloads from Maven Central)`);
  const { file } = await download(url, path.join(root, 'downloads', path.basename(url)), log);
  // Assembled in a temporary directory renamed into place when complete: an interrupted install
  // leaves nothing that looks usable.
  const tmp = `${home}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.join(tmp, 'lib'), { recursive: true });
  fs.renameSync(file, path.join(tmp, 'lib', path.basename(jar)));
  const rec: InstallRecord = { version, revision: LAYOUT_REVISION, url, installedAt: new Date().toISOString() };
  fs.writeFileSync(path.join(tmp, 'install.json'), `${JSON.stringify(rec, null, 2)}\n`);
  fs.rmSync(home, { recursive: true, force: true });
  fs.renameSync(tmp, home);
  log(`Waggle Dance ${version} installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { version, home, jar, url, cached: false };
}

function readRecord(home: string): InstallRecord | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(home, 'install.json'), 'utf8')) as InstallRecord;
  } catch {
    return null;
  }
}

function javaBin(): string {
  return process.env.HMS_ROUTER_JAVA || 'java';
}

/**
 * The two YAML files Waggle Dance reads, as objects (keys as Waggle Dance spells them). No
 * database-prefix: MANUAL resolution does not use prefixes (Waggle Dance only defaults one,
 * '<name>_', for PREFIXED resolution).
 */
export function waggleDanceConfig(opts: WaggleDanceOptions): { server: object; federation: object } {
  const configurationProperties: Record<string, string> = {};
  if ((opts.transport ?? 'buffered') === 'framed') configurationProperties['hive.metastore.thrift.framed.transport.enabled'] = 'true';
  const server = {
    port: opts.port,
    verbose: false,
    'database-resolution': 'MANUAL',
    'disconnect-connection-delay': opts.disconnectDelaySeconds ?? 300,
    'disconnect-time-unit': 'SECONDS',
    ...(Object.keys(configurationProperties).length > 0 ? { 'configuration-properties': configurationProperties } : {}),
    // Waggle Dance writes the federation file back on shutdown (adding its defaults) unless told not to.
    'yaml-storage': { 'overwrite-config-on-shutdown': false },
  };
  const federation = {
    'primary-meta-store': {
      name: opts.primary.name,
      'remote-meta-store-uris': opts.primary.uri,
      'access-control-type': opts.primary.accessControlType ?? 'READ_AND_WRITE_AND_CREATE',
    },
    'federated-meta-stores': opts.federated.map((f) => ({
      name: f.name,
      'remote-meta-store-uris': f.uri,
      'access-control-type': 'READ_ONLY',
      'mapped-databases': [...f.mappedDatabases],
    })),
  };
  return { server, federation };
}

/**
 * Writes waggle-dance-server.yml and waggle-dance-federation.yml into `workDir`, starts the JVM
 * detached (own process group, output appended to `logFile`), and resolves once the Thrift port
 * accepts and a get_all_databases through it succeeds. On failure or timeout the JVM is stopped and
 * the error names the log. Stop it with stopWaggleDance(pid).
 */
export async function startWaggleDance(opts: WaggleDanceOptions): Promise<WaggleDanceServer> {
  const log = opts.log ?? (() => {});
  const install = await installWaggleDance(log);
  if (!(await portIsFree(opts.port))) {
    throw new Error(`port ${opts.port} is taken: another process listens there, so Waggle Dance cannot start on it`);
  }
  fs.mkdirSync(opts.workDir, { recursive: true });
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const serverConfig = path.join(opts.workDir, 'waggle-dance-server.yml');
  const federationConfig = path.join(opts.workDir, 'waggle-dance-federation.yml');
  const { server, federation } = waggleDanceConfig(opts);
  fs.writeFileSync(serverConfig, stringify(server));
  fs.writeFileSync(federationConfig, stringify(federation));

  const args = [
    `-Xmx${opts.heap ?? DEFAULT_HEAP}`, '-XX:+ExitOnOutOfMemoryError',
    ...WAGGLE_DANCE_JVM_FLAGS,
    '-jar', install.jar,
    `--server-config=${serverConfig}`, `--federation-config=${federationConfig}`,
    // Spring Boot's web server (the REST API): loopback only, ephemeral port unless told.
    `--server.port=${opts.restPort ?? 0}`, '--server.address=127.0.0.1',
  ];
  fs.appendFileSync(opts.logFile, `# ${new Date().toISOString()} ${javaBin()} ${args.join(' ')}\n`);
  const started = Date.now();
  const { pid } = spawnDetached(javaBin(), args, opts.logFile, { ...process.env }, opts.workDir);
  const what = `Waggle Dance ${install.version} on port ${opts.port}`;
  const timeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  // No plain TCP probe first (waitForPort): every client connection makes Waggle Dance open a
  // connection to each metastore and list its databases, and keep them for disconnect-connection-delay.
  const transport = opts.transport ?? 'buffered';
  let acceptedAt: number | null = null;
  try {
    for (;;) {
      if (!isAlive(pid)) throw new Error(`${what} exited during start-up: ${telltale(opts.logFile)}; see ${opts.logFile}`);
      try {
        await getAllDatabases(opts.port, transport, 10_000);
        break;
      } catch (err) {
        const refused = (err as NodeJS.ErrnoException).code === 'ECONNREFUSED';
        if (!refused) acceptedAt ??= Date.now();
        // Waggle Dance only opens its port once its configuration is loaded, so calls that keep
        // failing after that are a configuration or backend problem: give up after 30 s.
        if (acceptedAt !== null && Date.now() - acceptedAt > ACCEPTED_BUT_FAILING_MS) {
          throw new Error(`${what} accepts connections but get_all_databases through it fails (${(err as Error).message}): ${telltale(opts.logFile)}; see ${opts.logFile}`);
        }
        if (Date.now() - started > timeoutMs) {
          throw new Error(`${what} did not answer get_all_databases within ${timeoutMs / 1000} s (${(err as Error).message}); see ${opts.logFile}`);
        }
        await sleep(500);
      }
    }
  } catch (err) {
    await stopProcess(pid, 10_000);
    throw err;
  }
  const startMs = Date.now() - started;
  log(`${what} started in ${(startMs / 1000).toFixed(1)} s (pid ${pid})`);
  return { pid, startMs, serverConfig, federationConfig };
}

/** The last root cause Waggle Dance logged (its errors are Spring/Thrift wrappers around it). */
function telltale(logFile: string): string {
  let text: string;
  try {
    const fd = fs.openSync(logFile, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.min(size, 256 * 1024);
      const buf = Buffer.alloc(length);
      fs.readSync(fd, buf, 0, length, size - length);
      text = buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return 'no log';
  }
  const causes = text.split('\n').filter((l) => /^Caused by: |^\S+(Exception|Error): /.test(l));
  return causes.at(-1)?.trim().slice(0, 400) ?? 'no exception in the log';
}

/** SIGTERM to its process group, SIGKILL after `graceMs`; resolves when it is gone. */
export async function stopWaggleDance(pid: number, graceMs = 30_000): Promise<void> {
  await stopProcess(pid, graceMs);
}

// ------------------------------------------------------------------ a real call

/**
 * get_all_databases on 127.0.0.1:port (TBinaryProtocol, strict), on a connection of its own. Resolves
 * with the names; rejects with the metastore's exception text, or on timeout or a closed connection.
 */
export function getAllDatabases(port: number, transport: 'buffered' | 'framed' = 'buffered', timeoutMs = 10_000): Promise<string[]> {
  const method = 'get_all_databases';
  const name = Buffer.from(method);
  const message = Buffer.alloc(4 + 4 + name.length + 4 + 1);
  let o = message.writeUInt32BE(0x80010001, 0); // VERSION_1 | CALL
  o = message.writeInt32BE(name.length, o);
  o += name.copy(message, o);
  o = message.writeInt32BE(1, o); // seqid
  message.writeUInt8(0, o); // empty args struct: STOP
  let request = message;
  if (transport === 'framed') {
    const frameSize = Buffer.alloc(4);
    frameSize.writeUInt32BE(message.length, 0);
    request = Buffer.concat([frameSize, message]);
  }

  return new Promise<string[]>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    const finish = (err: Error | null, dbs?: string[]) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(dbs ?? []);
    };
    const timer = setTimeout(() => finish(new Error(`no reply to ${method} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => socket.write(request));
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error(`connection closed before the reply to ${method}`)));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      let reply: Buffer = received;
      if (transport === 'framed') {
        if (received.length < 4) return;
        const size = received.readUInt32BE(0);
        if (received.length < 4 + size) return;
        reply = received.subarray(4, 4 + size);
      }
      let parsed: { dbs: string[] } | { error: string } | null;
      try {
        parsed = parseGetAllDatabasesReply(reply);
      } catch (err) {
        finish(err as Error);
        return;
      }
      if (parsed === null) return; // more bytes to come
      if ('error' in parsed) finish(new Error(parsed.error));
      else finish(null, parsed.dbs);
    });
  });
}

class Short extends Error {}

/** The reply, or null when `buf` does not hold all of it yet. */
function parseGetAllDatabasesReply(buf: Buffer): { dbs: string[] } | { error: string } | null {
  let pos = 0;
  const need = (n: number) => { if (pos + n > buf.length) throw new Short(); };
  const i32 = () => { need(4); const v = buf.readInt32BE(pos); pos += 4; return v; };
  const u8 = () => { need(1); return buf.readUInt8(pos++); };
  const str = () => { const n = i32(); need(n); const s = buf.toString('utf8', pos, pos + n); pos += n; return s; };
  try {
    const versionAndType = i32();
    if ((versionAndType & 0xffff0000) >>> 0 !== 0x80010000) throw new Error(`not a strict TBinaryProtocol reply (0x${(versionAndType >>> 0).toString(16)})`);
    const type = versionAndType & 0xff;
    const name = str();
    i32(); // seqid
    const fieldType = u8();
    need(2);
    const fieldId = buf.readInt16BE(pos);
    pos += 2;
    if (type === 3) {
      // TApplicationException: 1: message
      return { error: `TApplicationException from ${name}: ${fieldType === 11 && fieldId === 1 ? str() : '(no message)'}` };
    }
    if (type !== 2) throw new Error(`unexpected message type ${type} in the reply to ${name}`);
    if (fieldId === 0 && fieldType === 15) {
      const elemType = u8();
      const size = i32();
      if (elemType !== 11) throw new Error(`get_all_databases returned a list of type ${elemType}`);
      const dbs: string[] = [];
      for (let i = 0; i < size; i++) dbs.push(str());
      return { dbs };
    }
    if (fieldType === 12) {
      // a declared exception (MetaException o1): 1: message
      const t = u8();
      need(2);
      const id = buf.readInt16BE(pos);
      pos += 2;
      return { error: `exception field ${fieldId} from ${name}: ${t === 11 && id === 1 ? str() : '(no message)'}` };
    }
    throw new Error(`unexpected field ${fieldId} (type ${fieldType}) in the reply to ${name}`);
  } catch (err) {
    if (err instanceof Short) return null;
    throw err;
  }
}
