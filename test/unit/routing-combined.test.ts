/**
 * resolveMetastore's shortcuts (a combined any-pattern test, a per-map memo) must give exactly the
 * answer of the plain rule: exact names, then the first matching pattern in order, else the default.
 */
import { describe, expect, it } from 'vitest';
import { compileRoutingMap, RoutingMap } from '../../src/routing/routing-map';
import { resolveMetastore } from '../../src/routing/matcher';
import { prng as rng } from '../support/prng';


function plainRule(map: RoutingMap, db: string): string {
  const name = db.toLowerCase();
  const exact = map.exactAnyCatalog.get(name);
  if (exact !== undefined) return exact;
  for (const p of map.patterns) if (p.matcher.test(name)) return p.metastore;
  return map.defaultMetastore;
}

describe('resolveMetastore shortcuts', () => {
  it('agree with the plain rule on random maps and names (twice: cold and memoised)', () => {
    const next = rng(7);
    const words = ['sales', 'web', 'team', 'proj', 'fed', 'tmp', 'x'];
    const pick = () => words[Math.floor(next() * words.length)]!;
    for (let m = 0; m < 100; m++) {
      const routes: object[] = [];
      for (let r = 0; r < 1 + Math.floor(next() * 30); r++) {
        const metastore = next() < 0.5 ? 'rw' : 'fed';
        const k = next();
        if (k < 0.25) routes.push({ database: `${pick()}_${r}`, metastore });
        else if (k < 0.5) routes.push({ glob: `${pick()}${next() < 0.5 ? '_*' : '?'}`, metastore });
        else if (k < 0.6) routes.push({ glob: `*${pick()}`, metastore });
        else if (k < 0.75) routes.push({ regex: `${pick()}_[0-9]+`, metastore });
        else if (k < 0.85) routes.push({ regex: `${pick()}s?_[0-9]*`, metastore });
        else if (k < 0.95) routes.push({ regex: `${pick()}|${pick()}_[0-9]{1,2}`, metastore });
        else routes.push({ regex: `.*${pick()}`, metastore });
      }
      const compiled = compileRoutingMap({ routes, defaultMetastore: 'rw' }, ['rw', 'fed']);
      if (!compiled.ok) continue; // two random routes may claim one exact name
      for (let n = 0; n < 40; n++) {
        const roll = next();
        const db = roll < 0.4 ? `${pick()}_${Math.floor(next() * 40)}` : roll < 0.7 ? `${pick()}${pick()}` : roll < 0.85 ? pick() : `${pick()}s_${Math.floor(next() * 9)}`;
        const expected = plainRule(compiled.map, db);
        expect(resolveMetastore(compiled.map, db, null)).toBe(expected);
        expect(resolveMetastore(compiled.map, db.toUpperCase(), null)).toBe(expected);
      }
    }
  });
});
