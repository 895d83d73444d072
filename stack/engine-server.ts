/**
 * One single-node engine server (PrestoDB or Trino, installed by stack/engines.ts) for the
 * end-to-end tests: its etc/ generated for this run, a Hive catalog whose metastore is the given
 * URI, started as a child process in its own process group, ready when /v1/info says it is no
 * longer starting, stopped by pid.
 *
 * Everything lives under `workDir` (.work/e2e/<engine>/ in the tests): etc/, data/, server.log and
 * server.pid. A server left running by an interrupted run is stopped at the next start (its pid
 * file names it, and its command line must name this workDir).
 */
import * as fs from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { EngineInstall } from './engines';
import { isAlive, sleep, spawnDetached, stopProcess } from './process';

export interface EngineServerOptions {
  /** thrift://host:port the Hive catalog uses. */
  readonly metastoreUri: string;
  readonly workDir: string;
  /** -Xmx (default 2G: the machine runs one engine at a time next to the stack). */
  readonly heap?: string;
  readonly startTimeoutMs?: number;
  /** Hive catalog properties on top of the engine's own (e.g. Kerberos toward the metastore). */
  readonly catalogExtra?: Readonly<Record<string, string>>;
  /** JVM flags on top of the engine's own (e.g. -Djava.security.krb5.conf). */
  readonly jvmExtra?: readonly string[];
}

export interface EngineServer {
  readonly install: EngineInstall;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly pid: number;
  readonly logFile: string;
  /** From spawning the JVM to /v1/info reporting starting: false. */
  readonly startMs: number;
  stop(): Promise<void>;
}

function properties(values: Readonly<Record<string, string>>): string {
  return `# written by stack/engine-server.ts for this run\n${Object.entries(values).map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter((l) => /ERROR|Exception|Caused by|FAIL/.test(l)).slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Stops a server an earlier, interrupted run left behind in this workDir (only if it is ours). */
async function stopLeftover(pidFile: string, workDir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  let cmdline = '';
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return;
  }
  if (cmdline.includes(path.join(workDir, 'etc'))) await stopProcess(pid);
}

export async function startEngine(install: EngineInstall, opts: EngineServerOptions): Promise<EngineServer> {
  const workDir = path.resolve(opts.workDir);
  const etc = path.join(workDir, 'etc');
  const data = path.join(workDir, 'data');
  const logFile = path.join(workDir, 'server.log');
  const pidFile = path.join(workDir, 'server.pid');
  await stopLeftover(pidFile, workDir);
  fs.rmSync(etc, { recursive: true, force: true });
  fs.rmSync(data, { recursive: true, force: true });
  fs.mkdirSync(path.join(etc, 'catalog'), { recursive: true });
  fs.mkdirSync(data, { recursive: true });

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const node = {
    'node.environment': 'e2e',
    'node.id': `${install.name}-e2e`,
    'node.data-dir': data,
    // Announce and talk to itself on loopback only (not on the machine's other address).
    'node.internal-address': '127.0.0.1',
  };
  fs.writeFileSync(path.join(etc, 'node.properties'), properties(node));
  fs.writeFileSync(path.join(etc, 'config.properties'), properties({
    coordinator: 'true',
    'node-scheduler.include-coordinator': 'true',
    'http-server.http.port': String(port),
    'discovery.uri': url,
    'query.max-memory': '1GB',
    'query.max-memory-per-node': '512MB',
    'plugin.dir': install.pluginDir,
    'catalog.config-dir': path.join(etc, 'catalog'),
    ...install.serverProperties,
  }));
  fs.writeFileSync(path.join(etc, 'catalog', 'hive.properties'), properties({ ...install.hiveCatalog(opts.metastoreUri), ...opts.catalogExtra }));
  fs.writeFileSync(path.join(etc, 'log.properties'), properties({ 'com.facebook.presto': 'INFO', 'io.trino': 'INFO' }));
  const jvm = [
    '-server', `-Xmx${opts.heap ?? '2G'}`, '-XX:+UseG1GC', '-XX:+ExitOnOutOfMemoryError', '-XX:-OmitStackTraceInFastThrow',
    '-Djdk.attach.allowAttachSelf=true', ...install.jvmFlags, ...(opts.jvmExtra ?? []),
  ];
  fs.writeFileSync(path.join(etc, 'jvm.config'), `${jvm.join('\n')}\n`);

  // What bin/launcher does: jvm.config, node.properties as system properties, config and log
  // levels files, the data directory as working directory.
  const args = [
    ...jvm,
    ...Object.entries(node).map(([k, v]) => `-D${k}=${v}`),
    `-Dconfig=${path.join(etc, 'config.properties')}`,
    `-Dlog.levels-file=${path.join(etc, 'log.properties')}`,
    `-Dhmsrouter.engine.version=${install.version}`,
    '-cp', install.classpath.join(path.delimiter),
    install.mainClass,
  ];
  fs.writeFileSync(logFile, `# ${new Date().toISOString()} java ${args.join(' ')}\n`);
  const started = Date.now();
  // The stack's Java (HMS_ROUTER_JAVA overrides the one on PATH, as for the metastores).
  const { pid } = spawnDetached(process.env.HMS_ROUTER_JAVA || 'java', args, logFile, { ...process.env }, data);
  fs.writeFileSync(pidFile, `${pid}\n`);
  const server: EngineServer = {
    install, url, pid, logFile, startMs: 0,
    stop: async () => {
      await stopProcess(pid, 30_000);
      fs.rmSync(pidFile, { force: true });
    },
  };
  const deadline = started + (opts.startTimeoutMs ?? 300_000);
  for (;;) {
    if (!isAlive(pid)) {
      throw new Error(`${install.name} ${install.version} exited during start-up: ${tail(logFile) || 'no error in the log'}; see ${logFile}`);
    }
    if (await isStarted(url)) break;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${install.name} ${install.version} did not finish starting within ${(deadline - started) / 1000} s (stopped it); see ${logFile}`);
    }
    await sleep(500);
  }
  return { ...server, startMs: Date.now() - started };
}

async function isStarted(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v1/info`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return false;
    const info = (await res.json()) as { starting?: boolean };
    return info.starting === false;
  } catch {
    return false;
  }
}
