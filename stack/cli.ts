/**
 * npm run stack -- up [--hive VERSION] | down | status [--json]
 */
import { up, down, status, StackStatus } from './stack';
import { stackLayout, DEFAULT_HIVE_VERSION } from './layout';

function describe(s: StackStatus): string {
  const lines = [`hive ${s.hiveVersion}, work dir ${s.workDir}, warehouse ${s.warehouse}`];
  for (const [role, e] of Object.entries(s.mysql)) {
    lines.push(`  mysql ${role.padEnd(9)} ${e.up ? 'up  ' : 'down'} 127.0.0.1:${e.port} user ${e.user} db ${e.database}${e.pid ? ` pid ${e.pid}` : ''}`);
  }
  for (const [role, e] of Object.entries(s.metastores)) {
    lines.push(`  metastore ${role.padEnd(5)} ${e.up ? 'up  ' : 'down'} ${e.uri} on mysql ${e.mysql}${e.pid ? ` pid ${e.pid}` : ''}`);
  }
  const k = s.kdc;
  lines.push(`  kdc             ${k.up ? 'up  ' : 'down'} 127.0.0.1:${k.port} realm ${k.realm} krb5.conf ${k.krb5Conf}${k.pid ? ` pid ${k.pid}` : ''}`);
  const t = s.tokenStore;
  lines.push(`  token store     ${t.up ? 'up  ' : 'down'} ${t.url}${t.pid ? ` pid ${t.pid}` : ''}`);
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const flag = (name: string) => { const i = rest.indexOf(name); return i >= 0 ? rest[i + 1] : undefined; };
  const version = flag('--hive') ?? process.env.HIVE_VERSION ?? DEFAULT_HIVE_VERSION;
  const layout = stackLayout(version);
  const log = (line: string) => process.stderr.write(`stack: ${line}\n`);
  switch (command) {
    case 'up': {
      const s = await up(layout, log);
      process.stdout.write(`${rest.includes('--json') ? JSON.stringify(s, null, 2) : describe(s)}\n`);
      return 0;
    }
    case 'down':
      await down(layout, log);
      return 0;
    case 'status': {
      const s = status(layout);
      process.stdout.write(`${rest.includes('--json') ? JSON.stringify(s, null, 2) : describe(s)}\n`);
      return s.running ? 0 : 3;
    }
    default:
      process.stderr.write('usage: npm run stack -- up [--hive 3.1.3|4.1.0] [--json] | down | status [--json]\n');
      return 2;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: Error) => {
  process.stderr.write(`stack: error: ${err.message}\n`);
  process.exit(1);
});
