/**
 * Where the local stack lives: ports, directories, versions. One place, read by the stack itself,
 * tests, benchmarks and the demo.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const DEFAULT_HIVE_VERSION = '3.1.3';

export interface StackLayout {
  readonly workDir: string;
  readonly stateFile: string;
  readonly hiveVersion: string;
  readonly mysql: { readonly primary: number; readonly replica: number; readonly federated: number };
  readonly metastores: { readonly rw: number; readonly ro: number; readonly fed: number; readonly rwKrb: number; readonly roKrb: number };
  /** The MIT Kerberos KDC of the stack's realm (TCP and UDP). */
  readonly kdc: { readonly port: number; readonly dir: string };
  /** The Redis (or Valkey) server that routers share client-mode tokens through. */
  readonly tokenStore: { readonly port: number; readonly dir: string };
}

export const REPO_ROOT = resolve(__dirname, '..');

export function cacheDir(): string {
  return process.env.HMS_ROUTER_CACHE ?? join(homedir(), '.cache', 'hms-router');
}

export function stackLayout(hiveVersion = process.env.HIVE_VERSION ?? DEFAULT_HIVE_VERSION): StackLayout {
  const workDir = process.env.HMS_STACK_DIR ?? join(REPO_ROOT, '.work', 'stack');
  return {
    workDir,
    stateFile: join(workDir, 'state.json'),
    hiveVersion,
    mysql: { primary: 13306, replica: 13307, federated: 13308 },
    metastores: { rw: 19083, ro: 19084, fed: 19085, rwKrb: 19093, roKrb: 19094 },
    kdc: { port: 18888, dir: join(workDir, 'kdc') },
    tokenStore: { port: 16379, dir: join(workDir, 'redis') },
  };
}

/** Each Hive version gets its own metastore database, so switching versions never mixes schemas. */
export function metastoreDatabase(hiveVersion: string): string {
  return `hms_${hiveVersion.replace(/[^0-9A-Za-z]/g, '_')}`;
}
