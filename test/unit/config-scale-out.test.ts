/**
 * The scale-out settings: consistency.tokenStore, server.proxyProtocol, and the combination the
 * router refuses (workers sharing a port with per-process client-mode tokens).
 */
import { describe, it, expect } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { configErrorOf } from '../support/config-errors';

function config(top: string, mode = 'client'): string {
  return `
${top}
metastores:
  rw:
    primary: { endpoints: ["127.0.0.1:9083"], mysql: { port: 3306, user: router } }
    replicas: [{ name: r1, endpoints: ["127.0.0.1:9084"], mysql: { port: 3307, user: router } }]
    consistency: { mode: ${mode} }
defaultMetastore: rw
`;
}

describe('consistency.tokenStore and server.proxyProtocol', () => {
  it('defaults: local tokens, no PROXY protocol', () => {
    const c = parseConfig(config(''), 'test.yaml');
    expect(c.consistency.tokenStore).toEqual({ type: 'local' });
    expect(c.server.proxyProtocol).toBe(false);
  });

  it('redis: url required, defaults for the rest', () => {
    const c = parseConfig(config('consistency: { tokenStore: { type: redis, url: "redis://store:6379" } }'), 'test.yaml');
    expect(c.consistency.tokenStore).toEqual({ type: 'redis', url: 'redis://store:6379', keyPrefix: 'hms-router:', timeoutMs: 50, writeTimeoutMs: 1000, connectWaitMs: 2000 });
    expect(configErrorOf(config('consistency: { tokenStore: { type: redis } }'))).toMatch(/consistency\.tokenStore\.url/);
    expect(configErrorOf(config('consistency: { tokenStore: { type: redis, url: "store:6379" } }'))).toMatch(/redis:\/\/host:port/);
    expect(configErrorOf(config('consistency: { tokenStore: { type: memcached } }'))).toMatch(/local or redis/);
  });

  it('refuses workers > 1 with client mode and per-process tokens, naming the fix', () => {
    const message = configErrorOf(config('server: { workers: 2 }'));
    expect(message).toMatch(/consistency\.tokenStore/);
    expect(message).toMatch(/type: redis/);
    expect(message).toMatch(/server\.workers: 1/);
    // Accepted with the shared store, or in a mode that keeps no cross-connection state.
    expect(parseConfig(config('server: { workers: 2 }\nconsistency: { tokenStore: { type: redis, url: "redis://s:6379" } }'), 'test.yaml').server.workers).toBe(2);
    expect(parseConfig(config('server: { workers: auto }', 'session'), 'test.yaml').server.workers).toBe('auto');
  });

  it('proxyProtocol must be a boolean', () => {
    expect(parseConfig(config('server: { proxyProtocol: true }'), 'test.yaml').server.proxyProtocol).toBe(true);
    expect(configErrorOf(config('server: { proxyProtocol: v2 }'))).toMatch(/server\.proxyProtocol/);
  });
});
