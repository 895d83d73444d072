/**
 * Hadoop delegation tokens as a metastore hands them out (get_delegation_token returns
 * Token.encodeToUrlString()): URL-safe base64 of a Writable with four fields, each a Hadoop
 * variable-length int and bytes: identifier, password, kind, service. The router needs the
 * identifier and the password for DIGEST-MD5, nothing else; it never logs either.
 */
export interface DelegationToken {
  readonly identifier: Buffer;
  readonly password: Buffer;
  readonly kind: string;
  readonly service: string;
}

/** Hadoop's WritableUtils.readVLong. */
function readVLong(buf: Buffer, pos: number): { value: number; next: number } {
  if (pos >= buf.length) throw new Error('token is truncated');
  const first = buf.readInt8(pos);
  if (first >= -112) return { value: first, next: pos + 1 };
  const negative = first < -120;
  const size = negative ? -119 - first : -111 - first; // bytes including the first
  if (pos + size > buf.length) throw new Error('token is truncated');
  let value = 0;
  for (let i = 1; i < size; i++) value = value * 256 + buf[pos + i]!;
  if (value > Number.MAX_SAFE_INTEGER) throw new Error('token field length out of range');
  return { value: negative ? -value - 1 : value, next: pos + size };
}

function readBytes(buf: Buffer, pos: number, what: string): { bytes: Buffer; next: number } {
  const { value: length, next } = readVLong(buf, pos);
  if (length < 0 || next + length > buf.length) throw new Error(`token ${what} has a bad length (${length})`);
  return { bytes: buf.subarray(next, next + length), next: next + length };
}

export function decodeDelegationToken(urlString: string): DelegationToken {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(urlString)) throw new Error('not a delegation token (expected URL-safe base64)');
  const raw = Buffer.from(urlString, 'base64url');
  const identifier = readBytes(raw, 0, 'identifier');
  const password = readBytes(raw, identifier.next, 'password');
  const kind = readBytes(raw, password.next, 'kind');
  const service = readBytes(raw, kind.next, 'service');
  return {
    identifier: Buffer.from(identifier.bytes), password: Buffer.from(password.bytes),
    kind: kind.bytes.toString('utf8'), service: service.bytes.toString('utf8'),
  };
}

/** DIGEST-MD5 credentials of a token, as Hadoop's SaslRpcServer encodes them. */
export function tokenDigestCredentials(token: DelegationToken): { username: string; password: string } {
  return { username: token.identifier.toString('base64'), password: token.password.toString('base64') };
}

/**
 * The owner of a token (the first field of Hadoop's AbstractDelegationTokenIdentifier after its
 * version byte: owner, renewer, real user as Text), to check who may renew or cancel it.
 */
export function tokenOwner(token: DelegationToken): string {
  const id = token.identifier;
  if (id.length < 2) throw new Error('token identifier is truncated');
  return readBytes(id, 1, 'owner').bytes.toString('utf8');
}
