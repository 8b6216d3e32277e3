/**
 * `npm run site`: brings the IPv6-only site up on this machine for trying it by hand, and takes
 * it down again on Ctrl-C. `npm run site -- --stateful` uses stateful nat64d; `npm run site --
 * down` removes what an interrupted run may have left (namespaces n64c-/n64g-/n64s-*).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SITE, startSite } from './site.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { stateful: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
});

if (values.help) {
  console.log('usage: npm run site [-- --stateful]   |   npm run site -- down   (needs root)');
  process.exit(0);
}
if (process.getuid?.() !== 0) {
  console.error('npm run site needs root (network namespaces, a TUN device, port 53)');
  process.exit(1);
}

if (positionals[0] === 'down') {
  const names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => /^n64[cgs]-[0-9a-f]+$/.test(n));
  for (const n of names) {
    const pids = execFileSync('ip', ['netns', 'pids', n], { encoding: 'utf8' }).split(/\s+/);
    for (const pid of pids.filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    execFileSync('ip', ['netns', 'del', n]);
  }
  for (const d of readdirSync('/etc/netns').filter((d) => /^n64c-/.test(d))) {
    rmSync(`/etc/netns/${d}`, { recursive: true, force: true });
  }
  console.log(`removed ${names.length} namespace(s)`);
  process.exit(0);
}

const site = await startSite(values.stateful ? 'stateful' : 'stateless');
const c = `ip netns exec ${site.topo.client}`;
console.log(`The IPv6-only site is up (${site.mode} nat64d). Try, as root:

  ${c} curl http://www.site.test/
  ${c} ping -c 3 www.site.test
  ${c} dig @${SITE.gateway6} www.site.test AAAA
  ${c} dig @${SITE.gateway6} ipv4only.arpa AAAA
  ${c} curl 'http://[${SITE.gateway6}]:${SITE.dohPort}/resolve?name=www.site.test&type=AAAA'
  ${c} bash        # a shell on the IPv6-only client
  ip netns exec ${site.topo.gateway} node packages/nat64d/bin/nat64d.js stats${
    site.mode === 'stateful'
      ? `
  ip netns exec ${site.topo.gateway} node packages/nat64d/bin/nat64d.js sessions   # pool4 is the gateway's ${SITE.pool4}`
      : ''
  }

Press Ctrl-C to take it down.`);

let stopping = false;
const down = async () => {
  if (stopping) return;
  stopping = true;
  await site.stop();
  console.log('site taken down');
  process.exit(0);
};
process.on('SIGINT', () => void down());
process.on('SIGTERM', () => void down());
