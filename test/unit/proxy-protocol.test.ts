/**
 * The PROXY protocol header parser: v1 and v2 as HAProxy sends them, split at every byte (a header
 * may arrive in pieces), and what is refused.
 */
import { describe, it, expect } from 'vitest';
import { parseProxyHeader } from '../../src/proxy/proxy-protocol';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function v2(command: number, family: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | command;
  head[1] = (family << 4) | 1;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIG, head, body]);
}

function tcp4(src: number[], sport: number): Buffer {
  const body = Buffer.alloc(12);
  Buffer.from(src).copy(body, 0);
  Buffer.from([127, 0, 0, 1]).copy(body, 4);
  body.writeUInt16BE(sport, 8);
  body.writeUInt16BE(9083, 10);
  return body;
}

const THRIFT = Buffer.from([0x80, 0x01, 0x00, 0x01, 0, 0, 0, 8]);

describe('parseProxyHeader', () => {
  it('v1 TCP4 and TCP6: the source address and port, and where the client bytes start', () => {
    const line = Buffer.from('PROXY TCP4 10.1.2.3 127.0.0.1 51234 9083\r\n');
    expect(parseProxyHeader(Buffer.concat([line, THRIFT]))).toEqual({ state: 'done', source: '10.1.2.3:51234', length: line.length });
    expect(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 ::1 40000 9083\r\n'))).toMatchObject({ state: 'done', source: '2001:db8::1:40000' });
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({ state: 'done', source: null, length: 15 });
  });

  it('v2 PROXY over TCP4 and TCP6, and LOCAL (the balancer\'s own health check)', () => {
    const h4 = v2(1, 1, tcp4([192, 168, 7, 9], 50000));
    expect(parseProxyHeader(Buffer.concat([h4, THRIFT]))).toEqual({ state: 'done', source: '192.168.7.9:50000', length: h4.length });
    const body6 = Buffer.alloc(36);
    body6.writeUInt16BE(0x2001, 0); body6.writeUInt16BE(0xdb8, 2); body6.writeUInt16BE(1, 14);
    body6.writeUInt16BE(41000, 32);
    expect(parseProxyHeader(v2(1, 2, body6))).toMatchObject({ state: 'done', source: '2001:db8:0:0:0:0:0:1:41000' });
    expect(parseProxyHeader(v2(0, 0, Buffer.alloc(0)))).toEqual({ state: 'done', source: null, length: 16 });
    // v2 may carry TLVs after the addresses: they are skipped with the length.
    const withTlv = v2(1, 1, Buffer.concat([tcp4([10, 0, 0, 1], 1), Buffer.from([0x04, 0, 1, 0])]));
    expect(parseProxyHeader(withTlv)).toMatchObject({ state: 'done', source: '10.0.0.1:1', length: withTlv.length });
  });

  it('a header cut at any byte is incomplete, never an error', () => {
    for (const header of [Buffer.from('PROXY TCP4 10.1.2.3 127.0.0.1 51234 9083\r\n'), v2(1, 1, tcp4([10, 9, 8, 7], 65535))]) {
      for (let n = 1; n < header.length; n++) expect(parseProxyHeader(header.subarray(0, n))).toEqual({ state: 'incomplete' });
      expect(parseProxyHeader(header)).toMatchObject({ state: 'done' });
    }
  });

  it('refuses a connection that starts without a header, with the fix in the message', () => {
    const r = parseProxyHeader(THRIFT);
    expect(r.state).toBe('error');
    expect(r.state === 'error' && r.message).toMatch(/server\.proxyProtocol/);
  });

  it('refuses malformed headers: v1 too long or garbled, v2 of another version or command', () => {
    expect(parseProxyHeader(Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`)).state).toBe('error');
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 10.1.2.3 127.0.0.1 notaport 9083\r\n')).state).toBe('error');
    expect(parseProxyHeader(Buffer.from('PROXY UDP4 10.1.2.3 127.0.0.1 1 2\r\n')).state).toBe('error');
    const wrongVersion = v2(1, 1, tcp4([1, 2, 3, 4], 5));
    wrongVersion[12] = 0x11;
    expect(parseProxyHeader(wrongVersion).state).toBe('error');
    expect(parseProxyHeader(v2(5, 1, tcp4([1, 2, 3, 4], 5))).state).toBe('error');
  });
});
