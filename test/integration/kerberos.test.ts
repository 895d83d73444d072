/**
 * Kerberos on the metastore side, on the real stack: an MIT KDC and kerberized Hive 3.1.3
 * metastores (rwKrb on the MariaDB primary, roKrb on its replica) that accept only SASL. The router
 * signs in as its own principal from its keytab and acts for each caller with a delegation token
 * the metastore issues to it as a Hadoop proxy user. What a user relies on: the metastore sees and
 * records the caller (not the router), bad credentials stop the router with the reason, expiring
 * tickets are renewed from the keytab, and read-your-writes holds as without Kerberos.
 */
import { copyFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditUsers as auditLogUsers } from '../support/metastore-audit';
import { status, up } from '../../stack/stack';
import { stackLayout } from '../../stack/layout';
import { kdcFiles, rekey } from '../../stack/kdc';
import { kerberosJvmFlags } from '../../stack/hive';
import { startReplicaSqlThread, stopReplicaSqlThread } from '../../stack/replication';
import { HmsTestClient, args } from '../support/hms-test-client';
import { TType } from '../../src/thrift/protocol';
import { startTestRouter, TestRouter } from '../support/router-harness';
import { runJava } from '../support/java-tools';
import { negotiateSaslClient } from '../../src/auth/sasl-client';
import { GssapiClientMechanism } from '../../src/auth/gssapi-client';
import { DigestMd5ClientMechanism } from '../../src/auth/digest-md5-client';
import { decodeDelegationToken, tokenDigestCredentials } from '../../src/auth/delegation-token';
import { connect } from 'node:net';

const stack = status();
const kdc = stack.kdc;

type Principal = 'router' | 'routerShortLived' | 'presto';

/** A router in front of the kerberized metastores, signing in as `as`, read/write split on. */
function kerberizedConfig(as: Principal = 'router', keytab = kdc.keytabs[as]!, extra: Record<string, unknown> = {}) {
  const mysql = (port: number) => ({ host: '127.0.0.1', port, user: stack.routerMysqlUser.user, password: stack.routerMysqlUser.password });
  return {
    kerberos: { principal: kdc.principals[as], keytab, krb5Conf: kdc.krb5Conf },
    metastores: {
      krb: {
        primary: { endpoints: [`localhost:${stack.metastores.rwKrb.port}`], mysql: mysql(stack.mysql.primary.port) },
        replicas: [{ name: 'r1', endpoints: [`localhost:${stack.metastores.roKrb.port}`], mysql: mysql(stack.mysql.replica.port) }],
        authentication: { type: 'kerberos', principal: 'hive/_HOST@HMS.TEST' },
        consistency: { mode: 'session', maxWaitMs: 300, pollIntervalMs: 200 },
        timeouts: { callMs: 20_000, retryBackoffMs: 500 },
        ...extra,
      },
    },
    defaultMetastore: 'krb',
  };
}

/** The users the kerberized primary's audit log names for commands mentioning `needle`. */
function auditUsers(needle: string): string[] {
  return auditLogUsers(status().metastores.rwKrb.log, needle);
}

const created: string[] = [];
function dbName(tag: string): string {
  const name = `krb_${tag}_${Date.now()}`;
  created.push(name);
  return name;
}

afterAll(async () => {
  await startReplicaSqlThread(stack.mysql.replica.port);
  if (created.length === 0) return;
  // Cleaned up as the router itself (a plain client of a kerberized router signs in as the router).
  const router = await startTestRouter(kerberizedConfig());
  const c = await HmsTestClient.connect(router.port);
  for (const name of created) await c.call('drop_database', args.dropDatabase(name));
  c.close();
  await router.close();
});

