/**
 * The seeds' IPv6-only site, in network namespaces on this machine:
 *
 *   client (IPv6 only)         gateway                                   server (IPv4 only)
 *   2001:db8:1::2 ------------ 2001:db8:1::1 | 203.0.113.1 ------------- 203.0.113.2
 *   resolv.conf -> gateway     nat64d (prefix 2001:db8:64::/96;          BIND: site.test (A only)
 *                              stateful: pool4 203.0.113.1 61000-65535)
 *                              resolver: DoH :8787, DNS :53              web server :80
 *                              dnsdist: DoH upstream -> BIND
 *
 * Used by the end-to-end test (test/integration/site.test.ts) and by `npm run site`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  makeNat64Topology,
  ns,
  spawnInNs,
  type Nat64Topology,
  type NsProcess,
} from '../../packages/nat64d/test/helpers/netns.js';

export type NatMode = 'stateless' | 'stateful';

export const SITE = {
  client: '2001:db8:1::2',
  gateway6: '2001:db8:1::1',
  server4: '203.0.113.2',
  prefix: '2001:db8:64::/96',
  /** 203.0.113.2 under the prefix */
  server6: '2001:db8:64::cb00:7102',
  /**
   * Stateful mode: pool4 is the gateway's own uplink address (the design's ISP gateway, Jool's
   * setup), 61000-65535, with the gateway's ephemeral ports kept at 32768-60999.
   */
  pool4: '203.0.113.1',
  ephemeralPorts: '32768 60999',
  dohPort: 8787,
  page: 'hello from the IPv4-only site\n',
} as const;

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const ZONE = `$TTL 300
@ IN SOA ns.site.test. admin.site.test. 1 3600 600 86400 60
@ IN NS ns.site.test.
ns IN A ${SITE.server4}
www IN A ${SITE.server4}
`;

export interface Site {
  readonly topo: Nat64Topology;
  readonly mode: NatMode;
  readonly processes: Record<string, NsProcess>;
  stop(): Promise<void>;
}

function natConfig(mode: NatMode, dataDir: string): string {
  const common = ['tun-device nat64', 'ipv4-addr 192.0.2.1', `prefix ${SITE.prefix}`];
  const modeLines =
    mode === 'stateless'
      ? ['dynamic-pool 198.18.0.0/24', `data-dir ${dataDir}`]
      : [`pool4 ${SITE.pool4} 61000-65535`];
  return [...common, ...modeLines, ''].join('\n');
}

/** Brings the site up; on any failure everything started so far is torn down. */
/**
 * The site's IPv4-only server in namespace `ns`: BIND serving the A-only names of site.test, and
 * a web server with the page; both added to `processes` (as `bind` and `web`).
 */
export async function startIpv4Server(
  dir: string,
  ns: string,
  processes: Record<string, NsProcess>,
): Promise<void> {
  writeFileSync(join(dir, 'site.test.zone'), ZONE);
  writeFileSync(
    join(dir, 'named.conf'),
    `options { directory "${dir}"; listen-on { ${SITE.server4}; }; listen-on-v6 { none; };
  recursion no; dnssec-validation no; pid-file "${dir}/named.pid"; };
zone "site.test" { type primary; file "${dir}/site.test.zone"; };
`,
  );
  processes.bind = spawnInNs(ns, ['named', '-g', '-u', 'root', '-c', join(dir, 'named.conf')]);
  await processes.bind.waitFor('running', 20_000);
  processes.web = spawnInNs(ns, [
    process.execPath,
    '-e',
    `require('http').createServer((q, s) => s.end(${JSON.stringify(SITE.page)}))` +
      `.listen(80, '${SITE.server4}', () => console.log('web listening'))`,
  ]);
  await processes.web.waitFor('web listening');
}

export async function startSite(mode: NatMode): Promise<Site> {
  const dir = mkdtempSync(join(tmpdir(), 'dns64-site-'));
  const topo = makeNat64Topology([`${SITE.client}/64`]);
  const processes: Record<string, NsProcess> = {};
  const netnsEtc = `/etc/netns/${topo.client}`;
  const stop = async () => {
    for (const p of Object.values(processes).reverse()) await p.stop();
    topo.destroy();
    rmSync(netnsEtc, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // The client resolves through the gateway (ip netns exec mounts this resolv.conf).
    mkdirSync(netnsEtc, { recursive: true });
    writeFileSync(join(netnsEtc, 'resolv.conf'), `nameserver ${SITE.gateway6}\n`);

    // The IPv4-only server: BIND with A-only names, and a web server.
    await startIpv4Server(dir, topo.server, processes);

    // The gateway: nat64d, dnsdist as the DoH upstream, and the self-hosted resolver.
    if (mode === 'stateful') {
      // Its own connections (dnsdist to BIND) use ports below pool4's 61000-65535.
      ns(topo.gateway, 'sysctl', '-qw', `net.ipv4.ip_local_port_range=${SITE.ephemeralPorts}`);
    }
    writeFileSync(join(dir, 'tayga.conf'), natConfig(mode, dir));
    processes.nat64d = spawnInNs(topo.gateway, [
      process.execPath,
      join(ROOT, 'packages/nat64d/bin/nat64d.js'),
      '-c',
      join(dir, 'tayga.conf'),
    ]);
    await processes.nat64d.waitFor('translating on', 20_000);
    writeFileSync(
      join(dir, 'dnsdist.conf'),
      `setLocal("127.0.0.1:5300")
newServer({address="${SITE.server4}:53"})
addDOHLocal("127.0.0.1:8053", nil, nil, "/dns-query")
setSecurityPollSuffix("")
`,
    );
    processes.dnsdist = spawnInNs(topo.gateway, [
      'dnsdist',
      '--supervised',
      '-C',
      join(dir, 'dnsdist.conf'),
    ]);
    await processes.dnsdist.waitFor('Marking downstream', 20_000);
    processes.resolver = spawnInNs(topo.gateway, [
      'env',
      `PORT=${SITE.dohPort}`,
      'DNS_PORT=53',
      'UPSTREAMS=http://127.0.0.1:8053/dns-query',
      `DNS64_PREFIX=${SITE.prefix}`,
      'NODE_NO_WARNINGS=1',
      process.execPath,
      '--import',
      'tsx',
      join(ROOT, 'src/node/serve.ts'),
    ]);
    // The server logs JSON lines: `ready:` opens the message of its ready line.
    await processes.resolver.waitFor(/"msg":"ready:/m, 30_000);
    ns(topo.gateway, 'ip', 'link', 'show', 'nat64');
  } catch (err) {
    await stop();
    throw err;
  }
  return { topo, mode, processes, stop };
}
