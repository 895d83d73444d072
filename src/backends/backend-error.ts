/**
 * Failures talking to a metastore, as values with a stable code. The message names the endpoint,
 * what happened, and what to check.
 */
export type BackendErrorCode =
  | 'connect_failed'
  | 'connect_timeout'
  | 'unreachable' // a recent connect failed; failing fast instead of trying again at once
  | 'deadline'
  | 'connection_closed'
  | 'malformed_reply'
  | 'pool_timeout'
  | 'set_ugi_failed'
  | 'auth_failed'; // SASL negotiation with the metastore failed (Kerberos credentials, a refused token)

export class BackendError extends Error {
  constructor(
    readonly code: BackendErrorCode,
    readonly endpoint: string,
    message: string,
    /** True when the request bytes may have reached the metastore (a write may have executed). */
    readonly maybeSent: boolean,
  ) {
    super(message);
    this.name = 'BackendError';
  }
}