describe('a router in front of kerberized metastores', () => {
  let router: TestRouter;
  beforeAll(async () => { router = await startTestRouter(kerberizedConfig()); });
  afterAll(async () => { await router.close(); });

  it('acts for the set_ugi caller: the metastore records alice, not the router', async () => {
    const client = await HmsTestClient.connect(router.port);
    await client.success('set_ugi', args.setUgi('alice', ['analysts']));
    const name = dbName('alice');
    await client.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
    expect(await client.success('get_database', args.name(name))).toMatchObject({ 1: name });
    client.close();
    expect(auditUsers(`create_database: Database(name:${name},`)).toEqual(['alice']);
    // alice's connection signed in with a token (DIGEST-MD5), fetched over the router's GSSAPI one.
    expect(await router.metric('hms_router_auth_total', { side: 'metastore', mechanism: 'digest-md5', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(await router.metric('hms_router_auth_total', { side: 'metastore', mechanism: 'gssapi', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(auditUsers('get_delegation_token').at(-1)).toBe(kdc.principals.router);
  });

  it('gives Hive\'s Java client the metastore it would see directly, as the same user', async () => {
    // Direct: HiveMetaStoreClient logged in from alice's keytab (SASL GSSAPI).
    const direct = dbName('java_direct');
    const d = await runJava('KerberosClient.java', ['--uri', `thrift://localhost:${stack.metastores.rwKrb.port}`, '--db', direct,
      '--kerberos', kdc.principals.alice!, kdc.keytabs.alice!, '--service', stack.metastorePrincipal], 180_000, kerberosJvmFlags(kdc.krb5Conf));
    expect(d.code, d.stdout + d.stderr).toBe(0);
    // Through the router: the same client, plain Thrift with set_ugi alice (the router's client
    // side speaks no SASL yet), reaching the kerberized metastore as alice.
    const routed = dbName('java_router');
    const r = await runJava('KerberosClient.java', ['--uri', `thrift://127.0.0.1:${router.port}`, '--db', routed, '--user', 'alice'], 180_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const direct1 = JSON.parse(d.stdout.trim()) as Record<string, unknown>;
    const routed1 = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
    // Hive 3.1's metastore leaves owner fields as the client sent them (Hive's client sends none).
    expect({ db: routed1.dbOwner, table: routed1.tableOwner }).toEqual({ db: direct1.dbOwner, table: direct1.tableOwner });
    expect(auditUsers(`create_database: Database(name:${direct},`)).toEqual([kdc.principals.alice]);
    expect(auditUsers(`create_database: Database(name:${routed},`)).toEqual(['alice']);
    expect(auditUsers(`create_table: Table(tableName:t1, dbName:${routed},`)).toEqual(['alice']);
  });

  it('refuses a plain client\'s delegation-token and master-key calls, which would carry the router\'s rights', async () => {
    const client = await HmsTestClient.connect(router.port);
    const token = await client.call('get_delegation_token', (w) => { w.fieldBegin(TType.STRING, 1).string('bob').fieldBegin(TType.STRING, 2).string('mallory'); });
    expect(JSON.stringify(token.result[1])).toMatch(/get_delegation_token refused: delegation tokens of kerberized metastore 'krb' are handed out through hms-router only to clients that sign in with Kerberos/);
    const keys = await client.call('get_master_keys');
    expect(keys.type).toBe(3); // no declared exception: a TApplicationException with the reason
    expect(String(keys.result[1])).toMatch(/get_master_keys refused/);
    client.close();
    expect(auditUsers('get_master_keys')).toEqual([]);
  });

  it('signs in as the router for a caller without set_ugi', async () => {
    const client = await HmsTestClient.connect(router.port);
    const marker = dbName('anon');
    await client.success('create_database', args.createDatabase(marker, `${stack.warehouse}/${marker}.db`));
    client.close();
    expect(auditUsers(`create_database: Database(name:${marker},`)).toEqual([kdc.principals.router]);
  });

  it('reads its own writes with the replica SQL thread stopped, and reads from the replica once it applies', async () => {
    const client = await HmsTestClient.connect(router.port);
    await client.success('set_ugi', args.setUgi('bob', []));
    await stopReplicaSqlThread(stack.mysql.replica.port);
    const names: string[] = [];
    for (let i = 0; i < 5; i++) {
      const name = dbName(`ryw${i}`);
      names.push(name);
      await client.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
      const r = await client.call('get_database', args.name(name));
      expect(r.result[0], `read after write ${i}: ${JSON.stringify(r.result)}`).toMatchObject({ 1: name });
    }
    await startReplicaSqlThread(stack.mysql.replica.port);
    const before = await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' });
    for (const name of names) expect((await client.call('get_database', args.name(name))).result[0]).toMatchObject({ 1: name });
    expect(await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' }) - before).toBe(names.length);
    client.close();
  });
});

describe('clients that sign in to the router with Kerberos', () => {
  let router: TestRouter;
  const routerService = 'hms-router/_HOST@HMS.TEST';
  const javaThroughRouter = (db: string, login: string[], service = routerService) => runJava('KerberosClient.java',
    ['--uri', `thrift://localhost:${router.port}`, '--db', db, ...login, '--service', service], 180_000, kerberosJvmFlags(kdc.krb5Conf));
  beforeAll(async () => {
    const config = kerberizedConfig();
    router = await startTestRouter({ ...config, server: { port: 0, host: '127.0.0.1', drainTimeoutMs: 5000, authentication: 'kerberos' } });
  });
  afterAll(async () => { await router.close(); });

  it('Hive\'s Java client logged in from alice\'s keytab creates through the router as alice, as it does directly', async () => {
    const name = dbName('java_kerberos_router');
    const r = await javaThroughRouter(name, ['--kerberos', kdc.principals.alice!, kdc.keytabs.alice!]);
    expect(r.code, r.stdout + r.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ ok: true, user: kdc.principals.alice });
    // Directly, alice's own keytab login is recorded as alice@HMS.TEST: through the router, the same.
    expect(auditUsers(`create_database: Database(name:${name},`)).toEqual([kdc.principals.alice]);
    expect(auditUsers(`create_table: Table(tableName:t1, dbName:${name},`)).toEqual([kdc.principals.alice]);
    expect(await router.metric('hms_router_auth_total', { side: 'client', mechanism: 'gssapi', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(router.logs.some((l) => l.msg === 'client signed in with Kerberos' && l.principal === kdc.principals.alice)).toBe(true);
  });

  it('answers a plain client\'s calls with the reason and logs it', async () => {
    const r = await runJava('KerberosClient.java', ['--uri', `thrift://127.0.0.1:${router.port}`, '--db', 'krb_never_created', '--user', 'alice'], 180_000);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/TApplicationException: hms-router requires Kerberos: this connection is plain Thrift/);
    const plain = await HmsTestClient.connect(router.port);
    const reply = await plain.call('get_all_databases');
    expect(reply.type).toBe(3);
    expect(String(reply.result[1])).toMatch(/hive.metastore.sasl.enabled=true/);
    plain.close();
    expect(await router.metric('hms_router_auth_total', { side: 'client', outcome: 'refused' })).toBeGreaterThanOrEqual(2);
    expect(router.logs.some((l) => l.msg === 'client refused: Kerberos sign-in failed' && l.failure === 'not_sasl')).toBe(true);
    expect(auditUsers('krb_never_created')).toEqual([]);
  });

  it('refuses a ticket for another service, and a delegation token, with the reason', async () => {
    // alice asks the KDC for a ticket to the metastore's principal but connects to the router.
    const wrongService = await javaThroughRouter('krb_never_created', ['--kerberos', kdc.principals.alice!, kdc.keytabs.alice!], 'hive/_HOST@HMS.TEST');
    expect(wrongService.code).toBe(2);
    expect(wrongService.stdout).toMatch(/Peer indicated failure: hms-router: Kerberos authentication failed: .*hive\/localhost@HMS\.TEST/);
    const socket = connect(router.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    await expect(negotiateSaslClient(socket, new DigestMd5ClientMechanism({ username: 'x', password: 'y', digestUri: 'null/default' }), 5000, 'router'))
      .rejects.toThrow(/DIGEST-MD5 \(a delegation token\) is not accepted: hms-router authenticates clients with Kerberos/);
    socket.destroy();
    expect(router.logs.some((l) => l.failure === 'gssapi')).toBe(true);
    expect(router.logs.some((l) => l.failure === 'mechanism')).toBe(true);
  });

  it('hands a signed-in client its own delegation tokens: issued, renewed, usable at the metastore, cancelled', async () => {
    const alice = ['--kerberos', kdc.principals.alice!, kdc.keytabs.alice!];
    // Renewer: the router's short name, the principal the router renews with.
    const got = await javaThroughRouter('unused', [...alice, '--token', 'alice', 'hms-router']);
    expect(got.code, got.stdout + got.stderr.slice(-1500)).toBe(0);
    const { token, expiresAt } = JSON.parse(got.stdout.trim()) as { token: string; expiresAt: number };
    expect(expiresAt).toBeGreaterThan(Date.now());
    expect(auditUsers('get_delegation_token').at(-1)).toBe(kdc.principals.router);
    // The token signs alice in at the metastore itself (DIGEST-MD5), as Hive's jobs use it.
    const creds = tokenDigestCredentials(decodeDelegationToken(token));
    const direct = await HmsTestClient.connect(stack.metastores.rwKrb.port, 'buffered', 'localhost', undefined,
      new DigestMd5ClientMechanism({ ...creds, digestUri: 'null/default' }));
    const marker = dbName('token_direct');
    await direct.success('create_database', args.createDatabase(marker, `${stack.warehouse}/${marker}.db`));
    direct.close();
    expect(auditUsers(`create_database: Database(name:${marker},`)).toEqual(['alice']);
    // Someone else's token, or a token for someone else: refused with the reason.
    const forBob = await javaThroughRouter('unused', [...alice, '--token', 'bob', 'hms-router']);
    expect(forBob.stdout).toMatch(/get_delegation_token refused: alice@HMS\.TEST may only ask for its own delegation tokens \(this one's owner is 'bob'\)/);
    const cancelled = await javaThroughRouter('unused', [...alice, '--cancel', token]);
    expect(cancelled.code, cancelled.stdout).toBe(0);
    await expect(HmsTestClient.connect(stack.metastores.rwKrb.port, 'buffered', 'localhost', undefined,
      new DigestMd5ClientMechanism({ ...creds, digestUri: 'null/default' }))).rejects.toThrow(/refused SASL DIGEST-MD5|closed the connection/);
  });

  it('keeps a signed-in client\'s identity whatever set_ugi says', async () => {
    // This test process signs in with the router's own keytab (the in-process router set it up).
    const client = await HmsTestClient.connect(router.port, 'buffered', 'localhost', undefined,
      new GssapiClientMechanism('hms-router/localhost@HMS.TEST', kdc.principals.router));
    // Answered with the metastore's reply to the set_ugi of the signed-in principal.
    expect(await client.success('set_ugi', args.setUgi('mallory', ['admins']))).toEqual([kdc.principals.router]);
    const name = dbName('setugi_ignored');
    await client.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
    client.close();
    expect(auditUsers(`create_database: Database(name:${name},`)).toEqual([kdc.principals.router]);
  });
});

describe('a kerberized metastore that restarts', () => {
  it('forgets the tokens it issued; the router fetches new ones and the caller notices nothing', async () => {
    const router = await startTestRouter(kerberizedConfig('router', kdc.keytabs.router, { replicas: [], consistency: { mode: 'off' } }));
    try {
      const alice = await HmsTestClient.connect(router.port);
      await alice.success('set_ugi', args.setUgi('alice', []));
      expect(await alice.success('get_all_databases')).toContain('default');
      alice.close();
      process.kill(-stack.metastores.rwKrb.pid!, 'SIGKILL');
      await up(stackLayout());
      const restarted = status().metastores.rwKrb;
      expect(restarted.pid).not.toBe(stack.metastores.rwKrb.pid);
      // The metastore opens its port before it serves; retry until it answers a plain GSSAPI caller.
      for (let i = 0; ; i++) {
        const probe = await HmsTestClient.connect(router.port);
        const r = await probe.call('get_all_databases');
        probe.close();
        if (r.type !== 3) break;
        if (i > 60) throw new Error(`restarted metastore never answered: ${JSON.stringify(r.result)}`);
        await new Promise((res) => setTimeout(res, 1000));
      }
      const refusedBefore = await router.metric('hms_router_auth_total', { mechanism: 'digest-md5', outcome: 'refused' });
      const again = await HmsTestClient.connect(router.port);
      await again.success('set_ugi', args.setUgi('alice', []));
      const name = dbName('after_restart');
      await again.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
      again.close();
      // The old token was refused once, a new one fetched, and alice is still the one recorded.
      expect(await router.metric('hms_router_auth_total', { mechanism: 'digest-md5', outcome: 'refused' }) - refusedBefore).toBe(1);
      expect(auditUsers(`create_database: Database(name:${name},`)).toEqual(['alice']);
    } finally {
      await router.close();
    }
  });
});

describe('credentials that do not work', () => {
  it('refuses to start with a keytab that does not hold the principal', async () => {
    await expect(startTestRouter(kerberizedConfig('router', kdc.keytabs.alice)))
      .rejects.toThrow(/cannot get Kerberos credentials for hms-router\/localhost@HMS\.TEST from keytab .*alice\.keytab: .*klist -kt/);
  });

  it('refuses to start with an unknown principal', async () => {
    const config = kerberizedConfig();
    await expect(startTestRouter({ ...config, kerberos: { ...config.kerberos, principal: 'ghost/localhost@HMS.TEST' } }))
      .rejects.toThrow(/cannot get Kerberos credentials for ghost\/localhost@HMS\.TEST/);
  });

  it('refuses to start with a keytab whose keys were changed since', async () => {
    const files = kdcFiles(stackLayout().kdc);
    const stale = join(tmpdir(), `hms-router-short-${Date.now()}.keytab`);
    copyFileSync(kdc.keytabs.routerShortLived!, stale);
    rekey(files, 'routerShortLived', kdc.keytabs.routerShortLived!);
    await expect(startTestRouter(kerberizedConfig('routerShortLived', stale)))
      .rejects.toThrow(/cannot get Kerberos credentials for hms-router-short\/localhost@HMS\.TEST .*(integrity|Preauthentication|password)/i);
  });

  it('passes on the metastore\'s refusal when the router is no proxy user, and serves other callers', async () => {
    const router = await startTestRouter(kerberizedConfig('presto'));
    try {
      const alice = await HmsTestClient.connect(router.port);
      await alice.call('set_ugi', args.setUgi('alice', []));
      const r = await alice.call('get_all_databases');
      expect(JSON.stringify(r.result)).toMatch(/gave no delegation token for 'alice'.*not allowed to impersonate alice/);
      alice.close();
      const plain = await HmsTestClient.connect(router.port);
      expect(await plain.success('get_all_databases')).toContain('default');
      plain.close();
    } finally {
      await router.close();
    }
  });
});

describe('secrets', () => {
  it.each(['none', 'kerberos'] as const)('shows no keytab content, ticket or delegation token in any log line or admin reply (client side %s)', async (clientSide) => {
    const router = await startTestRouter({ ...kerberizedConfig(), log: { level: 'trace' },
      server: { port: 0, host: '127.0.0.1', drainTimeoutMs: 5000, authentication: clientSide } });
    try {
      // A caller acting through a token (plain side: set_ugi; kerberized side: signed in as the
      // router's principal, the one this test process holds), a failed call, a refused sign-in.
      const client = clientSide === 'none'
        ? await HmsTestClient.connect(router.port)
        : await HmsTestClient.connect(router.port, 'buffered', 'localhost', undefined, new GssapiClientMechanism('hms-router/localhost@HMS.TEST', kdc.principals.router));
      if (clientSide === 'none') await client.success('set_ugi', args.setUgi('alice', []));
      await client.success('get_all_databases');
      await client.call('get_database', args.name('no_such_database'));
      client.close();
      if (clientSide === 'kerberos') {
        const plain = await HmsTestClient.connect(router.port);
        await plain.call('get_all_databases');
        plain.close();
      }
      const admin = (path: string) => fetch(`http://127.0.0.1:${router.adminPort}${path}`).then((r) => r.text());
      const bodies = await Promise.all(['/backends', '/routing', '/stats', '/metrics', '/status'].map(admin));
      const keytab = readFileSync(kdc.keytabs.router!);
      // Pieces of the keytab's key material (its last 32 bytes are the newest key's), as text would carry them.
      const keyBytes = keytab.subarray(keytab.length - 32);
      const forbidden = [keytab.toString('base64').slice(0, 40), keyBytes.toString('hex'), keyBytes.toString('base64').slice(0, 24)];
      // A Kerberos GSSAPI token (AP-REQ) base64-encoded starts with "YII"; a Hive token names its kind.
      const patterns = [/YII[A-Za-z0-9+/]{40,}/, /SElWRV9ERUxFR0FUSU9OX1RPS0VO/, /[A-Za-z0-9_-]{100,}/];
      const texts = [...router.logs.map((l) => JSON.stringify(l)), ...bodies];
      expect(router.logs.length).toBeGreaterThan(3);
      for (const text of texts) {
        for (const f of forbidden) expect(text.includes(f), `shows keytab bytes: ${text.slice(0, 300)}`).toBe(false);
        for (const p of patterns) expect(p.test(text), `shows a ticket or token (${p}): ${text.slice(0, 300)}`).toBe(false);
      }
    } finally {
      await router.close();
    }
  });
});

describe('ticket renewal', () => {
  it('keeps signing in past the ticket lifetime (20 s tickets, renewed from the keytab)', async () => {
    const kdcLog = kdc.log;
    const logStart = statSync(kdcLog).size;
    const router = await startTestRouter(kerberizedConfig('routerShortLived', kdc.keytabs.routerShortLived, {
      // every probe is a fresh GSSAPI sign-in
      health: { intervalMs: 1000, timeoutMs: 2000 },
    }));
    try {
      const started = Date.now();
      let calls = 0;
      while (Date.now() - started < 50_000) {
        // a new caller each time: a new token (over the router's GSSAPI connection) and a new DIGEST-MD5 sign-in
        const client = await HmsTestClient.connect(router.port);
        await client.success('set_ugi', args.setUgi(`renewal_${calls}`, []));
        expect(await client.success('get_all_databases')).toContain('default');
        client.close();
        calls += 1;
        await new Promise((r) => setTimeout(r, 2500));
      }
      expect(await router.metric('hms_router_health_probes_total', { outcome: 'failed' })).toBe(0);
      expect(await router.metric('hms_router_health_probes_total', { outcome: 'ok' })).toBeGreaterThan(40);
      const warnings = router.logs.filter((l) => Number(l.level) >= 40).map((l) => `${String(l.msg)}: ${String(l.err)}`);
      expect(await router.metric('hms_router_auth_total', { outcome: 'refused' }), warnings.join('\n')).toBe(0);
      // The router asked the KDC for a new ticket-granting ticket at least twice more after the first.
      const issued = readFileSync(kdcLog, 'utf8').slice(logStart).split('\n')
        .filter((l) => /AS_REQ .*ISSUE.*hms-router-short\/localhost@HMS\.TEST for krbtgt\/HMS\.TEST@HMS\.TEST/.test(l));
      expect(issued.length).toBeGreaterThanOrEqual(3);
      expect(calls).toBeGreaterThan(15);
    } finally {
      await router.close();
    }
  });
});
