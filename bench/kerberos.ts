/**
 * Kerberos cost on the real stack: a client signing in to the kerberized rw metastore itself
 * (SASL GSSAPI, as alice from her keytab) against the same client signing in to a kerberized
 * router (server.authentication kerberos), which signs in to that metastore once per pooled
 * connection and acts for alice with a delegation token. Also measured: the router with plain
 * clients, and the plain rw metastore (no SASL), for what SASL costs at all. Same run, rounds
 * rotate. Writes bench/results/kerberos.json.
 *
 *   npm run bench:kerberos [-- --seconds 5 --rounds 3]
 *
 * Workloads: get_database on 1 and 16 persistent connections; a new connection per call with 16
 * callers (what Presto and Trino do): there every direct call pays a Kerberos sign-in.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '../stack/stack';
import { REPO_ROOT } from '../stack/layout';
import { HmsTestClient, args as callArgs } from '../test/support/hms-test-client';
import { GssapiClientMechanism } from '../src/auth/gssapi-client';
import { cpuMs, machineInfo, numericFlag, percentile, startRouterProcess, stopRouterProcess } from './support';

const SECONDS = numericFlag('--seconds', 5);
const ROUNDS = numericFlag('--rounds', 3);
const ROUTER_PORT = 19960;
const ADMIN_PORT = 19961;
const KRB_ROUTER_PORT = 19962;
const KRB_ADMIN_PORT = 19963;

const stack = status();
const kdc = stack.kdc;

interface Target { readonly name: string; readonly port: number; readonly host: string; readonly sasl: string | null }
interface Workload { readonly name: string; readonly concurrency: number; readonly connectionPerCall: boolean }
interface Sample { readonly calls: number; readonly seconds: number; readonly latenciesMs: Float64Array }

// This process signs in as alice: MIT's client keytab, a private memory ccache.
process.env.KRB5_CONFIG = kdc.krb5Conf;
process.env.KRB5_CLIENT_KTNAME = kdc.keytabs.alice;
process.env.KRB5CCNAME = `MEMORY:bench-kerberos-${process.pid}`;

function connect(t: Target): Promise<HmsTestClient> {
  return HmsTestClient.connect(t.port, 'buffered', t.host, undefined,
    t.sasl !== null ? new GssapiClientMechanism(t.sasl, kdc.principals.alice) : undefined);
}

async function run(t: Target, w: Workload, seconds: number): Promise<Sample> {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  let calls = 0;
  const worker = async () => {
    let client = w.connectionPerCall ? null : await connect(t);
    while (performance.now() < deadline) {
      const t0 = performance.now();
      if (w.connectionPerCall) client = await connect(t);
      const r = await client!.call('get_database', callArgs.name('default'));
      if (w.connectionPerCall) client!.close();
      latencies.push(performance.now() - t0);
      if (r.type !== 2 || r.result[0] === undefined) throw new Error(`get_database on ${t.name} failed: ${JSON.stringify(r.result)}`);
      calls += 1;
    }
    client?.close();
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: w.concurrency }, worker));
  return { calls, seconds: (performance.now() - started) / 1000, latenciesMs: Float64Array.from(latencies) };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };

async function main(): Promise<void> {
  if (!stack.running) throw new Error("the local stack is not running; start it with 'npm run stack -- up'");
  const routerConfig = (name: string, port: number, admin: number, authentication: 'none' | 'kerberos') => startRouterProcess(name, [
    `server: { host: 127.0.0.1, port: ${port}, authentication: ${authentication} }`,
    `admin: { port: ${admin} }`,
    'log: { level: warn }',
    `kerberos: { principal: "${kdc.principals.router}", keytab: "${kdc.keytabs.router}", krb5Conf: "${kdc.krb5Conf}" }`,
    'metastores:',
    '  krb:',
    `    primary: { endpoints: ["localhost:${stack.metastores.rwKrb.port}"] }`,
    '    authentication: { type: kerberos, principal: "hive/_HOST@HMS.TEST" }',
    '    pool: { minIdle: 16, max: 128 }',
    'defaultMetastore: krb',
  ], admin);
  const router = await routerConfig('kerberos-plain-clients', ROUTER_PORT, ADMIN_PORT, 'none');
  const krbRouter = await routerConfig('kerberos-kerberized-clients', KRB_ROUTER_PORT, KRB_ADMIN_PORT, 'kerberos');
  const targets: Target[] = [
    { name: 'direct kerberized', port: stack.metastores.rwKrb.port, host: 'localhost', sasl: stack.metastorePrincipal },
    { name: 'router kerberized', port: KRB_ROUTER_PORT, host: 'localhost', sasl: kdc.principals.router! },
    { name: 'router, plain clients', port: ROUTER_PORT, host: '127.0.0.1', sasl: null },
    { name: 'direct plain (reference)', port: stack.metastores.rw.port, host: '127.0.0.1', sasl: null },
  ];
  const routerPids = new Map([[KRB_ROUTER_PORT, krbRouter.pid!], [ROUTER_PORT, router.pid!]]);
  const workloads: Workload[] = [
    { name: 'get_database x1', concurrency: 1, connectionPerCall: false },
    { name: 'get_database x16', concurrency: 16, connectionPerCall: false },
    { name: 'get_database, new connection per call, x16', concurrency: 16, connectionPerCall: true },
  ];
  const results = [];
  try {
    for (const w of workloads) {
      for (const t of targets) await run(t, w, 1); // warm-up: tickets, pools, JIT
      const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
      let routerCpu = 0;
      for (let r = 0; r < ROUNDS; r++) {
        // order rotates per round, so no system always runs first
        for (const t of [...targets.slice(r % targets.length), ...targets.slice(0, r % targets.length)]) {
          const pid = routerPids.get(t.port);
          const cpu0 = pid === undefined ? 0 : cpuMs(pid);
          samples.get(t.name)!.push(await run(t, w, SECONDS));
          if (t.port === KRB_ROUTER_PORT) routerCpu += cpuMs(pid!) - cpu0;
        }
      }
      const summary = Object.fromEntries(targets.map((t) => {
        const per = samples.get(t.name)!.map((s) => ({ tp: s.calls / s.seconds, p50: percentile(s.latenciesMs, 50), p99: percentile(s.latenciesMs, 99) }));
        return [t.name, {
          throughputPerSec: Math.round(median(per.map((p) => p.tp))), p50Ms: +median(per.map((p) => p.p50)).toFixed(3),
          p99Ms: +median(per.map((p) => p.p99)).toFixed(3), throughputPerRound: per.map((p) => Math.round(p.tp)),
        }];
      }));
      const direct = summary['direct kerberized']!;
      const viaRouter = summary['router kerberized']!;
      const routerCalls = samples.get('router kerberized')!.reduce((n, s) => n + s.calls, 0);
      const row = {
        workload: w.name, concurrency: w.concurrency, connectionPerCall: w.connectionPerCall, systems: summary,
        routerOverDirectThroughput: +(viaRouter.throughputPerSec / direct.throughputPerSec).toFixed(2),
        routerMinusDirectP50Ms: +(viaRouter.p50Ms - direct.p50Ms).toFixed(3),
        routerCpuUsPerCall: +((routerCpu * 1000) / routerCalls).toFixed(1),
      };
      results.push(row);
      process.stderr.write(`${JSON.stringify(row)}\n`);
    }
    const report = {
      benchmark: 'kerberos', date: new Date().toISOString(), command: 'npm run bench:kerberos', hiveVersion: stack.hiveVersion,
      secondsPerRun: SECONDS, rounds: ROUNDS, machine: machineInfo(),
      note: 'every client signs in with SASL GSSAPI as alice (direct: to hive/localhost; router kerberized: to hms-router/localhost, which acts for alice with a delegation token on pooled DIGEST-MD5 connections); router, plain clients: no client sign-in, the router acts as itself; ratios are router kerberized / direct kerberized',
      results,
    };
    mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'bench', 'results', 'kerberos.json'), `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await stopRouterProcess(router);
    await stopRouterProcess(krbRouter);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exit(1);
});
