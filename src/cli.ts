#!/usr/bin/env node
/**
 * hms-router --config <file.yaml>
 * server.workers > 1: this process is the cluster primary (src/cluster/primary.ts) and forks the
 * workers, which run this file again as cluster workers (src/cluster/worker.ts).
 */
import cluster from 'node:cluster';
import { loadConfig, ConfigError } from './config/load';
import { createLogger } from './log';
import { startRouter } from './server';
import { startCluster, workerCount } from './cluster/primary';
import { runWorker } from './cluster/worker';

function usage(): never {
  process.stderr.write('usage: hms-router --config <file.yaml>\n');
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const i = argv.indexOf('--config');
  const path = i >= 0 ? argv[i + 1] : undefined;
  if (path === undefined) usage();
  const config = loadConfig(path);
  const log = createLogger(config.log.level);
  const workers = workerCount(config.server.workers);
  const router = workers > 1
    ? await startCluster(config, log, { configPath: path, workers })
    : await startRouter(config, log, { configPath: path });
  process.on('SIGHUP', () => { void router.reloadRouting(); });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing calls in flight');
    router.close().then(() => process.exit(0), (err: Error) => {
      log.error({ err: err.message }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

(cluster.isWorker ? runWorker() : main(process.argv.slice(2))).catch((err: Error) => {
  process.stderr.write(`hms-router: ${err instanceof ConfigError ? err.message : `error: ${err.message}`}\n`);
  process.exit(1);
});
