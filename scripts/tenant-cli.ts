/**
 * The operators' tenant CLI: talks to the admin API of a running resolver.
 *
 *   npm run tenant -- list
 *   npm run tenant -- get <id>
 *   npm run tenant -- put <id> <record.json | ->
 *   npm run tenant -- delete <id>
 *
 * Options: --url (or DOH_ADMIN_URL, default http://localhost:8787), --token (or ADMIN_TOKEN).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const USAGE = `usage: npm run tenant -- <list | get ID | put ID FILE|- | delete ID> [--url URL] [--token TOKEN]
  --url    the resolver's base URL (env DOH_ADMIN_URL; default http://localhost:8787)
  --token  the admin token (env ADMIN_TOKEN)`;

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [command, id, file] = positionals;
  const base = (values.url ?? env.DOH_ADMIN_URL ?? 'http://localhost:8787').replace(/\/$/, '');
  const token = values.token ?? env.ADMIN_TOKEN;
  if (!token) {
    process.stderr.write('no admin token: pass --token or set ADMIN_TOKEN\n');
    return 2;
  }
  const needsId = command === 'get' || command === 'put' || command === 'delete';
  if (!command || (needsId && !id) || (command === 'put' && !file)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let res: Response;
  try {
    switch (command) {
      case 'list':
        res = await fetch(`${base}/admin/tenants`, { headers });
        break;
      case 'get':
        res = await fetch(`${base}/admin/tenants/${encodeURIComponent(id!)}`, { headers });
        break;
      case 'delete':
        res = await fetch(`${base}/admin/tenants/${encodeURIComponent(id!)}`, {
          method: 'DELETE',
          headers,
        });
        break;
      case 'put': {
        const body = readFileSync(file === '-' ? 0 : file!, 'utf8');
        res = await fetch(`${base}/admin/tenants/${encodeURIComponent(id!)}`, {
          method: 'PUT',
          headers: { ...headers, 'content-type': 'application/json' },
          body,
        });
        break;
      }
      default:
        process.stderr.write(`unknown command ${command}\n${USAGE}\n`);
        return 2;
    }
  } catch (err) {
    process.stderr.write(`${base}: ${(err as Error).message}\n`);
    return 1;
  }
  const text = await res.text();
  if (!res.ok) {
    process.stderr.write(`HTTP ${res.status}: ${text}`);
    return 1;
  }
  if (res.status === 204) process.stdout.write(`deleted ${id}\n`);
  else process.stdout.write(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
  return 0;
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
