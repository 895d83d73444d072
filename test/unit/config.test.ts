/**
 * The config file: defaults, and errors that name the bad key and why (a user fixes a file from the
 * message alone).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig, routingMapOf } from '../../src/config/load';
import { configErrorOf } from '../support/config-errors';

const minimal = `
metastores:
  rw:
    primary: { endpoints: ["127.0.0.1:9083"] }
defaultMetastore: rw
`;

const errorOf = configErrorOf;

describe('config', () => {
  it('fills every default', () => {
    const c = parseConfig(minimal, 'test.yaml');
    expect(c.server.port).toBe(9083);
    expect(c.admin.host).toBe('127.0.0.1');
    expect(c.metastores.rw!.pool.minIdle).toBe(2);
    expect(c.metastores.rw!.timeouts.callMs).toBe(120_000);
    expect(c.metastores.rw!.consistency.mode).toBe('session');
    expect(c.metastores.rw!.replicas).toEqual([]);
  });

  it('names a malformed endpoint', () => {
    expect(errorOf(minimal.replace('127.0.0.1:9083', 'localhost'))).toMatch(/metastores\.rw\.primary\.endpoints\.0: expected host:port/);
  });

  it('names an unknown key (typos do not pass silently)', () => {
    expect(errorOf(`${minimal}\nservr: { port: 1 }\n`)).toMatch(/servr/);
  });

  it('names a default metastore that does not exist', () => {
    expect(errorOf(minimal.replace('defaultMetastore: rw', 'defaultMetastore: nope'))).toMatch(/defaultMetastore: 'nope' is not one of the metastores \(rw\)/);
  });

  it('requires the primary MySQL when replicas split reads', () => {
    const text = minimal.replace('    primary: { endpoints: ["127.0.0.1:9083"] }',
      '    primary: { endpoints: ["127.0.0.1:9083"] }\n    replicas: [{ name: r1, endpoints: ["127.0.0.1:9084"], mysql: { user: u } }]');
    expect(errorOf(text)).toMatch(/metastores\.rw\.primary\.mysql: replicas need the primary's MySQL/);
  });

  it('refuses a wrong type with the key and the expected type', () => {
    expect(errorOf(`${minimal}\nserver: { port: "ninety" }\n`)).toMatch(/server\.port: .*number/i);
  });

  it('refuses YAML that does not parse, naming the file', () => {
    expect(errorOf('metastores: [unclosed')).toMatch(/^test\.yaml: not valid YAML/);
  });

  it('names a missing file', () => {
    expect(() => loadConfig('/nonexistent/hms-router.yaml')).toThrow(/cannot read config file \/nonexistent\/hms-router\.yaml: ENOENT/);
  });

  it('loads a file from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hms-router-config-'));
    writeFileSync(join(dir, 'c.yaml'), minimal);
    expect(loadConfig(join(dir, 'c.yaml')).defaultMetastore).toBe('rw');
  });
});

describe('the shipped example config', () => {
  it('passes validation, routing map and flow policy included', async () => {
    const { readFileSync } = await import('node:fs');
    const file = join(__dirname, '..', '..', 'config', 'example.yaml');
    const config = parseConfig(readFileSync(file, 'utf8'), file);
    const map = routingMapOf(config);
    expect(map.flow?.classes.map((c) => c.name)).toEqual(['dashboards', 'etl']);
    expect(config.metastores.warehouse!.batching.batchSize).toBe(5000);
  });
});
