/**
 * One cluster worker: today's router (startRouter) on the shared Thrift port, without the admin
 * port (the primary serves it) and without watching the config file (the primary does, and hands
 * every worker the same text). It answers the primary's questions from its AdminState and drains
 * on the primary's shutdown message or on SIGTERM sent to it alone.
 */
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { createLogger } from '../log';
import { startRouter, RunningRouter } from '../server';
import { isToWorker, Question, ToPrimary, ToWorker } from './messages';

function send(message: ToPrimary): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) { resolve(); return; }
    process.send(message, undefined, {}, () => resolve());
  });
}

async function answer(router: RunningRouter, question: Question): Promise<unknown> {
  const state = router.adminState;
  switch (question.what) {
    case 'ready': return state.accepting() ? await state.notReadyReason() : 'draining: not accepting new connections';
    case 'routing': return state.routing();
    case 'backends': return state.backends();
    case 'metrics': return router.metrics.registry.getMetricsAsJSON();
    case 'reload': return router.reloadRouting(question.source, question.text);
  }
}

export async function runWorker(): Promise<void> {
  const id = cluster.worker?.id ?? 0;
  // A terminal's Ctrl-C and SIGHUP reach the whole process group: the primary acts on them and
  // tells the workers (a reload, a shutdown), so a worker must not act (or die) on its own.
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});

  const start = await new Promise<Extract<ToWorker, { hms: 'start' }>>((resolve) => {
    const onMessage = (message: unknown): void => {
      if (isToWorker(message) && message.hms === 'start') {
        process.off('message', onMessage);
        resolve(message);
      }
    };
    process.on('message', onMessage);
    void send({ hms: 'hello' });
  });
  const log: Logger = createLogger(start.config.log.level).child({ worker: id });

  let router: RunningRouter;
  try {
    router = await startRouter(start.config, log, { configPath: start.configPath, watchConfig: false, adminServer: false });
    // A replacement worker catches up with the reloads made since the primary started.
    if (start.routing !== null) {
      const caughtUp = router.reloadRouting(start.routing.source, start.routing.text);
      if (!caughtUp.ok) throw new Error(`the routing map the other workers run is refused here: ${caughtUp.problems.join('; ')}`);
    }
  } catch (err) {
    await send({ hms: 'failed', message: (err as Error).message });
    process.exit(1);
  }

  let stopping = false;
  const stop = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'worker shutting down: finishing calls in flight');
    router.close().then(() => process.exit(0), (err: Error) => {
      log.error({ err: err.message }, 'worker shutdown failed');
      process.exit(1);
    });
  };
  process.on('message', (message: unknown) => {
    if (!isToWorker(message)) return;
    if (message.hms === 'shutdown') { stop('shutdown asked by the primary'); return; }
    if (message.hms !== 'ask') return;
    answer(router, message.question).then(
      (value) => send({ hms: 'answer', id: message.id, ok: true, value: value ?? null }),
      (err: Error) => send({ hms: 'answer', id: message.id, ok: false, error: err.message }),
    );
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  // A primary that is killed takes its workers with it: node:cluster ends a worker whose IPC
  // channel closes unexpectedly, at once.
  await send({ hms: 'started', port: router.port });
}
