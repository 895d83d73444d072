/** An accepting GSSAPI security context (Kerberos), owned by one client connection. */
export interface AcceptorContext { readonly __brand: 'AcceptorContext' }

/**
 * A new context. Credentials: every key of the keytab named by KRB5_KTNAME (the router's own),
 * as GSS_C_NO_CREDENTIAL does.
 */
export function createContext(): AcceptorContext;
/** Feeds one token of the initiator; returns the token to send back (may be empty) and whether the context is established. */
export function step(context: AcceptorContext, token: Buffer): { token: Buffer; complete: boolean };
/** The authenticated initiator's principal, e.g. alice@EXAMPLE.COM (once complete). */
export function peerName(context: AcceptorContext): string;
/** gss_wrap with confidentiality off (integrity only) or on. */
export function wrap(context: AcceptorContext, data: Buffer, confidential: boolean): Buffer;
/** gss_unwrap. */
export function unwrap(context: AcceptorContext, data: Buffer): { data: Buffer; confidential: boolean };
/** Deletes the context now (it is also deleted when garbage-collected). */
export function release(context: AcceptorContext): void;
