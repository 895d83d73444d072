/**
 * The stack's token store: a Redis server from Debian's redis-server package (Valkey's valkey-server
 * speaks the same protocol and is used when it is the one installed), on its own port and
 * directory, keeping nothing on disk (a restart forgets every token, which is safe: see
 * src/consistency/token-store.ts).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianBinary } from './debian-package';
import { spawnDetached, waitForPort } from './process';

const VALKEY = '/usr/bin/valkey-server';
const REDIS = '/usr/bin/redis-server';

export function ensureRedisBinaries(): void {
  if (existsSync(VALKEY)) return;
  ensureDebianBinary(REDIS, ['redis-server'], 'the Redis server (token store)');
}

export function redisLogFile(dir: string): string {
  return join(dir, 'redis.log');
}

/** Starts the server; resolves with its pid once it accepts connections. */
export async function startRedis(port: number, dir: string): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const binary = existsSync(VALKEY) ? VALKEY : REDIS;
  const log = redisLogFile(dir);
  const { pid } = spawnDetached(binary, [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--daemonize', 'no', '--protected-mode', 'yes',
  ], log);
  await waitForPort({ port, pid, what: `token store (${binary})`, logFile: log, timeoutMs: 15_000 });
  return pid;
}
