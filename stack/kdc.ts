/**
 * An MIT Kerberos KDC for the local stack: its own realm, database, krb5.conf and keytabs under
 * <workDir>/kdc, listening on 127.0.0.1 only. Everything comes from Debian's krb5-kdc and
 * krb5-admin-server packages (krb5kdc, kdb5_util, kadmin.local); nothing is downloaded.
 *
 * Principals (all with random keys, exported to one keytab each):
 *   hive/localhost            the kerberized metastores' service principal
 *   hms-router/localhost      the router's own principal (a Hadoop proxy user on the metastores)
 *   hms-router-short/localhost the router's principal with a 20 s ticket lifetime (renewal tests)
 *   alice, bob                test users
 *   trino, presto             the engines' service users
 * Every principal also has a password-less key, so a "wrong keytab" is made by re-keying.
 *
 * Why "localhost" as the host part: MIT's client canonicalises host names (dns_canonicalize_hostname),
 * and this machine's name resolves to 127.0.0.1 under several names; with canonicalisation off and
 * one name used everywhere, the router, Java clients and the engines all ask for the same service
 * principal.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync, appendFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { spawnDetached, waitForPort } from './process';
import { ensureDebianBinary } from './debian-package';

export const REALM = 'HMS.TEST';
export const KDC_HOST = 'localhost';
const KRB5KDC = '/usr/sbin/krb5kdc';
const KDB5_UTIL = '/usr/sbin/kdb5_util';
const KADMIN_LOCAL = '/usr/sbin/kadmin.local';

/** Principals the stack creates, by role: the keytab of each is keytabs/<file>.keytab. */
export const PRINCIPALS = {
  metastore: { name: `hive/${KDC_HOST}`, file: 'hive' },
  router: { name: `hms-router/${KDC_HOST}`, file: 'hms-router' },
  routerShortLived: { name: `hms-router-short/${KDC_HOST}`, file: 'hms-router-short', maxLife: '20 seconds' },
  alice: { name: 'alice', file: 'alice' },
  bob: { name: 'bob', file: 'bob' },
  trino: { name: `trino/${KDC_HOST}`, file: 'trino' },
  presto: { name: `presto/${KDC_HOST}`, file: 'presto' },
} as const;
export type PrincipalRole = keyof typeof PRINCIPALS;

export interface KdcLayout {
  readonly dir: string;
  readonly port: number;
}

export interface KdcFiles {
  readonly realm: string;
  readonly krb5Conf: string;
  readonly kdcConf: string;
  readonly log: string;
  /** The keytab file of a principal role. */
  keytab(role: PrincipalRole): string;
  /** The full principal name (with realm) of a role. */
  principal(role: PrincipalRole): string;
}

export function kdcFiles(layout: KdcLayout): KdcFiles {
  return {
    realm: REALM,
    krb5Conf: join(layout.dir, 'krb5.conf'),
    kdcConf: join(layout.dir, 'kdc.conf'),
    log: join(layout.dir, 'krb5kdc.log'),
    keytab: (role) => join(layout.dir, 'keytabs', `${PRINCIPALS[role].file}.keytab`),
    principal: (role) => `${PRINCIPALS[role].name}@${REALM}`,
  };
}

/**
 * Makes sure the KDC binaries exist. On a fresh machine of this kind they come from Debian's
 * packages; as root we install them, otherwise we say how.
 */
export function ensureKdcBinaries(): void {
  ensureDebianBinary([KRB5KDC, KDB5_UTIL, KADMIN_LOCAL], ['krb5-kdc', 'krb5-admin-server', 'krb5-user'], 'the MIT Kerberos KDC');
}

/** The client configuration every process of the stack uses (KRB5_CONFIG, -Djava.security.krb5.conf). */
export function krb5Conf(port: number): string {
  return [
    '# written by stack/kdc.ts; rewritten on every start',
    '[libdefaults]',
    `  default_realm = ${REALM}`,
    '  dns_lookup_kdc = false',
    '  dns_lookup_realm = false',
    '  dns_canonicalize_hostname = false',
    '  rdns = false',
    // TCP only: one transport for MIT's and Java's clients, no UDP fragment limits.
    '  udp_preference_limit = 1',
    '  forwardable = true',
    // Enctypes Java 17 and MIT 1.20 both support without extra policy files.
    '  default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96',
    '  default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96',
    '  permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96',
    '',
    '[realms]',
    `  ${REALM} = {`,
    `    kdc = 127.0.0.1:${port}`,
    '  }',
    '',
    '[domain_realm]',
    `  localhost = ${REALM}`,
    `  .localhost = ${REALM}`,
    '',
  ].join('\n');
}

