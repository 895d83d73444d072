/**
 * The IPC messages between the cluster primary and its workers (node:cluster's channel, JSON).
 * Every message carries `hms`, so prom-client's or node's own messages on the same channel are
 * told apart.
 *
 *   worker  -> primary   hello                       ready to receive its start message
 *   primary -> worker    start {config, routing}     the config the primary validated, and the
 *                                                    routing text of the last reload, if any
 *   worker  -> primary   started {port} | failed {message}
 *   primary -> worker    ask {id, question}          answered by answer {id, ok, value | error}
 *   primary -> worker    shutdown                    drain and exit (as SIGTERM does alone)
 */
import type { RouterConfig } from '../config/schema';
import type { ReloadSource } from '../routing/map-reloader';

/** A reload's file text, as every worker is given it. */
export interface RoutingText {
  readonly source: ReloadSource;
  readonly text: string;
}

export type Question =
  | { readonly what: 'ready' }
  | { readonly what: 'routing' }
  | { readonly what: 'backends' }
  | { readonly what: 'metrics' }
  | { readonly what: 'reload'; readonly source: ReloadSource; readonly text: string };

export type ToWorker =
  | { readonly hms: 'start'; readonly config: RouterConfig; readonly configPath: string; readonly routing: RoutingText | null }
  | { readonly hms: 'ask'; readonly id: number; readonly question: Question }
  | { readonly hms: 'shutdown' };

export type ToPrimary =
  | { readonly hms: 'hello' }
  | { readonly hms: 'started'; readonly port: number }
  | { readonly hms: 'failed'; readonly message: string }
  | { readonly hms: 'answer'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly hms: 'answer'; readonly id: number; readonly ok: false; readonly error: string };

function tagged(message: unknown): message is { hms: string } {
  return typeof message === 'object' && message !== null && typeof (message as { hms?: unknown }).hms === 'string';
}

export function isToWorker(message: unknown): message is ToWorker {
  return tagged(message) && ['start', 'ask', 'shutdown'].includes(message.hms);
}

export function isToPrimary(message: unknown): message is ToPrimary {
  return tagged(message) && ['hello', 'started', 'failed', 'answer'].includes(message.hms);
}
