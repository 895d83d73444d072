/**
 * What a metastore's audit log says about who made a call: Hive writes one line per call,
 * `audit: ugi=<user> ip=<address> cmd=<call and arguments>`. Tests read it to see whom the
 * metastore authorized and recorded (the caller, not the router that relayed the call).
 */
import { readFileSync } from 'node:fs';

/** The users of the audit lines in `logFile` whose command mentions `needle`, oldest first. */
export function auditUsers(logFile: string, needle: string): string[] {
  const users: string[] = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    const m = /audit: ugi=(\S+)\s+ip=\S+\s+cmd=(.*)$/.exec(line);
    if (m && m[2]!.includes(needle)) users.push(m[1]!);
  }
  return users;
}
