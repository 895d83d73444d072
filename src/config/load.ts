/**
 * Reads and validates a config file. Errors name the file, the key and the reason.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { configSchema, RouterConfig } from './schema';
import { compileRoutingMap, RoutingMap } from '../routing/routing-map';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function parseConfig(text: string, source: string): RouterConfig {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) throw new ConfigError(describeIssues(source, result.error));
  routingMapOf(result.data, source);
  return result.data;
}

/** The config's routing map, compiled; every problem is named with its key. */
export function routingMapOf(config: RouterConfig, source = 'config'): RoutingMap {
  const input = { ...(config.routing as object | undefined ?? {}), defaultMetastore: config.defaultMetastore };
  const compiled = compileRoutingMap(input, Object.keys(config.metastores));
  if (!compiled.ok) {
    throw new ConfigError(`${source}: invalid routing map\n${compiled.problems.map((p) => `  routing.${p}`).join('\n')}`);
  }
  return compiled.map;
}

export function loadConfig(path: string): RouterConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseConfig(text, path);
}

function describeIssues(source: string, error: z.ZodError): string {
  const lines = error.issues.map((issue) => {
    const key = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    return `  ${key}: ${issue.message}`;
  });
  return `${source}: invalid config\n${lines.join('\n')}`;
}
