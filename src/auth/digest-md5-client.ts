/**
 * SASL DIGEST-MD5 (RFC 2831) as a client, for one purpose: signing in to a metastore with a Hadoop
 * delegation token, the way Hive's own clients act for an end user (HiveServer2 with doAs, jobs
 * launched by an engine). QOP auth only; no security layer. The username is the token's
 * identifier and the password its secret, each base64-encoded (Hadoop's SaslRpcServer encoding),
 * the realm and server name "default", the protocol unset: digest-uri "null/default", as Java's
 * SASL client builds it for TSaslClientTransport("DIGEST-MD5", null, null, "default", ...).
 *
 * Written here rather than taken from npm: the only package (sasl-digest-md5 0.1.0) is
 * unmaintained since 2012 and has no rspauth check. The computation is RFC 2831 section 2.1.2.1,
 * tested against the RFC's own example.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SaslClientMechanism } from './sasl-client';

export interface DigestCredentials {
  readonly username: string;
  readonly password: string;
  /** digest-uri: "<protocol>/<server name>". */
  readonly digestUri: string;
  readonly authzid?: string;
}

/** Parses a DIGEST-MD5 challenge: comma-separated key=value with quoted values. */
export function parseDigestChallenge(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\s*([A-Za-z0-9-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,]*))\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null && m[0].length > 0) {
    const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '').trim();
    out.set(m[1]!.toLowerCase(), value);
  }
  return out;
}

const md5 = (data: Buffer | string) => createHash('md5').update(data).digest();
const hex = (data: Buffer) => data.toString('hex');

/** The response value and the rspauth the server must answer with (RFC 2831 2.1.2.1 and 2.1.3). */
export function digestResponse(opts: {
  username: string; realm: string; password: string; nonce: string; cnonce: string; nc: string;
  qop: string; digestUri: string; authzid?: string;
}): { response: string; rspauth: string } {
  const userHash = md5(`${opts.username}:${opts.realm}:${opts.password}`);
  const a1Parts = [userHash, Buffer.from(`:${opts.nonce}:${opts.cnonce}`)];
  if (opts.authzid !== undefined && opts.authzid.length > 0) a1Parts.push(Buffer.from(`:${opts.authzid}`));
  const ha1 = hex(md5(Buffer.concat(a1Parts)));
  const tail = `${opts.nonce}:${opts.nc}:${opts.cnonce}:${opts.qop}`;
  const response = hex(md5(`${ha1}:${tail}:${hex(md5(`AUTHENTICATE:${opts.digestUri}`))}`));
  const rspauth = hex(md5(`${ha1}:${tail}:${hex(md5(`:${opts.digestUri}`))}`));
  return { response, rspauth };
}

const quote = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;

export class DigestMd5ClientMechanism implements SaslClientMechanism {
  readonly name = 'DIGEST-MD5';
  private expectedRspauth: string | null = null;

  constructor(private readonly credentials: DigestCredentials, private readonly makeCnonce = () => randomBytes(16).toString('base64')) {}

  async initialResponse(): Promise<Buffer> {
    return Buffer.alloc(0);
  }

  async evaluate(challenge: Buffer): Promise<{ response: Buffer; complete: boolean }> {
    const fields = parseDigestChallenge(challenge.toString('utf8'));
    if (this.expectedRspauth !== null) {
      if (fields.get('rspauth') !== this.expectedRspauth) {
        throw new Error('the server\'s DIGEST-MD5 rspauth does not match: it does not know the token\'s secret');
      }
      return { response: Buffer.alloc(0), complete: true };
    }
    const nonce = fields.get('nonce');
    if (nonce === undefined) throw new Error(`DIGEST-MD5 challenge without a nonce: ${challenge.toString('utf8').slice(0, 200)}`);
    const offered = (fields.get('qop') ?? 'auth').split(',').map((q) => q.trim());
    if (!offered.includes('auth')) {
      throw new Error(`the server offers DIGEST-MD5 QOP ${offered.join(', ')} only; hms-router supports QOP auth: set hadoop.rpc.protection=authentication on the metastore`);
    }
    const realm = fields.get('realm') ?? '';
    const cnonce = this.makeCnonce();
    const nc = '00000001';
    const { response, rspauth } = digestResponse({
      username: this.credentials.username, realm, password: this.credentials.password, nonce, cnonce, nc,
      qop: 'auth', digestUri: this.credentials.digestUri, authzid: this.credentials.authzid,
    });
    this.expectedRspauth = rspauth;
    const parts = [
      ...(fields.get('charset') === 'utf-8' ? ['charset=utf-8'] : []),
      `username=${quote(this.credentials.username)}`,
      `realm=${quote(realm)}`,
      `nonce=${quote(nonce)}`,
      `nc=${nc}`,
      `cnonce=${quote(cnonce)}`,
      `digest-uri=${quote(this.credentials.digestUri)}`,
      'maxbuf=65536',
      `response=${response}`,
      'qop=auth',
      ...(this.credentials.authzid ? [`authzid=${quote(this.credentials.authzid)}`] : []),
    ];
    return { response: Buffer.from(parts.join(','), 'utf8'), complete: false };
  }
}
