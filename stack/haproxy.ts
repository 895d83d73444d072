/**
 * HAProxy from Debian's haproxy package, in TCP mode, for tests and benchmarks that put several
 * router processes behind a load balancer. Not part of `stack up`: its backends are the routers a
 * test starts, so the test starts HAProxy with them and stops it after.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianBinary } from './debian-package';
import { portIsFree, spawnDetached, stopProcess, waitForPort } from './process';

const HAPROXY = '/usr/sbin/haproxy';

export interface HaproxyOptions {
  readonly listenPort: number;
  /** Ports of the routers on 127.0.0.1. */
  readonly backendPorts: readonly number[];
  /** roundrobin (no affinity) or source (client affinity by address). */
  readonly balance: 'roundrobin' | 'source';
  /** Send the PROXY protocol v2 header, so routers see the client's own address. */
  readonly sendProxy: boolean;
  readonly dir: string;
}

export interface RunningHaproxy {
  readonly pid: number;
  readonly config: string;
  readonly log: string;
  stop(): Promise<void>;
}

export function haproxyConfig(o: HaproxyOptions): string {
  return [
    'global',
    '  maxconn 4096',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 120s',
    '  timeout server 120s',
    'frontend routers',
    `  bind 127.0.0.1:${o.listenPort}`,
    '  default_backend routers',
    'backend routers',
    `  balance ${o.balance}`,
    ...o.backendPorts.map((port, i) => `  server router${i + 1} 127.0.0.1:${port}${o.sendProxy ? ' send-proxy-v2' : ''}`),
    '',
  ].join('\n');
}

export async function startHaproxy(o: HaproxyOptions): Promise<RunningHaproxy> {
  ensureDebianBinary(HAPROXY, ['haproxy'], 'HAProxy');
  // A balancer left running on the port would take the connections meant for this one.
  if (!(await portIsFree(o.listenPort))) throw new Error(`port ${o.listenPort} (HAProxy) is in use; stop the process holding it`);
  mkdirSync(o.dir, { recursive: true });
  const config = join(o.dir, 'haproxy.cfg');
  const log = join(o.dir, 'haproxy.log');
  writeFileSync(config, haproxyConfig(o));
  // -db: stay in the foreground (the stack tracks the pid); -W off.
  const { pid } = spawnDetached(HAPROXY, ['-db', '-f', config], log);
  await waitForPort({ port: o.listenPort, pid, what: 'HAProxy', logFile: log, timeoutMs: 10_000 });
  return { pid, config, log, stop: () => stopProcess(pid, 5000) };
}