function kdcConf(layout: KdcLayout): string {
  const d = layout.dir;
  return [
    '# written by stack/kdc.ts; rewritten on every start',
    '[kdcdefaults]',
    `  kdc_listen = 127.0.0.1:${layout.port}`,
    `  kdc_tcp_listen = 127.0.0.1:${layout.port}`,
    '',
    '[realms]',
    `  ${REALM} = {`,
    `    database_name = ${join(d, 'principal')}`,
    `    key_stash_file = ${join(d, 'stash')}`,
    `    acl_file = ${join(d, 'kadm5.acl')}`,
    `    kdc_listen = 127.0.0.1:${layout.port}`,
    `    kdc_tcp_listen = 127.0.0.1:${layout.port}`,
    '    max_life = 10h 0m 0s',
    '    max_renewable_life = 7d 0h 0m 0s',
    '    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal',
    '  }',
    '',
    '[logging]',
    `  kdc = FILE:${join(d, 'krb5kdc.log')}`,
    '',
  ].join('\n');
}

/** Environment that points MIT tools at the stack's realm instead of /etc/krb5.conf. */
export function kdcEnv(files: KdcFiles, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, KRB5_CONFIG: files.krb5Conf, KRB5_KDC_PROFILE: files.kdcConf, ...extra };
}

function run(cmd: string, args: string[], files: KdcFiles, what: string): string {
  const res = spawnSync(cmd, args, { env: kdcEnv(files), encoding: 'utf8' });
  const output = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  appendFileSync(join(files.log.replace(/krb5kdc\.log$/, ''), 'setup.log'), `# ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n${output}\n`);
  if (res.error) throw new Error(`${what}: ${res.error.message}`);
  if (res.status !== 0) {
    throw new Error(`${what} failed (exit ${res.status ?? res.signal}): ${output.trim().split('\n').pop() ?? ''}; see ${join(files.log.replace(/krb5kdc\.log$/, ''), 'setup.log')}`);
  }
  return output;
}

function kadmin(files: KdcFiles, query: string): string {
  return run(KADMIN_LOCAL, ['-r', REALM, '-q', query], files, `kadmin.local -q "${query}"`);
}

/**
 * Creates the realm's database and every principal with a keytab, once: a directory that already
 * holds a database is reused (its keytabs stay valid). Writes the config files every time.
 */
export function prepareKdc(layout: KdcLayout): KdcFiles {
  const files = kdcFiles(layout);
  mkdirSync(join(layout.dir, 'keytabs'), { recursive: true });
  writeFileSync(files.krb5Conf, krb5Conf(layout.port));
  writeFileSync(files.kdcConf, kdcConf(layout));
  writeFileSync(join(layout.dir, 'kadm5.acl'), `*/admin@${REALM} *\n`);
  // The database is made again when the principals the stack needs changed since it was made.
  const marker = join(layout.dir, 'principals.done');
  const wanted = JSON.stringify(PRINCIPALS);
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === wanted) return files;
  rmSync(join(layout.dir, 'principal'), { force: true });
  for (const f of ['principal.kadm5', 'principal.kadm5.lock', 'principal.ok', 'stash']) rmSync(join(layout.dir, f), { force: true });
  // The master password only protects the database on disk; the stash file holds it for krb5kdc.
  run(KDB5_UTIL, ['-r', REALM, 'create', '-s', '-P', randomBytes(24).toString('base64')], files, 'kdb5_util create');
  for (const role of Object.keys(PRINCIPALS) as PrincipalRole[]) {
    const p = PRINCIPALS[role];
    const life = 'maxLife' in p ? ` -maxlife "${p.maxLife}"` : '';
    kadmin(files, `addprinc -randkey${life} ${p.name}`);
    const keytab = files.keytab(role);
    rmSync(keytab, { force: true });
    kadmin(files, `ktadd -k ${keytab} -norandkey ${p.name}`);
  }
  writeFileSync(marker, `${wanted}\n`);
  return files;
}

/** Changes a principal's keys: every keytab exported before no longer works (the "wrong keytab" case). */
export function rekey(files: KdcFiles, role: PrincipalRole, keytab: string): void {
  rmSync(keytab, { force: true });
  kadmin(files, `ktadd -k ${keytab} ${PRINCIPALS[role].name}`);
}

/** Starts krb5kdc in the foreground of its own process group; resolves with its pid once it listens. */
export async function startKdc(layout: KdcLayout): Promise<number> {
  const files = prepareKdc(layout);
  appendFileSync(files.log, `# ${new Date().toISOString()} starting krb5kdc on 127.0.0.1:${layout.port}\n`);
  const { pid } = spawnDetached(KRB5KDC, ['-n', '-r', REALM, '-P', join(layout.dir, 'krb5kdc.pid')], files.log, kdcEnv(files));
  try {
    await waitForPort({ port: layout.port, pid, what: 'krb5kdc', logFile: files.log, timeoutMs: 20_000 });
  } catch (err) {
    const tail = existsSync(files.log) ? readFileSync(files.log, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
    throw new Error(`${(err as Error).message} (last lines: ${tail})`);
  }
  return pid;
}
