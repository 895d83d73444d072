/**
 * The stack's data dir initialisation (stack/mariadb.ts initDataDir) with a stand-in for
 * mariadb-install-db: a shell script written per test that crashes, fails or succeeds as told and
 * counts its runs. Checks that the whole output is kept in install-db.log and printed on failure, that
 * a known transient failure is retried exactly once on an emptied data dir, that the install gets the
 * server's own tmpdir, and that errors name the exit, the telling line and the log.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initDataDir, installDbLogFile, MariadbSpec, tellingLine } from '../../stack/mariadb';

let dir: string;
let spec: MariadbSpec;
let lines: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hms-router-install-db-'));
  spec = { role: 'test', port: 0, serverId: 1, dir: join(dir, 'server'), readOnly: false };
  mkdirSync(spec.dir);
  lines = [];
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

type Behaviour = 'ok' | 'signal' | 'crash-banner' | 'lost-temp-table' | 'error';

/**
 * Writes the stand-in install command. `behaviours[n]` is what run n+1 does (the last one repeats).
 * Every run makes data/mysql first, as the real one does before it can crash, and refuses to run on
 * a data dir an earlier run left (so a missing clean-up fails the test).
 */
function standInInstallDb(behaviours: Behaviour[]): string {
  const script = join(dir, 'stand-in-mariadb-install-db.sh');
  const cases = behaviours.map((b, i) => `${i + 1}) behaviour=${b} ;;`).join('\n  ');
  writeFileSync(script, `#!/bin/sh
# Stand-in for mariadb-install-db (unit test only): does what the test tells it, counts its runs.
n=$(( $(cat "${dir}/runs" 2>/dev/null || echo 0) + 1 )); echo "$n" > "${dir}/runs"
behaviour=${behaviours.at(-1)}
case "$n" in
  ${cases}
esac
for a in "$@"; do case "$a" in --datadir=*) datadir="\${a#--datadir=}" ;; --tmpdir=*) echo "\${a#--tmpdir=}" > "${dir}/tmpdir-given" ;; esac; done
if [ -e "$datadir/left-by-earlier-run" ]; then echo "[ERROR] stand-in: data dir not emptied between runs" >&2; exit 9; fi
mkdir -p "$datadir/mysql" && touch "$datadir/left-by-earlier-run"
echo "Installing MariaDB/MySQL system tables in '$datadir' ... (stand-in run $n)"
case "$behaviour" in
  ok) rm "$datadir/left-by-earlier-run"; printf 10.11.19-MariaDB > "$datadir/mysql_upgrade_info"; echo OK; exit 0 ;;
  signal) echo "[ERROR] /usr/sbin/mariadbd got signal 11 ;" >&2; kill -SEGV $$ ;;
  crash-banner) echo "[ERROR] /usr/sbin/mariadbd got signal 6 ;" >&2; echo "Installation of system tables failed!  Examine the logs in"; exit 1 ;;
  lost-temp-table) echo "2026-12-07  7:53:00 1 [Warning] Could not remove temporary table: '/tmp/#sql-temptable-2ef6-1-6', error: 2" >&2
         echo "ERROR: 1017  Can't find file: '/tmp/#sql-temptable-2ef6-1-6.MAI' (errno: 2 \"No such file or directory\")" >&2
         echo "2026-12-07  7:53:00 0 [ERROR] Aborting" >&2; echo "Installation of system tables failed!  Examine the logs in"; exit 1 ;;
  error) echo "[ERROR] Can't create/write to file '$datadir/aria_log_control' (Errcode: 28 No space left on device)" >&2
         echo "Installation of system tables failed!  Examine the logs in"; echo "Please check all of the above before submitting a bug report"; exit 1 ;;
esac
`);
  chmodSync(script, 0o755);
  return script;
}

function runs(): number {
  return existsSync(join(dir, 'runs')) ? Number(readFileSync(join(dir, 'runs'), 'utf8').trim()) : 0;
}

function init(installDb: string): void {
  initDataDir(spec, { installDb, log: (line) => lines.push(line) });
}

const dataDir = () => join(spec.dir, 'data');

