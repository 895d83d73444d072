/**
 * The router's own Kerberos identity: its principal and keytab, handed to MIT GSSAPI through the
 * process environment (the `kerberos` binding reads credentials the way every MIT client does).
 *
 * - KRB5_CLIENT_KTNAME: MIT's client keytab. GSSAPI gets the router's initial ticket from it and,
 *   when that ticket nears its end (MIT refreshes at half its lifetime), a fresh one: the router's
 *   credentials are renewed from the keytab without code of ours.
 * - KRB5_KTNAME: the same keytab, for accepting clients' Kerberos sign-ins.
 * - KRB5CCNAME: a memory ccache private to this process, so the router neither reads nor
 *   overwrites the tickets of the user who started it.
 * - KRB5_CONFIG: the realm's krb5.conf when configured.
 * One process has one Kerberos identity: the environment is process-wide.
 */
import { accessSync, constants } from 'node:fs';
import * as kerberos from 'kerberos';
import type { RouterKerberosConfig } from '../config/schema';

let ccacheSequence = 0;

export class RouterCredentials {
  readonly principal: string;
  /** The principal's first component, what Hadoop's auth_to_local rules make of it by default. */
  readonly shortName: string;
  readonly realm: string;

  constructor(private readonly config: RouterKerberosConfig, env: NodeJS.ProcessEnv = process.env) {
    this.principal = config.principal;
    this.shortName = config.principal.split(/[/@]/)[0]!;
    this.realm = config.principal.slice(config.principal.lastIndexOf('@') + 1);
    readable(config.keytab, 'kerberos.keytab');
    if (config.krb5Conf !== undefined) {
      readable(config.krb5Conf, 'kerberos.krb5Conf');
      env.KRB5_CONFIG = config.krb5Conf;
    }
    env.KRB5_CLIENT_KTNAME = config.keytab;
    // The accepting side (clients signing in to the router) uses the same keytab.
    env.KRB5_KTNAME = config.keytab;
    // A new ccache for each start: tickets left by an earlier start (in tests, another router of
    // the same process) must not stand in for the keytab that check() is there to prove.
    env.KRB5CCNAME = `MEMORY:hms-router-${process.pid}-${++ccacheSequence}`;
  }

  /**
   * Gets the router's credentials from the keytab now (a context for its own service principal,
   * which exists whenever it has the service/host form), so a keytab without this principal's
   * current keys, an unknown principal or an unreachable KDC stops the start with the reason
   * instead of failing the first call. A principal without a host part is checked by first use.
   */
  async check(): Promise<void> {
    const m = /^([^/@]+)\/([^/@]+)@/.exec(this.principal);
    if (m === null) return;
    try {
      const client = await kerberos.initializeClient(`${m[1]}@${m[2]}`, { principal: this.principal });
      await client.step('');
    } catch (err) {
      throw new Error(`cannot get Kerberos credentials for ${this.principal} from keytab ${this.config.keytab}: ${kerberosMessage(err)}; `
        + `check that the keytab holds this principal's current keys (klist -kt ${this.config.keytab}) and that the KDC of ${this.realm} is reachable (krb5.conf)`);
    }
  }
}

function readable(path: string, key: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    throw new Error(`${key}: cannot read '${path}' (${(err as NodeJS.ErrnoException).code ?? String(err)}); fix the path or the file's permissions`);
  }
}

/** The binding's messages carry GSSAPI's major text and the mechanism's minor text; keep both, one line. */
export function kerberosMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
}
