/**
 * Starts the real local stack before the integration tests and stops it afterwards, even when they
 * fail. A stack that was already running (a developer's) is left running.
 */
import { up, down, status } from '../../stack/stack';
import { stackLayout } from '../../stack/layout';

let startedHere = false;

export async function setup(): Promise<void> {
  const layout = stackLayout();
  if (status(layout).running) return;
  startedHere = true;
  const t = Date.now();
  await up(layout, (line) => process.stderr.write(`stack: ${line}\n`));
  process.stderr.write(`stack: ready for integration tests in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
}

export async function teardown(): Promise<void> {
  if (startedHere) await down(stackLayout(), (line) => process.stderr.write(`stack: ${line}\n`));
}
