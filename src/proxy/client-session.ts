/**
 * What the router remembers about one client connection.
 */
import type { BackendConnection } from '../backends/backend-connection';
import type { Identity } from '../backends/identity';
import type { TokenHolder } from '../consistency/session-tokens';

export interface ClientSession {
  readonly id: number;
  readonly remoteAddress: string;
  /** From the client's last set_ugi, or its Kerberos principal; null until then. */
  identity: Identity | null;
  /** The principal a Kerberos client signed in as (then set_ugi does not change the identity); null for plain clients. */
  principal: string | null;
  /**
   * Backend connections this client owns outright, by endpoint address: after setMetaConf the
   * metastore session carries the client's settings, so the client keeps that connection.
   */
  readonly dedicated: Map<string, BackendConnection>;
  /** The session's GTID tokens, one per metastore (consistency mode 'session'). */
  readonly holders: Map<string, TokenHolder>;
}
