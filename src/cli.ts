#!/usr/bin/env node
/**
 * hms-router --config <file.yaml>
 */
import { loadConfig, ConfigError } from './config/load';
import { createLogger } from './log';
import { startRouter } from './server';

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
  const router = await startRouter(config, log, { configPath: path });
  process.on('SIGHUP', () => { router.reloadRouting(); });
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

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`hms-router: ${err instanceof ConfigError ? err.message : `error: ${err.message}`}\n`);
  process.exit(1);
});