describe('initDataDir with a stand-in mariadb-install-db', () => {
  it('a crash by signal is retried once on an emptied data dir, logged as such, and both runs are kept in the log', () => {
    init(standInInstallDb(['signal', 'ok']));
    expect(runs()).toBe(2);
    expect(existsSync(join(dataDir(), 'mysql_upgrade_info'))).toBe(true);
    const logFile = installDbLogFile(spec);
    const retrying = lines.filter((l) => l.includes('retrying once'));
    expect(retrying).toHaveLength(1);
    expect(retrying[0]).toContain(`signal SIGSEGV: [ERROR] /usr/sbin/mariadbd got signal 11 ;); retrying once `
      + `(a known transient failure; its output is above and in ${logFile})`);
    // The failed attempt's output is printed before the retry line: CI keeps its console, not the clone.
    expect(lines.indexOf('  | [ERROR] /usr/sbin/mariadbd got signal 11 ;')).toBeGreaterThan(-1);
    expect(lines.indexOf('  | [ERROR] /usr/sbin/mariadbd got signal 11 ;')).toBeLessThan(lines.indexOf(retrying[0]!));
    const log = readFileSync(logFile, 'utf8');
    expect(log).toMatch(/^==== \d{4}-\d\d-\d\dT[\d:.]+Z attempt 1 of 2: /);
    expect(log).toContain('[ERROR] /usr/sbin/mariadbd got signal 11 ;');
    expect(log).toContain('==== attempt 1: signal SIGSEGV');
    expect(log).toContain('attempt 2 of 2');
    expect(log).toContain('(stand-in run 2)');
    expect(log.trimEnd().endsWith('==== attempt 2: ok')).toBe(true);
  });

  it('a second crash throws with both causes, the telling line and the log file, and leaves no data dir', () => {
    const logFile = installDbLogFile(spec);
    expect(() => init(standInInstallDb(['crash-banner']))).toThrow(
      `mariadb-install-db failed for the test server in ${dataDir()} with exit code 1: [ERROR] /usr/sbin/mariadbd got signal 6 ; `
      + `(retried once after a known transient failure: exit code 1); its whole output is in ${logFile}`);
    expect(runs()).toBe(2);
    expect(lines.filter((l) => l.includes('retrying once'))).toHaveLength(1);
    expect(existsSync(dataDir())).toBe(false);
  });

  it('a failure that is not a crash is not retried, and the error names the [ERROR] line rather than the closing advice', () => {
    const logFile = installDbLogFile(spec);
    let message = '';
    try {
      init(standInInstallDb(['error', 'ok']));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(runs()).toBe(1);
    expect(lines.filter((l) => l.includes('retrying'))).toEqual([]);
    expect(lines).toContain('mariadb-install-db for the test server, attempt 1, printed:');
    expect(lines).toContain('  | Please check all of the above before submitting a bug report');
    expect(message).toContain('with exit code 1: [ERROR] Can\'t create/write to file');
    expect(message).toContain(`its whole output is in ${logFile}`);
    expect(readFileSync(logFile, 'utf8')).toContain('Please check all of the above');
  });

  it('the bootstrap losing a temporary table (seen in CI with a shared /tmp) is retried once and named by its SQL error', () => {
    init(standInInstallDb(['lost-temp-table', 'ok']));
    expect(runs()).toBe(2);
    expect(lines.filter((l) => l.includes('retrying once'))[0]).toContain(
      'exit code 1: ERROR: 1017  Can\'t find file: \'/tmp/#sql-temptable-2ef6-1-6.MAI\'');
  });

  it('the install runs with the server\'s own tmpdir, not the host\'s shared /tmp', () => {
    init(standInInstallDb(['ok']));
    expect(readFileSync(join(dir, 'tmpdir-given'), 'utf8').trim()).toBe(join(spec.dir, 'tmp'));
  });

  it('a data dir already made is left alone; one an interrupted install left (no mysql_upgrade_info) is made again', () => {
    const installDb = standInInstallDb(['ok']);
    mkdirSync(join(dataDir(), 'mysql'), { recursive: true });
    writeFileSync(join(dataDir(), 'left-by-earlier-run'), '');
    init(installDb);
    expect(runs()).toBe(1);
    expect(lines[0]).toContain('has no mysql_upgrade_info (an install that did not finish); making it again');
    init(installDb);
    expect(runs()).toBe(1);
  });

  it('a command that cannot be run is named, not retried', () => {
    expect(() => init(join(dir, 'no-such-install-db'))).toThrow(/could not run .*no-such-install-db: .*ENOENT.*install-db\.log/);
    expect(lines.filter((l) => l.includes('retrying'))).toEqual([]);
  });
});

describe('tellingLine', () => {
  it('prefers the first [ERROR] or bootstrap SQL error over the closing "[ERROR] Aborting"', () => {
    expect(tellingLine('Installing...\n[Warning] x\nERROR: 1017  Can\'t find file\n0 [ERROR] Aborting\n')).toBe('ERROR: 1017  Can\'t find file');
    expect(tellingLine('0 [ERROR] Aborting\n0 [ERROR] InnoDB: out of space\n')).toBe('0 [ERROR] InnoDB: out of space');
    expect(tellingLine('Installing...\n0 [ERROR] Aborting\nInstallation of system tables failed!\n')).toBe('0 [ERROR] Aborting');
  });

  it('prefers the first [ERROR], then a line saying what failed, then the last line', () => {
    expect(tellingLine('Installing...\n[ERROR] first\n[ERROR] second\nInstallation of system tables failed!\n')).toBe('[ERROR] first');
    expect(tellingLine('Installing...\nInstallation of system tables failed!\nPlease check\n')).toBe('Installation of system tables failed!');
    expect(tellingLine('one\ntwo\n\n')).toBe('two');
    expect(tellingLine('')).toBe('(no output)');
  });
});
