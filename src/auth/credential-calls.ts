/**
 * Calls about credentials (the catalog marks them `credentials`), toward a kerberized metastore.
 * There the router can only make them with its own principal, whose proxy-user rights would let a
 * caller obtain a token for any user it names, or read the metastore's master keys. So:
 *
 *   token store and master keys ('store')           refused, always
 *   get_delegation_token ('token-get')               a Kerberos-authenticated caller asking for a
 *                                                    token it owns (owner = its principal or that
 *                                                    principal's short name): made as the router
 *                                                    (the metastore checks the router's proxy-user
 *                                                    rule, the token's real user is the router);
 *                                                    any other owner, or a plain caller: refused
 *   renew/cancel_delegation_token ('token')          the same, for a token the caller owns; the
 *                                                    metastore then applies its own renewer rule
 *                                                    (renewal works for tokens whose renewer is the
 *                                                    router's short name)
 *
 * Toward a plain metastore they pass as any call. The tokens come from the metastore the call is
 * routed to (calls naming no database: the default metastore), and work only there: each Hive
 * metastore keeps the tokens it issued.
 */
import type { MethodEntry } from '../hms/method-entry';
import type { MetastoreConfig } from '../config/schema';
import type { RawMessage } from '../thrift/message-reader';
import { decodeStruct } from '../thrift/value-decoder';
import { decodeDelegationToken, tokenOwner } from './delegation-token';

export type CredentialDecision = { readonly refusal: string } | { readonly asRouter: true } | null;

/** alice@REALM, alice/host@REALM -> alice (Hadoop's default auth_to_local rule). */
export function shortName(principal: string): string {
  return principal.split(/[/@]/)[0]!;
}

export function credentialCallDecision(entry: MethodEntry | null, message: RawMessage, metastoreName: string,
  metastore: MetastoreConfig | undefined, principal: string | null): CredentialDecision {
  const kind = entry?.credentials;
  if (kind === undefined || metastore?.authentication.type !== 'kerberos') return null;
  const method = entry!.name;
  const refuse = (why: string) => ({ refusal: `${method} refused: ${why}` });
  if (kind === 'store') return refuse(`the token store and master keys of kerberized metastore '${metastoreName}' are not reachable through hms-router`);
  if (principal === null) {
    return refuse(`delegation tokens of kerberized metastore '${metastoreName}' are handed out through hms-router only to clients that sign in with Kerberos (server.authentication: kerberos)`);
  }
  let owner: string;
  try {
    const first = decodeStruct(message.bytes, message.header.bodyOffset).value[1];
    if (typeof first !== 'string') return refuse('the call has no token owner or token (argument 1)');
    owner = kind === 'token-get' ? first : tokenOwner(decodeDelegationToken(first));
  } catch (err) {
    return refuse(`argument 1 is not a delegation token: ${(err as Error).message}`);
  }
  if (owner !== principal && owner !== shortName(principal)) {
    return refuse(`${principal} may only ${kind === 'token-get' ? 'ask for' : 'renew or cancel'} its own delegation tokens (this one's owner is '${owner}')`);
  }
  return { asRouter: true };
}
