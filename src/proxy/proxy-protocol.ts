/**
 * The PROXY protocol header (HAProxy's spec, versions 1 and 2) that a TCP load balancer sends
 * before the client's bytes, so the router keys client-mode tokens by the client's own address
 * rather than the balancer's. Only the source address is used. A pure parser: it says whether the
 * bytes so far hold a whole header, and where the client's own bytes begin.
 * (No npm package for this is a maintained standard; the format is small and fixed.)
 */

export type ProxyHeader =
  | { readonly state: 'incomplete' }
  | { readonly state: 'error'; readonly message: string }
  /** source: "address:port" of the client, or null (LOCAL command, UNKNOWN or non-IP family: use the socket's). */
  | { readonly state: 'done'; readonly source: string | null; readonly length: number };

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ');
/** The longest v1 line, CRLF included (the spec's 107 bytes). */
const V1_MAX = 107;
const INCOMPLETE: ProxyHeader = { state: 'incomplete' };

export function parseProxyHeader(buf: Buffer): ProxyHeader {
  if (startsLike(buf, V2_SIGNATURE)) return buf.length < V2_SIGNATURE.length ? INCOMPLETE : parseV2(buf);
  if (startsLike(buf, V1_PREFIX)) return buf.length < V1_PREFIX.length ? INCOMPLETE : parseV1(buf);
  return { state: 'error', message: 'the connection did not start with a PROXY protocol header (server.proxyProtocol is on: connect through the load balancer, or turn it off)' };
}

/** True when buf so far agrees with the start of prefix (or holds all of it). */
function startsLike(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return buf.subarray(0, n).equals(prefix.subarray(0, n));
}

function parseV1(buf: Buffer): ProxyHeader {
  const end = buf.indexOf('\r\n');
  if (end < 0) return buf.length >= V1_MAX ? { state: 'error', message: 'PROXY v1 header longer than 107 bytes' } : INCOMPLETE;
  if (end + 2 > V1_MAX) return { state: 'error', message: 'PROXY v1 header longer than 107 bytes' };
  const parts = buf.toString('latin1', 0, end).split(' ');
  const length = end + 2;
  if (parts[1] === 'UNKNOWN') return { state: 'done', source: null, length };
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6')) {
    return { state: 'error', message: `malformed PROXY v1 header: ${JSON.stringify(buf.toString('latin1', 0, end))}` };
  }
  const port = Number(parts[4]);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || parts[2] === '') {
    return { state: 'error', message: `malformed PROXY v1 header: ${JSON.stringify(buf.toString('latin1', 0, end))}` };
  }
  return { state: 'done', source: `${parts[2]}:${port}`, length };
}

function parseV2(buf: Buffer): ProxyHeader {
  if (buf.length < 16) return INCOMPLETE;
  const versionCommand = buf[12]!;
  if (versionCommand >> 4 !== 2) return { state: 'error', message: `PROXY v2 header with version ${versionCommand >> 4}` };
  const command = versionCommand & 0x0f;
  const length = 16 + buf.readUInt16BE(14);
  if (buf.length < length) return INCOMPLETE;
  if (command === 0) return { state: 'done', source: null, length }; // LOCAL: the balancer's own health check
  if (command !== 1) return { state: 'error', message: `PROXY v2 header with command ${command}` };
  const family = buf[13]! >> 4;
  const body = buf.subarray(16, length);
  if (family === 1 && body.length >= 12) {
    return { state: 'done', source: `${[...body.subarray(0, 4)].join('.')}:${body.readUInt16BE(8)}`, length };
  }
  if (family === 2 && body.length >= 36) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(body.readUInt16BE(i).toString(16));
    return { state: 'done', source: `${groups.join(':')}:${body.readUInt16BE(32)}`, length };
  }
  // AF_UNIX or unspecified: no IP source to key by.
  return { state: 'done', source: null, length };
}
