import { describe, expect, it } from 'vitest';
import { credentialCallDecision, shortName } from '../../src/auth/credential-calls';
import { decodeDelegationToken, tokenOwner } from '../../src/auth/delegation-token';
import { METHOD_CATALOG } from '../../src/hms/catalog';
import { configSchema } from '../../src/config/schema';
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { MessageType, TType, parseMessageHeader } from '../../src/thrift/protocol';
import type { RawMessage } from '../../src/thrift/message-reader';

// A token a kerberized Hive 3.1.3 metastore of the test stack issued: owner alice, renewer hms-router.
const ISSUED = 'QAAFYWxpY2UKaG1zLXJvdXRlch1obXMtcm91dGVyL2xvY2FsaG9zdEBITVMuVEVTVIoBok4cNNSKAaJyKLjUAQEUGt1q-T6-40iET8KMUGF2gFSekiMVSElWRV9ERUxFR0FUSU9OX1RPS0VOAA';

const config = configSchema.parse({
  kerberos: { principal: 'hms-router/r1@EXAMPLE.COM', keytab: '/dev/null' },
  metastores: {
    krb: { primary: { endpoints: ['ms:9083'] }, authentication: { type: 'kerberos', principal: 'hive/_HOST@EXAMPLE.COM' } },
    plain: { primary: { endpoints: ['ms2:9083'] } },
  },
  defaultMetastore: 'krb',
});

function call(method: string, ...strings: string[]): RawMessage {
  const w = new BinaryWriter().messageBegin(method, MessageType.CALL, 7);
  strings.forEach((s, i) => w.fieldBegin(TType.STRING, i + 1).string(s));
  const bytes = w.fieldStop().finish();
  return { bytes, header: parseMessageHeader(bytes, 0, bytes.length)! };
}

const entry = (name: string) => METHOD_CATALOG.find((e) => e.name === name)!;
const decide = (method: string, principal: string | null, metastore = 'krb', ...args: string[]) =>
  credentialCallDecision(entry(method), call(method, ...args), metastore, config.metastores[metastore], principal);

describe('credential calls toward a kerberized metastore', () => {
  it('are the catalog\'s token and store methods', () => {
    expect(METHOD_CATALOG.filter((e) => e.credentials !== undefined).map((e) => `${e.name}:${e.credentials}`).sort()).toEqual([
      'add_master_key:store', 'add_token:store', 'cancel_delegation_token:token', 'get_all_token_identifiers:store',
      'get_delegation_token:token-get', 'get_master_keys:store', 'get_token:store', 'remove_master_key:store',
      'remove_token:store', 'renew_delegation_token:token', 'update_master_key:store',
    ]);
  });

  it('never reach the token store or master keys', () => {
    expect(decide('get_master_keys', 'alice@EXAMPLE.COM')).toMatchObject({ refusal: expect.stringMatching(/^get_master_keys refused: the token store and master keys/) });
  });

  it('give a signed-in caller its own tokens only, made as the router', () => {
    expect(decide('get_delegation_token', 'alice@EXAMPLE.COM', 'krb', 'alice', 'hms-router')).toEqual({ asRouter: true });
    expect(decide('get_delegation_token', 'alice@EXAMPLE.COM', 'krb', 'alice@EXAMPLE.COM', 'x')).toEqual({ asRouter: true });
    expect(decide('get_delegation_token', 'alice@EXAMPLE.COM', 'krb', 'bob', 'hms-router'))
      .toMatchObject({ refusal: expect.stringContaining("alice@EXAMPLE.COM may only ask for its own delegation tokens (this one's owner is 'bob')") });
    expect(decide('renew_delegation_token', 'alice@HMS.TEST', 'krb', ISSUED)).toEqual({ asRouter: true });
    expect(decide('cancel_delegation_token', 'bob@HMS.TEST', 'krb', ISSUED)).toMatchObject({ refusal: expect.stringContaining("owner is 'alice'") });
    expect(decide('renew_delegation_token', 'alice@HMS.TEST', 'krb', 'not a token')).toMatchObject({ refusal: expect.stringContaining('is not a delegation token') });
  });

  it('refuse a caller that did not sign in with Kerberos', () => {
    expect(decide('get_delegation_token', null, 'krb', 'alice', 'x')).toMatchObject({ refusal: expect.stringContaining('only to clients that sign in with Kerberos') });
  });

  it('pass unchanged toward a plain metastore', () => {
    expect(decide('get_delegation_token', null, 'plain', 'alice', 'x')).toBeNull();
    expect(decide('get_master_keys', null, 'plain')).toBeNull();
  });

  it('read the owner out of a real token, and short names as Hadoop\'s default rule does', () => {
    expect(tokenOwner(decodeDelegationToken(ISSUED))).toBe('alice');
    expect(shortName('hms-router/r1@EXAMPLE.COM')).toBe('hms-router');
    expect(shortName('alice@EXAMPLE.COM')).toBe('alice');
  });
});
