/**
 * Database-name globs as the routing map writes them: `*` is any run of characters (also none), `?` is
 * exactly one; everything else is literal. Matching is anchored at both ends and case-insensitive,
 * because HMS lower-cases database names.
 */

/** True when a name in the map is a glob rather than an exact name. */
export function isGlob(text: string): boolean {
  return text.includes('*') || text.includes('?');
}

/** The anchored, case-insensitive RegExp equivalent to a glob. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const ch of glob) {
    if (ch === '*') source += '[\\s\\S]*';
    else if (ch === '?') source += '[\\s\\S]';
    else source += ch.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  }
  // 'u': `?` is one code point, even outside the basic plane.
  return new RegExp(`^${source}$`, 'iu');
}
