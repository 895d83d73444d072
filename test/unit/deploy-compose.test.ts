/**
 * docker-compose.yml, Dockerfile and deploy/ agree with each other and with the router, without a
 * Docker engine: the router config the compose file mounts passes the router's own validation;
 * every metastore endpoint and MySQL server it names is a compose service listening on that port;
 * the credentials are the ones the MySQL services are set up with; each metastore reads the MySQL
 * server the router watches for it; Trino's hive catalog points at the router's Thrift port; the
 * image's EXPOSE, HEALTHCHECK and CMD fit the config. A renamed service, port or password fails here.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load';
import { parseEndpoint, type RouterConfig } from '../../src/config/schema';

const ROOT = join(__dirname, '..', '..');

interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string[] | string;
  environment?: Record<string, string | number> | string[];
  volumes?: string[];
  expose?: Array<string | number>;
  ports?: Array<string | number>;
  depends_on?: Record<string, { condition: string }> | string[];
}

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

function env(service: Service): Record<string, string> {
  const e = service.environment ?? {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
}

/** Container ports a service listens on, from `expose` and the container side of `ports`. */
function containerPorts(service: Service): Set<number> {
  const fromPorts = (service.ports ?? []).map((p) => Number(String(p).split(':').pop()!.split('/')[0]));
  return new Set([...(service.expose ?? []).map((p) => Number(String(p).split('/')[0])), ...fromPorts]);
}

/** Bind mounts: container path -> host path (relative to the repository). */
function bindMounts(service: Service): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of service.volumes ?? []) {
    const [source, target] = v.split(':');
    if (source !== undefined && target !== undefined && source.startsWith('.')) out.set(target, source);
  }
  return out;
}

function service(name: string): Service {
  const s = services[name];
  if (s === undefined) throw new Error(`docker-compose.yml has no service '${name}' (services: ${Object.keys(services).join(', ')})`);
  return s;
}

function serviceOf(hostPort: string): { name: string; port: number; service: Service } {
  const { host, port } = parseEndpoint(hostPort);
  return { name: host, port, service: service(host) };
}

/** The router's config path in the image: the --config argument of the Dockerfile's CMD. */
function imageConfigPath(): string {
  const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(dockerfile);
  expect(cmd, 'Dockerfile has an exec-form CMD').not.toBeNull();
  const argv = JSON.parse(cmd![1]!) as string[];
  return argv[argv.indexOf('--config') + 1]!;
}

function routerService(): { name: string; service: Service; configFile: string } {
  const path = imageConfigPath();
  const found = Object.entries(services).filter(([, s]) => bindMounts(s).has(path));
  expect(found.map(([n]) => n), `one service mounts the router config at ${path}`).toHaveLength(1);
  const [name, s] = found[0]!;
  return { name, service: s, configFile: bindMounts(s).get(path)! };
}

function routerConfig(): RouterConfig {
  const { configFile } = routerService();
  return parseConfig(readFileSync(join(ROOT, configFile), 'utf8'), configFile);
}

/** The compose service that makes `replicaHost` replicate, with the source it names. */
function replicationSetupOf(replicaHost: string): { setup: Record<string, string>; source: string } {
  const setups = Object.values(services).map(env).filter((e) => e.REPLICA_HOST === replicaHost);
  expect(setups, `a service sets up replication into ${replicaHost}`).toHaveLength(1);
  return { setup: setups[0]!, source: setups[0]!.SOURCE_HOST! };
}

/** The MySQL service and database a metastore service reads, from its JDBC URL. */
function metastoreDatabase(metastoreService: Service): { host: string; port: number; user: string; password: string } {
  const e = env(metastoreService);
  const m = /^jdbc:mysql:\/\/([^:/]+):(\d+)\//.exec(e.HMS_DB_URL ?? '');
  expect(m, `HMS_DB_URL ${e.HMS_DB_URL}`).not.toBeNull();
  return { host: m![1]!, port: Number(m![2]), user: e.HMS_DB_USER!, password: e.HMS_DB_PASSWORD! };
}

