/**
 * One pino logger for the process: JSON lines on stdout. Secrets are redacted wherever they appear
 * in a logged object.
 */
import pino, { Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'hms-router' },
    redact: { paths: ['*.password', '*.token', 'password', 'token', '*.*.password'], censor: '[redacted]' },
  });
}
