/**
 * Runs the single-file Java programs under test/java (Hive's own client, reflection on its
 * interface) against the local stack's Hive classpath.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { hiveClasspath } from '../../stack/hive';
import { REPO_ROOT } from '../../stack/layout';
import { status } from '../../stack/stack';

export interface JavaRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export async function runJava(program: string, args: readonly string[], timeoutMs = 300_000, jvmArgs: readonly string[] = []): Promise<JavaRun> {
  const classpath = await hiveClasspath(status().hiveVersion);
  return new Promise((resolve) => {
    execFile('java', ['-Xmx512m', ...jvmArgs, '-cp', classpath, join(REPO_ROOT, 'test', 'java', program), ...args],
      { timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ stdout, stderr, code });
      });
  });
}
