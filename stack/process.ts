/**
 * Background processes the stack owns: started detached in their own process group, tracked by pid,
 * stopped by pid. Nothing here knows about MariaDB or Hive.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';

export interface SpawnedProcess {
  readonly pid: number;
}

/** Starts `command` detached (own process group), stdout and stderr appended to `logFile`. */
export function spawnDetached(command: string, args: readonly string[], logFile: string,
  env: NodeJS.ProcessEnv = process.env, cwd?: string): SpawnedProcess {
  const out = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out], env, cwd });
    if (child.pid === undefined) throw new Error(`could not start ${command}: see ${logFile}`);
    child.unref();
    return { pid: child.pid };
  } finally {
    closeSync(out);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch {
    return false;
  }
}

/** A detached child that exited but was not reaped still answers kill(0); /proc tells the truth. */
function isZombie(pid: number): boolean {
  const statFile = `/proc/${pid}/stat`;
  if (!existsSync(statFile)) return false;
  try {
    const stat = readFileSync(statFile, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** SIGTERM to the process group, SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopProcess(pid: number, graceMs = 20_000): Promise<void> {
  if (!isAlive(pid)) return;
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) {
    signalGroup(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(50);
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try { process.kill(pid, signal); } catch { /* already gone */ }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portAccepts(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** True when we could bind the port ourselves, i.e. nobody else holds it. */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * Waits until `port` accepts connections. Fails early when the process `pid` exits, with a message
 * that points at its log.
 */
export async function waitForPort(opts: { port: number; pid: number; what: string; logFile: string; timeoutMs: number }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await portAccepts(opts.port)) return;
    if (!isAlive(opts.pid)) {
      throw new Error(`${opts.what} exited during start-up; see ${opts.logFile}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`${opts.what} did not open port ${opts.port} within ${opts.timeoutMs / 1000} s; see ${opts.logFile}`);
    }
    await sleep(250);
  }
}
