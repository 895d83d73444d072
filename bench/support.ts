/**
 * Shared by the benchmarks: command-line flags, percentiles, and the router as a separate process
 * (so its CPU and memory are its own), built code from dist/, config written under .work/bench/.
 */
import { spawn, ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../stack/layout';

/**
 * Starts the router with a config made of `configLines` and resolves once its /readyz answers.
 * `fromSource` runs src/cli.ts through tsx (no build needed; the pid is still the router's own).
 */
export async function startRouterProcess(name: string, configLines: readonly string[], adminPort: number,
  options: { fromSource?: boolean } = {}): Promise<ChildProcess> {
  // Benchmarks measure the built router (what `npm start` runs). From source, tsx compiles each
  // module alone, so imported enums and functions are reached through getters: slower.
  const dir = join(REPO_ROOT, '.work', 'bench');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, configLines.join('\n'));
  const entry = options.fromSource ? ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts')] : [join(REPO_ROOT, 'dist', 'src', 'cli.js')];
  const child = spawn(process.execPath, [...entry, '--config', file], { stdio: ['ignore', 'ignore', 'inherit'], cwd: REPO_ROOT });
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`router exited (${child.exitCode}) at start with ${file}; see its error above`);
    try { if ((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok) return child; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`router did not start with ${file}${options.fromSource ? '' : ' (run npm run build first)'}`);
}

export async function stopRouterProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** The p-th percentile of `values` (nearest rank), NaN when empty. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A numeric `--name value` flag of the benchmark's command line, or `fallback`. */
export function numericFlag(name: string, fallback: number): number {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number, got '${argv[i + 1] ?? ''}'`);
  return value;
}
