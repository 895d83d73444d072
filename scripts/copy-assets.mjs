// `npm run build` step after tsc: copies the files tsc does not emit to where the compiled modules
// read them (dist/ mirrors the source tree, rootDir '.'). The admin status page is read beside
// src/admin/http.ts, so it goes to dist/src/admin/.
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const ASSETS = ['src/admin/status.html'];

for (const asset of ASSETS) {
  const target = join('dist', asset);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(asset, target);
}
