/**
 * The set_ugi identity a client gave. A metastore binds set_ugi to the connection, so backend
 * connections are pooled per identity and a connection never changes hands between identities.
 */
export interface Identity {
  readonly user: string;
  readonly groups: readonly string[];
}

/** The pool key of an identity; '' for clients that never called set_ugi. */
export function identityKey(identity: Identity | null): string {
  return identity === null ? '' : `${identity.user}\u0000${identity.groups.join('\u0000')}`;
}
