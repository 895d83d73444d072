/**
 * Calls that issue or read credentials (delegation tokens, the token store, master keys; the
 * catalog marks them `credentials`). Toward a kerberized metastore the router would make them
 * with its own principal's rights: a caller could be handed a token for any user it names, or the
 * metastore's master keys. Until the router authenticates its own clients with Kerberos, it
 * refuses them there, with the reason; toward a plain metastore they pass as any call.
 */
import type { MethodEntry } from '../hms/method-entry';
import type { MetastoreConfig } from '../config/schema';

export function credentialCallRefusal(entry: MethodEntry | null, metastoreName: string, metastore: MetastoreConfig | undefined): string | null {
  if (entry?.credentials !== true || metastore?.authentication.type !== 'kerberos') return null;
  return `${entry.name} refused: metastore '${metastoreName}' is kerberized and hms-router does not authenticate its own clients with Kerberos yet, `
    + 'so delegation tokens and master keys are not handed out through it; ask the metastore directly with a Kerberos login';
}
