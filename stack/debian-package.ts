/**
 * Installs the Debian packages the stack needs when one of their binaries is missing (as root), or
 * names the command to run. One place for the apt-get dance the KDC, Redis and HAProxy share.
 */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export function ensureDebianBinary(binary: string | readonly string[], packages: readonly string[], what: string): void {
  const binaries = typeof binary === 'string' ? [binary] : binary;
  const missing = binaries.find((b) => !existsSync(b));
  if (missing === undefined) return;
  const fix = `apt-get install -y ${packages.join(' ')}`;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) throw new Error(`${what} is missing (${missing}); fix: sudo ${fix}`);
  process.stderr.write(`stack: installing ${what} from Debian packages (${packages.join(' ')})...\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const res = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
  if (res.status !== 0 || binaries.some((b) => !existsSync(b))) throw new Error(`could not install ${what} with apt-get; fix: apt-get update && ${fix}`);
}
