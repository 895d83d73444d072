/**
 * SASL GSSAPI (RFC 4752) as a client, on the maintained `kerberos` binding (MIT GSSAPI
 * underneath): the Kerberos context exchange, then the security-layer exchange. hms-router
 * always selects "no security layer" (QOP auth): frames after the negotiation are plain, so the
 * router can keep passing bytes through. A server that does not offer it (QOP auth-int or
 * auth-conf only: hadoop.rpc.protection integrity or privacy) is refused with that reason.
 */
import * as kerberos from 'kerberos';
import type { SaslClientMechanism } from './sasl-client';

/** RFC 4752 security-layer bits. */
const LAYER_NONE = 1;
const LAYER_INTEGRITY = 2;
const LAYER_CONFIDENTIALITY = 4;

/** "hive/host@REALM" -> "hive@host": the host-based form GSSAPI imports (the realm comes from krb5.conf). */
export function hostBasedService(principal: string): string {
  const m = /^([^/@]+)\/([^/@]+)(?:@.+)?$/.exec(principal);
  if (m === null) throw new Error(`service principal '${principal}' is not of the form service/host@REALM`);
  return `${m[1]}@${m[2]}`;
}

/** Replaces _HOST in a configured principal with the host being connected to, as Hadoop does. */
export function resolveHostPattern(principal: string, host: string): string {
  return principal.replace('_HOST', host.toLowerCase());
}

export function describeLayers(mask: number): string {
  const names = [];
  if (mask & LAYER_NONE) names.push('auth');
  if (mask & LAYER_INTEGRITY) names.push('auth-int');
  if (mask & LAYER_CONFIDENTIALITY) names.push('auth-conf');
  return names.length > 0 ? names.join(', ') : 'none';
}

export class GssapiClientMechanism implements SaslClientMechanism {
  readonly name = 'GSSAPI';
  private client: kerberos.KerberosClient | null = null;

  /**
   * `servicePrincipal`: the server's principal (hive/host@REALM); `clientPrincipal`: the
   * router's own, whose credentials come from the client keytab (KRB5_CLIENT_KTNAME).
   */
  constructor(private readonly servicePrincipal: string, private readonly clientPrincipal: string | undefined) {}

  async initialResponse(): Promise<Buffer> {
    this.client = await kerberos.initializeClient(hostBasedService(this.servicePrincipal),
      this.clientPrincipal === undefined ? {} : { principal: this.clientPrincipal });
    return Buffer.from(await this.client.step(''), 'base64');
  }

  async evaluate(challenge: Buffer): Promise<{ response: Buffer; complete: boolean }> {
    const client = this.client;
    if (client === null) throw new Error('GSSAPI challenge before the initial response');
    if (!client.contextComplete) {
      const response = await client.step(challenge.toString('base64'));
      return { response: Buffer.from(response ?? '', 'base64'), complete: false };
    }
    // Security-layer offer: [layers][max buffer, 3 bytes], wrapped by the server.
    const offer = Buffer.from(await client.unwrap(challenge.toString('base64')), 'base64');
    if (offer.length < 4) throw new Error(`the server's security-layer offer is ${offer.length} bytes, expected 4`);
    const layers = offer[0]!;
    if ((layers & LAYER_NONE) === 0) {
      throw new Error(`the server offers QOP ${describeLayers(layers)} only; hms-router supports QOP auth (no security layer): set hadoop.rpc.protection=authentication on the metastore`);
    }
    // Selected: no security layer, max buffer 0; no authorization id (the server takes the
    // authenticated principal).
    const choice = Buffer.from([LAYER_NONE, 0, 0, 0]);
    const wrapped = await client.wrap(choice.toString('base64'), {});
    return { response: Buffer.from(wrapped, 'base64'), complete: true };
  }
}
