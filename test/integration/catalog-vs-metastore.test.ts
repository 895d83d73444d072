/**
 * The method catalog against the real metastore: every method the downloaded metastore's generated
 * Thrift interface declares is in the catalog, tagged with that version line.
 */
import { describe, expect, it } from 'vitest';
import { findMethod } from '../../src/hms/catalog';
import { status } from '../../stack/stack';
import { runJava } from '../support/java-tools';

describe('method catalog vs the real metastore interface', () => {
  it('knows every method of ThriftHiveMetastore.Iface', async () => {
    const version = status().hiveVersion;
    const line = version.startsWith('3.') ? '3.1' : version.startsWith('4.') ? '4' : '2.3';
    const run = await runJava('ListIfaceMethods.java', []);
    expect(run.code, run.stderr).toBe(0);
    const methods = run.stdout.split('\n').map((s) => s.trim()).filter((s) => s !== '');
    expect(methods.length).toBeGreaterThan(150);
    const missing = methods.filter((m) => findMethod(m) === undefined);
    expect(missing, `methods missing from src/hms/catalog.ts for Hive ${version}`).toEqual([]);
    const untagged = methods.filter((m) => !findMethod(m)!.versions.includes(line));
    expect(untagged, `catalog entries not tagged '${line}'`).toEqual([]);
  });
});
