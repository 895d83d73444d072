/**
 * Starts a router in the test process, in front of the local stack's metastores, with its log lines
 * captured for assertions.
 */
import { Writable } from 'node:stream';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, RouterConfig } from '../../src/config/schema';
import { createLogger } from '../../src/log';
import { startRouter, RunningRouter } from '../../src/server';
import { status } from '../../stack/stack';

export interface TestRouter extends RunningRouter {
  readonly config: RouterConfig;
  /** The config file the router was started from (it reloads its routing map from there). */
  readonly configPath: string;
  /** Every log line so far, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

/** A router on free ports whose default metastore is the stack's rw metastore. `raw` is merged into the config. */
export async function startTestRouter(raw: Record<string, unknown> = {}, options: { watchConfig?: boolean } = {}): Promise<TestRouter> {
  const stack = status();
  const document = {
    server: { port: 0, host: '127.0.0.1', drainTimeoutMs: 5000 },
    admin: { port: 0 },
    log: { level: 'debug' },
    metastores: { rw: { primary: { endpoints: [`127.0.0.1:${stack.metastores.rw.port}`] } } },
    defaultMetastore: 'rw',
    ...raw,
  };
  const config = configSchema.parse(document);
  // JSON is YAML: the file the router reloads from.
  const configPath = join(mkdtempSync(join(tmpdir(), 'hms-router-test-')), 'router.yaml');
  writeFileSync(configPath, JSON.stringify(document, null, 2));
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const router = await startRouter(config, createLogger(config.log.level, sink), { configPath, watchConfig: options.watchConfig ?? false });
  return {
    ...router,
    config,
    configPath,
    logs,
    async metric(name, labels = {}) {
      // Histograms list their _count/_sum/_bucket series under the histogram's name.
      const json = await router.metrics.registry.getMetricsAsJSON();
      let sum = 0;
      for (const m of json) {
        for (const v of m.values as Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>) {
          if ((v.metricName ?? m.name) !== name) continue;
          if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
        }
      }
      return sum;
    },
  };
}
