/** The message a config text is refused with (fails the test when it is accepted). */
import { expect } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load';

export function configErrorOf(text: string): string {
  try {
    parseConfig(text, 'test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('config was accepted');
}
