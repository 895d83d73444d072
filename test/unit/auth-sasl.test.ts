import { describe, expect, it } from 'vitest';
import { createServer, connect, Socket } from 'node:net';
import { SaslMessageReader, SaslStatus, encodeSaslMessage } from '../../src/auth/sasl-frames';
import { digestResponse, parseDigestChallenge, DigestMd5ClientMechanism } from '../../src/auth/digest-md5-client';
import { decodeDelegationToken, tokenDigestCredentials } from '../../src/auth/delegation-token';
import { hostBasedService, resolveHostPattern, describeLayers } from '../../src/auth/gssapi-client';
import { negotiateSaslClient, SaslClientMechanism } from '../../src/auth/sasl-client';

describe('Thrift SASL negotiation messages', () => {
  it('reads messages split at any byte and hands over what follows the negotiation', () => {
    const bytes = Buffer.concat([
      encodeSaslMessage(SaslStatus.START, 'GSSAPI'),
      encodeSaslMessage(SaslStatus.COMPLETE, Buffer.from([1, 2, 3])),
      Buffer.from([0, 0, 0, 9]), // the first data frame's length
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const reader = new SaslMessageReader();
      const seen = [];
      for (const part of [bytes.subarray(0, cut), bytes.subarray(cut)]) {
        reader.push(part);
        for (let m = reader.take(); m !== null; m = reader.take()) seen.push(m);
      }
      expect(seen.map((m) => m.status)).toEqual([SaslStatus.START, SaslStatus.COMPLETE]);
      expect(seen[0]!.payload.toString()).toBe('GSSAPI');
      expect([...seen[1]!.payload]).toEqual([1, 2, 3]);
      expect([...reader.rest()]).toEqual([0, 0, 0, 9]);
    }
  });

  it('refuses a stream that is not SASL (a plain Thrift call) with the reason', () => {
    const reader = new SaslMessageReader();
    reader.push(Buffer.from([0x80, 0x01, 0x00, 0x01, 0, 0, 0, 3]));
    expect(() => reader.take()).toThrow(/not a SASL negotiation message \(status byte 128\)/);
  });
});

describe('DIGEST-MD5', () => {
  it('computes the response and rspauth of RFC 2831\'s example', () => {
    const r = digestResponse({
      username: 'chris', realm: 'elwood.innosoft.com', password: 'secret', nonce: 'OA6MG9tEQGm2hh',
      cnonce: 'OA6MHXh6VqTrRk', nc: '00000001', qop: 'auth', digestUri: 'imap/elwood.innosoft.com',
    });
    expect(r.response).toBe('d388dad90d4bbd760a152321f2143af7');
    expect(r.rspauth).toBe('ea40f60335c427b5527b84dbabcdfffd');
  });

  it('parses a challenge with quoted and bare values', () => {
    const f = parseDigestChallenge('realm="default",nonce="a\\"b,c",qop="auth",charset=utf-8,algorithm=md5-sess');
    expect(Object.fromEntries(f)).toEqual({ realm: 'default', nonce: 'a"b,c', qop: 'auth', charset: 'utf-8', algorithm: 'md5-sess' });
  });

  it('answers the challenge, then checks the server\'s rspauth', async () => {
    const m = new DigestMd5ClientMechanism({ username: 'chris', password: 'secret', digestUri: 'imap/elwood.innosoft.com' }, () => 'OA6MHXh6VqTrRk');
    const first = await m.evaluate(Buffer.from('realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8'));
    expect(first.complete).toBe(false);
    expect(first.response.toString()).toContain('response=d388dad90d4bbd760a152321f2143af7');
    expect(first.response.toString()).toContain('digest-uri="imap/elwood.innosoft.com"');
    await expect(m.evaluate(Buffer.from('rspauth=00000000000000000000000000000000'))).rejects.toThrow(/rspauth does not match/);
  });

  it('refuses a server that offers only integrity or privacy, naming the setting', async () => {
    const m = new DigestMd5ClientMechanism({ username: 'u', password: 'p', digestUri: 'null/default' });
    await expect(m.evaluate(Buffer.from('realm="default",nonce="n",qop="auth-int,auth-conf"'))).rejects.toThrow(/hadoop.rpc.protection=authentication/);
  });
});

describe('delegation tokens', () => {
  // A token a kerberized Hive 3.1.3 metastore of the test stack issued (owner alice, renewer
  // hms-router, real user hms-router/localhost@HMS.TEST) with get_delegation_token; its metastore is gone.
  const issued = 'QAAFYWxpY2UKaG1zLXJvdXRlch1obXMtcm91dGVyL2xvY2FsaG9zdEBITVMuVEVTVIoBok4cNNSKAaJyKLjUAQEUGt1q-T6-40iET8KMUGF2gFSekiMVSElWRV9ERUxFR0FUSU9OX1RPS0VOAA';

  it('decodes the identifier, password, kind and service of a metastore\'s token', () => {
    const t = decodeDelegationToken(issued);
    expect(t.kind).toBe('HIVE_DELEGATION_TOKEN');
    expect(t.service).toBe('');
    expect(t.password.length).toBe(20); // HMAC-SHA1
    // The identifier starts with its version byte and the owner, renewer and real user as Text.
    expect(t.identifier.subarray(1).toString('latin1')).toContain('alice');
    expect(t.identifier.toString('latin1')).toContain('hms-router/localhost@HMS.TEST');
    const creds = tokenDigestCredentials(t);
    expect(Buffer.from(creds.username, 'base64').equals(t.identifier)).toBe(true);
    expect(Buffer.from(creds.password, 'base64').equals(t.password)).toBe(true);
  });

  it('refuses what is not a token', () => {
    expect(() => decodeDelegationToken('not a token!')).toThrow(/not a delegation token/);
    expect(() => decodeDelegationToken(issued.slice(0, 20))).toThrow(/truncated|bad length/);
  });
});

describe('service principals', () => {
  it('turns service/host@REALM into the host-based name GSSAPI imports, with _HOST resolved', () => {
    expect(hostBasedService(resolveHostPattern('hive/_HOST@EXAMPLE.COM', 'MS1.Example.com'))).toBe('hive@ms1.example.com');
    expect(() => hostBasedService('hive@EXAMPLE.COM')).toThrow(/service\/host@REALM/);
    expect(describeLayers(7)).toBe('auth, auth-int, auth-conf');
  });
});

describe('the SASL client negotiation', () => {
  const silent: SaslClientMechanism = {
    name: 'GSSAPI',
    initialResponse: async () => Buffer.from('token'),
    evaluate: async () => ({ response: Buffer.alloc(0), complete: true }),
  };

  /** A stand-in SASL server that answers the client's first messages with `reply` (real servers are in the integration tests). */
  async function standIn(reply: (socket: Socket) => void): Promise<{ port: number; close(): void }> {
    const server = createServer((s) => { s.once('data', () => reply(s)); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return { port: (server.address() as { port: number }).port, close: () => server.close() };
  }

  it('reports the server\'s refusal text', async () => {
    const server = await standIn((s) => s.write(encodeSaslMessage(SaslStatus.BAD, 'GSS initiate failed')));
    const socket = connect(server.port, '127.0.0.1');
    await expect(negotiateSaslClient(socket, silent, 2000, 'metastore x')).rejects.toThrow('metastore x refused SASL GSSAPI: GSS initiate failed');
    socket.destroy(); server.close();
  });

  it('says when the server closes without a word, and never hangs on a silent one', async () => {
    const closing = await standIn((s) => s.destroy());
    const a = connect(closing.port, '127.0.0.1');
    await expect(negotiateSaslClient(a, silent, 2000, 'metastore x')).rejects.toThrow(/closed the connection during SASL GSSAPI negotiation/);
    a.destroy(); closing.close();
    const silentServer = await standIn(() => undefined);
    const b = connect(silentServer.port, '127.0.0.1');
    await expect(negotiateSaslClient(b, silent, 300, 'metastore y')).rejects.toThrow(/did not finish within 300 ms/);
    b.destroy(); silentServer.close();
  });
});
