/**
 * Checked downloads from Maven Central, shared by the stack's installers (stack/engines.ts,
 * stack/waggle-dance.ts): every file is checked against the .sha1 Maven Central publishes next to
 * it, computed while the bytes arrive, and only renamed into place when it matches.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';

export interface Downloaded { readonly file: string; readonly bytes: number }

/**
 * Downloads `url` to `file` unless a file with the published SHA-1 is already there. The hash is
 * computed while the bytes arrive; a mismatch deletes the download and fails naming both hashes.
 */
export async function download(url: string, file: string, log: (line: string) => void): Promise<Downloaded> {
  const expected = await fetchSha1(url);
  if (fs.existsSync(file) && (await sha1File(file)) === expected) return { file, bytes: 0 };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const part = `${file}.part-${process.pid}`;
  const started = Date.now();
  const res = await fetch(url);
  if (!res.ok || res.body === null) throw new Error(`download of ${url} failed: HTTP ${res.status}`);
  const hash = createHash('sha1');
  const out = fs.createWriteStream(part);
  let bytes = 0;
  try {
    for await (const chunk of Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>)) {
      const buf = chunk as Buffer;
      hash.update(buf);
      bytes += buf.length;
      if (!out.write(buf)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (err) {
    out.destroy();
    fs.rmSync(part, { force: true });
    throw new Error(`download of ${url} failed after ${bytes} bytes: ${(err as Error).message}`);
  }
  const actual = hash.digest('hex');
  if (actual !== expected) {
    fs.rmSync(part, { force: true });
    throw new Error(`download of ${url} is corrupt: sha1 ${actual}, Maven Central publishes ${expected}`);
  }
  fs.renameSync(part, file);
  const seconds = (Date.now() - started) / 1000;
  log(`downloaded ${path.basename(file)}: ${(bytes / 1e6).toFixed(0)} MB in ${seconds.toFixed(1)} s, sha1 ok`);
  return { file, bytes };
}

export async function fetchSha1(url: string): Promise<string> {
  const res = await fetch(`${url}.sha1`);
  if (!res.ok) {
    throw new Error(`${url}.sha1: HTTP ${res.status}${res.status === 404 ? ' (Maven Central does not serve this artifact here)' : ''}`);
  }
  const text = (await res.text()).trim().slice(0, 40).toLowerCase();
  if (!/^[0-9a-f]{40}$/.test(text)) throw new Error(`${url}.sha1 holds no SHA-1: '${text}'`);
  return text;
}

export async function sha1File(file: string): Promise<string> {
  const hash = createHash('sha1');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
