/**
 * Shared by the benchmarks: command-line flags, percentiles, and the router as a separate process
 * (so its CPU and memory are its own), built code from dist/, config written under .work/bench/.
 */
import { spawn, ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../stack/layout';

/**
 * Starts the router with a config made of `configLines` and resolves once its /readyz answers.
 * `fromSource` runs src/cli.ts through tsx (no build needed; the pid is still the router's own).
 */
export async function startRouterProcess(name: string, configLines: readonly string[], adminPort: number,
  options: { fromSource?: boolean; onStderr?: (text: string) => void; nodeArgs?: readonly string[] } = {}): Promise<ChildProcess> {
  // Benchmarks measure the built router (what `npm start` runs). From source, tsx compiles each
  // module alone, so imported enums and functions are reached through getters: slower.
  const dir = join(REPO_ROOT, '.work', 'bench');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, configLines.join('\n'));
  const entry = options.fromSource ? ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts')] : [join(REPO_ROOT, 'dist', 'src', 'cli.js')];
  // nodeArgs: e.g. --cpu-prof (a profile of the router under a benchmark's load).
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...entry, '--config', file],
    { stdio: ['ignore', 'ignore', options.onStderr === undefined ? 'inherit' : 'pipe'], cwd: REPO_ROOT });
  // Its error output, when the caller keeps it (a crash's stack trace, for a report).
  child.stderr?.on('data', (chunk: Buffer) => options.onStderr?.(chunk.toString()));
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

/** The router's /metrics as series name (with labels) -> value. */
export async function scrapeMetrics(adminPort: number): Promise<Map<string, number>> {
  const text = await fetch(`http://127.0.0.1:${adminPort}/metrics`).then((r) => r.text());
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** The sum of every series of `name` whose labels contain each of `labels` (e.g. 'state="idle"'). */
export function sumSeries(metrics: ReadonlyMap<string, number>, name: string, labels: readonly string[] = []): number {
  let sum = 0;
  for (const [series, value] of metrics) {
    if ((series === name || series.startsWith(`${name}{`)) && labels.every((l) => series.includes(l))) sum += value;
  }
  return sum;
}

/** VmRSS of a process in bytes (0 once it has exited). */
export function rssBytes(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return line === undefined ? 0 : Number(line.split(/\s+/)[1]) * 1024;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) a process has used, in ms (clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Samples a process's RSS every `intervalMs` until stopped; `mark` names the phase later samples belong to. */
export function sampleRss(pid: number, intervalMs = 200): {
  mark(phase: string): void;
  stop(): Array<{ phase: string; ms: number; rssBytes: number }>;
} {
  const started = Date.now();
  let phase = 'start';
  const samples: Array<{ phase: string; ms: number; rssBytes: number }> = [];
  const take = () => samples.push({ phase, ms: Date.now() - started, rssBytes: rssBytes(pid) });
  take();
  const timer = setInterval(take, intervalMs);
  return {
    mark(next) { phase = next; take(); },
    stop() { clearInterval(timer); take(); return samples; },
  };
}

/** What the results record about the machine: other work on it shows in the load averages. */
export function machineInfo(): { cpus: number; memoryGiB: number; node: string; loadAverage: number[] } {
  return { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverage: loadAverage() };
}

/** Load averages over 1, 5 and 15 minutes. */
export function loadAverage(): number[] {
  return loadavg().map((x) => +x.toFixed(2));
}
