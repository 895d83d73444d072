/**
 * How the router signs in to one kerberized metastore endpoint for a caller:
 *   - no caller identity, or impersonation 'router': SASL GSSAPI as the router's principal;
 *   - a caller identity (set_ugi user, or the Kerberos principal a client authenticated as):
 *     SASL DIGEST-MD5 with a delegation token the metastore issued for that user to the router.
 *
 * Why tokens: a Hive metastore takes the end user of a SASL connection from the authenticated
 * principal (GSSAPI; Hadoop's callback refuses an authorization id other than the principal) or
 * from the token's owner (DIGEST-MD5); set_ugi is ignored under SASL. So the one way to act as
 * alice is the one Hive's own services use: as a Hadoop proxy user (hadoop.proxyuser.<router>.*),
 * get_delegation_token(alice, router) over the router's own GSSAPI connection, then sign in with
 * that token. The metastore checks the proxy-user rule when it issues the token.
 *
 * Tokens are kept per user for tokenReuseMs and fetched again after that, or at once when the
 * metastore refuses one (a restarted metastore forgets the tokens it kept in memory).
 */
import { GssapiClientMechanism, resolveHostPattern } from './gssapi-client';
import { DigestMd5ClientMechanism } from './digest-md5-client';
import { decodeDelegationToken, tokenDigestCredentials, DelegationToken } from './delegation-token';
import type { SaslClientMechanism } from './sasl-client';
import type { RouterCredentials } from './router-credentials';
import type { Endpoint, MetastoreAuthConfig } from '../config/schema';

/** digest-uri of Hive's token sign-in: protocol unset ("null") and server name "default". */
const HIVE_DIGEST_URI = 'null/default';

/** Fetches a delegation token for `owner` (renewer: the router) over a router-identity connection. */
export type TokenFetcher = (owner: string, renewer: string) => Promise<string>;

interface CachedToken {
  readonly token: DelegationToken;
  readonly fetchedAt: number;
}

export class MetastoreAuthenticator {
  private readonly tokens = new Map<string, Promise<CachedToken>>();
  readonly servicePrincipal: string;

  constructor(
    private readonly config: Extract<MetastoreAuthConfig, { type: 'kerberos' }>,
    private readonly credentials: RouterCredentials,
    endpoint: Endpoint,
    private readonly fetchToken: TokenFetcher,
    private readonly now: () => number = Date.now,
  ) {
    this.servicePrincipal = resolveHostPattern(config.principal, endpoint.host);
  }

  /** Whether connections of `user` act as that user (token) or as the router. */
  impersonates(user: string | null): user is string {
    return user !== null && this.config.impersonation === 'token' && user !== this.credentials.shortName && user !== this.credentials.principal;
  }

  /** The mechanism a new connection for `user` (null: no caller identity) signs in with. */
  async mechanismFor(user: string | null): Promise<SaslClientMechanism> {
    if (!this.impersonates(user)) return new GssapiClientMechanism(this.servicePrincipal, this.credentials.principal);
    const { token } = await this.tokenFor(user);
    return new DigestMd5ClientMechanism({ ...tokenDigestCredentials(token), digestUri: HIVE_DIGEST_URI });
  }

  /** The metastore refused `user`'s token: the next connection fetches a new one. */
  forget(user: string): void {
    this.tokens.delete(user);
  }

  private tokenFor(user: string): Promise<CachedToken> {
    const cached = this.tokens.get(user);
    if (cached !== undefined) {
      return cached.then((c) => {
        if (this.now() - c.fetchedAt < this.config.tokenReuseMs) return c;
        if (this.tokens.get(user) === cached) this.tokens.delete(user);
        return this.tokenFor(user);
      });
    }
    const fetching = this.fetchToken(user, this.credentials.shortName).then((encoded) => ({
      token: decodeDelegationToken(encoded), fetchedAt: this.now(),
    }));
    this.tokens.set(user, fetching);
    fetching.catch(() => { if (this.tokens.get(user) === fetching) this.tokens.delete(user); });
    return fetching;
  }
}