describe('docker-compose.yml and deploy/', () => {
  it('mounts a router config that passes the router\'s own validation', () => {
    const { configFile } = routerService();
    expect(existsSync(join(ROOT, configFile))).toBe(true);
    const config = routerConfig();
    expect(Object.keys(config.metastores).length).toBeGreaterThan(0);
    // The Thrift port must be reachable from other containers, so not loopback only.
    expect(config.server.host).toBe('0.0.0.0');
  });

  it('bind-mounts only files that exist in the repository', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const source of bindMounts(s).values()) expect(existsSync(join(ROOT, source)), `${name}: ${source}`).toBe(true);
    }
  });

  it('every metastore endpoint of the router config is a compose service listening on that port', () => {
    const config = routerConfig();
    for (const m of Object.values(config.metastores)) {
      for (const endpoint of [...m.primary.endpoints, ...m.replicas.flatMap((r) => r.endpoints)]) {
        const { name, port, service: s } = serviceOf(endpoint);
        expect(containerPorts(s).has(port), `${name} listens on ${port}`).toBe(true);
        const hmsPort = env(s).HMS_PORT;
        if (hmsPort !== undefined) expect(Number(hmsPort), `${name} HMS_PORT`).toBe(port);
      }
    }
  });

  it('the MySQL servers of the router config are the compose MySQL services, with GTIDs on', () => {
    const config = routerConfig();
    const mysqls = Object.values(config.metastores).flatMap((m) => [m.primary.mysql, ...m.replicas.map((r) => r.mysql)]).filter((x) => x !== undefined);
    expect(mysqls.length).toBeGreaterThanOrEqual(2);
    const serverIds = new Set<string>();
    for (const my of mysqls) {
      const s = service(my.host);
      expect(s.image, my.host).toMatch(/^mysql:8/);
      expect(containerPorts(s).has(my.port), `${my.host} listens on ${my.port}`).toBe(true);
      const command = Array.isArray(s.command) ? s.command : String(s.command ?? '').split(/\s+/);
      expect(command).toContain('--gtid-mode=ON');
      expect(command).toContain('--enforce-gtid-consistency=ON');
      serverIds.add(command.find((c) => c.startsWith('--server-id='))!);
    }
    expect(serverIds.size, 'distinct server ids').toBe(new Set(mysqls.map((m) => m.host)).size);
  });

  it('the router\'s MySQL credentials are the ones the MySQL services are set up with', () => {
    const config = routerConfig();
    for (const m of Object.values(config.metastores)) {
      const primary = m.primary.mysql!;
      const primaryEnv = env(service(primary.host));
      expect({ user: primaryEnv.ROUTER_MYSQL_USER, password: primaryEnv.ROUTER_MYSQL_PASSWORD }, primary.host)
        .toEqual({ user: primary.user, password: primary.password });
      for (const r of m.replicas) {
        // A replica's accounts are its source's (they replicate); the setup waits for this one.
        const { setup, source } = replicationSetupOf(r.mysql.host);
        expect(source, `${r.name} replicates from the primary's MySQL`).toBe(primary.host);
        const sourceEnv = env(service(source));
        expect({ user: sourceEnv.ROUTER_MYSQL_USER, password: sourceEnv.ROUTER_MYSQL_PASSWORD }, r.mysql.host)
          .toEqual({ user: r.mysql.user, password: r.mysql.password });
        expect(setup.ROUTER_MYSQL_USER).toBe(r.mysql.user);
        expect(setup.SOURCE_ROOT_PASSWORD).toBe(sourceEnv.MYSQL_ROOT_PASSWORD);
        expect(setup.REPLICA_ROOT_PASSWORD).toBe(env(service(r.mysql.host)).MYSQL_ROOT_PASSWORD);
        expect({ user: setup.REPLICATION_USER, password: setup.REPLICATION_PASSWORD })
          .toEqual({ user: sourceEnv.REPLICATION_USER, password: sourceEnv.REPLICATION_PASSWORD });
      }
    }
  });

  it('each metastore reads the MySQL server the router watches for it, with an account that exists there', () => {
    const config = routerConfig();
    for (const m of Object.values(config.metastores)) {
      for (const endpoint of m.primary.endpoints) {
        const db = metastoreDatabase(serviceOf(endpoint).service);
        expect(db.host, endpoint).toBe(m.primary.mysql!.host);
        const e = env(service(db.host));
        expect({ user: db.user, password: db.password }).toEqual({ user: e.MYSQL_USER, password: e.MYSQL_PASSWORD });
        expect(env(serviceOf(endpoint).service).HMS_INIT_SCHEMA).toBe('true');
      }
      for (const r of m.replicas) {
        for (const endpoint of r.endpoints) {
          const db = metastoreDatabase(serviceOf(endpoint).service);
          expect(db.host, endpoint).toBe(r.mysql.host);
          const sourceEnv = env(service(replicationSetupOf(r.mysql.host).source));
          expect({ user: db.user, password: db.password }).toEqual({ user: sourceEnv.HIVE_RO_USER, password: sourceEnv.HIVE_RO_PASSWORD });
          // The schema comes from the primary by replication: the replica's metastore never creates it.
          expect(env(serviceOf(endpoint).service).HMS_INIT_SCHEMA).toBe('false');
        }
      }
    }
  });

  it('Trino 435\'s hive catalog uses the router\'s Thrift port', () => {
    const config = routerConfig();
    const { name: router, service: routerSvc } = routerService();
    const trino = Object.values(services).filter((s) => s.image === 'trinodb/trino:435');
    expect(trino).toHaveLength(1);
    const catalog = bindMounts(trino[0]!).get('/etc/trino/catalog/hive.properties');
    expect(catalog, 'trino mounts a hive catalog').toBeDefined();
    const properties = Object.fromEntries(readFileSync(join(ROOT, catalog!), 'utf8').split('\n')
      .filter((l) => /^\s*[^#\s]/.test(l)).map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]));
    expect(properties['connector.name']).toBe('hive');
    expect(properties['hive.metastore.uri']).toBe(`thrift://${router}:${config.server.port}`);
    expect(containerPorts(routerSvc).has(config.server.port)).toBe(true);
    expect(Object.keys((trino[0]!.depends_on ?? {}) as object)).toContain(router);
  });

  it('the router image exposes the config\'s ports and checks health on its admin port', () => {
    const config = routerConfig();
    const { service: routerSvc } = routerService();
    const exposed = (/^EXPOSE\s+(.+)$/m.exec(dockerfile)?.[1] ?? '').split(/\s+/).map(Number);
    expect(exposed).toEqual(expect.arrayContaining([config.server.port, config.admin.port]));
    expect(containerPorts(routerSvc).has(config.admin.port)).toBe(true);
    const adminPortEnv = env(routerSvc).HMS_ROUTER_ADMIN_PORT ?? /HMS_ROUTER_ADMIN_PORT=(\d+)/.exec(dockerfile)?.[1];
    expect(Number(adminPortEnv)).toBe(config.admin.port);
    expect(dockerfile).toMatch(/^HEALTHCHECK[\s\S]*\/healthz/m);
    // The health check connects to 127.0.0.1 in the container: the admin server must listen there.
    expect(['0.0.0.0', '127.0.0.1', '::']).toContain(config.admin.host);
    expect(dockerfile).toMatch(/^USER\s+(?!root)\S+/m);
    expect(imageConfigPath()).toBe('/etc/hms-router/router.yaml');
  });
});
