/**
 * Two NAT64 gateways reporting their health to one resolver (issue 15), in network namespaces:
 *
 *   client (IPv6 only)        router                                gw-a: nat64d 2001:db8:a::/96
 *   2001:db8:1::2 ----------- 2001:db8:1::1                         2001:db8:2::2 | 203.0.113.1
 *   resolv.conf -> router     2001:db8:2::1 ------------------------^               |
 *                             2001:db8:3::1 ------------------------v               |  server (IPv4 only)
 *                             resolver: DoH :8787, DNS :53          2001:db8:3::2 | 203.0.113.3
 *                             203.0.113.254 --------------------------------------- bridge 203.0.113.2
 *                                                                   gw-b: nat64d 2001:db8:b::/96
 *
 * The router sends each prefix to its gateway; the server sends each gateway's dynamic pool
 * (198.18.0.0/24, 198.18.1.0/24) back to it and serves BIND (A-only names) and a web page. The
 * resolver (the self-hosted server, or the worker under `wrangler dev`) runs on the router with
 * one tenant whose prefixes name the gateways; each nat64d reports to it with report-url (over
 * https to the self-hosted server, which has a self-signed certificate nat64d and curl trust,
 * so DoT and DDR are on too; over http to wrangler dev).
 *
 * Used by test/integration/gateways-site.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  addNetns,
  delNetns,
  ns,
  sh,
  spawnInNs,
  suffix,
  type NsProcess,
} from '../../packages/nat64d/test/helpers/netns.js';
import { SITE, startIpv4Server } from './site.js';

export type GatewayName = 'gw-a' | 'gw-b';

export interface GatewaySpec {
  readonly prefix: string;
  /** The web server (203.0.113.2) under the prefix. */
  readonly server6: string;
  readonly pool: string;
  /** The router's address on the gateway's link; the gateway is ::2 of it. */
  readonly routerLink6: string;
  readonly gateway6: string;
  readonly gateway4: string;
}

export const GW_SITE = {
  tenant: 'site',
  client: '2001:db8:1::2',
  /** The router, where the resolver listens, as the client sees it. */
  resolver6: '2001:db8:1::1',
  router4: '203.0.113.254',
  server4: SITE.server4,
  page: SITE.page,
  dohPort: 8787,
  dotPort: 853,
  /** The resolver's name in its certificate (the DDR target). */
  serverName: 'resolver.site.test',
  gatewayKey: 'gw-site-0123456789abcdef',
  adminToken: 'admin-token-gateways-site-0123',
  /**
   * Seconds without a report before a gateway counts as down: the shortest the resolver takes
   * (nat64d reports every 20 s; shorter would have a live gateway flap between two reports).
   */
  gatewayTimeout: 30,
  gateways: {
    'gw-a': {
      prefix: '2001:db8:a::/96',
      server6: '2001:db8:a::cb00:7102',
      pool: '198.18.0.0/24',
      routerLink6: '2001:db8:2::1',
      gateway6: '2001:db8:2::2',
      gateway4: '203.0.113.1',
    },
    'gw-b': {
      prefix: '2001:db8:b::/96',
      server6: '2001:db8:b::cb00:7102',
      pool: '198.18.1.0/24',
      routerLink6: '2001:db8:3::1',
      gateway6: '2001:db8:3::2',
      gateway4: '203.0.113.3',
    },
  } satisfies Record<GatewayName, GatewaySpec>,
} as const;

export const GATEWAY_NAMES: readonly GatewayName[] = ['gw-a', 'gw-b'];

/** The tenant record: both prefixes, each behind its gateway. */
export function tenantRecord(): Record<string, unknown> {
  return {
    name: 'Two-gateway site',
    prefixes: GATEWAY_NAMES.map((g) => ({ prefix: GW_SITE.gateways[g].prefix, gateway: g })),
    gatewayKey: GW_SITE.gatewayKey,
    gatewayTimeout: GW_SITE.gatewayTimeout,
  };
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type ResolverKind = 'node' | 'worker';

export interface GatewaySite {
  /** The resolver's HTTP side: https (the self-hosted server, with DDR) or http (wrangler dev). */
  readonly scheme: 'http' | 'https';
  /** The resolver's certificate (self-signed), trusted by nat64d and curl; null without TLS. */
  readonly caFile: string | null;
  readonly client: string;
  readonly router: string;
  readonly server: string;
  readonly gatewayNs: Readonly<Record<GatewayName, string>>;
  readonly processes: Record<string, NsProcess>;
  /** Starts (or restarts) a gateway's nat64d; resolves once it translates. */
  startGateway(name: GatewayName): Promise<NsProcess>;
  /** Sends `signal` to a gateway's nat64d and resolves once the process has exited. */
  stopGateway(name: GatewayName, signal: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

/** Resolves once `check` is true, polling; rejects with `what` after `timeoutMs`. */
async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Brings the site up with the resolver of `kind` on the router (the tenant in place) but no
 * gateway running yet; on any failure everything started so far is torn down.
 */
export async function startGatewaySite(kind: ResolverKind): Promise<GatewaySite> {
  const id = suffix();
  const client = `gwc-${id}`;
  const router = `gwr-${id}`;
  const server = `gws-${id}`;
  const gatewayNs: Record<GatewayName, string> = { 'gw-a': `gwa-${id}`, 'gw-b': `gwb-${id}` };
  const all = [client, router, server, ...Object.values(gatewayNs)];
  const dir = mkdtempSync(join(tmpdir(), 'dns64-gateways-'));
  const processes: Record<string, NsProcess> = {};
  const netnsEtc = `/etc/netns/${client}`;
  const scheme = kind === 'node' ? 'https' : 'http';
  const caFile = kind === 'node' ? join(dir, 'cert.pem') : null;
  const stop = async () => {
    for (const p of Object.values(processes).reverse()) await p.stop();
    for (const n of all) delNetns(n);
    rmSync(netnsEtc, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  };
  const veth = (a: string, aNs: string, b: string, bNs: string) => {
    sh('ip', ['link', 'add', a, 'netns', aNs, 'type', 'veth', 'peer', 'name', b]);
    sh('ip', ['link', 'set', b, 'netns', bNs]);
    ns(aNs, 'ip', 'link', 'set', a, 'up');
    ns(bNs, 'ip', 'link', 'set', b, 'up');
  };

  const startGateway = async (name: GatewayName) => {
    const g = GW_SITE.gateways[name];
    const data = join(dir, name);
    mkdirSync(data, { recursive: true });
    const conf = join(dir, `${name}.conf`);
    writeFileSync(
      conf,
      [
        'tun-device nat64',
        'ipv4-addr 192.0.2.1',
        `prefix ${g.prefix}`,
        `dynamic-pool ${g.pool}`,
        `data-dir ${data}`,
        `report-url ${scheme}://[${g.routerLink6}]:${GW_SITE.dohPort}/t/${GW_SITE.tenant}/gateways/${name}`,
        `report-key ${GW_SITE.gatewayKey}`,
        '',
      ].join('\n'),
    );
    // A fresh key each start, so a restarted gateway's output is its own.
    const key = `nat64d ${name} ${Date.now()}`;
    const p = spawnInNs(gatewayNs[name], [
      'env',
      ...(caFile ? [`NODE_EXTRA_CA_CERTS=${caFile}`] : []),
      process.execPath,
      join(ROOT, 'packages/nat64d/bin/nat64d.js'),
      '-c',
      conf,
    ]);
    for (const k of Object.keys(processes))
      if (k.startsWith(`nat64d ${name} `)) delete processes[k];
    processes[key] = p;
    await p.waitFor('translating on', 20_000);
    return p;
  };

  const stopGateway = async (name: GatewayName, signal: NodeJS.Signals) => {
    const entry = Object.entries(processes).find(([k]) => k.startsWith(`nat64d ${name} `));
    if (!entry) throw new Error(`${name} is not running`);
    const [, p] = entry;
    p.child.kill(signal);
    await until(
      `${name} to exit`,
      () => p.child.exitCode !== null || p.child.signalCode !== null,
      10_000,
    );
  };

  try {
    for (const n of all) addNetns(n);
    for (const n of [client, router, ...Object.values(gatewayNs)]) {
      ns(n, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0');
    }

    // client <-> router
    veth(`c${id}`, client, `rc${id}`, router);
    ns(client, 'ip', 'addr', 'add', `${GW_SITE.client}/64`, 'dev', `c${id}`, 'nodad');
    ns(client, 'ip', '-6', 'route', 'add', 'default', 'via', GW_SITE.resolver6);
    ns(router, 'ip', 'addr', 'add', `${GW_SITE.resolver6}/64`, 'dev', `rc${id}`, 'nodad');
    ns(router, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
    mkdirSync(netnsEtc, { recursive: true });
    writeFileSync(join(netnsEtc, 'resolv.conf'), `nameserver ${GW_SITE.resolver6}\n`);

    // The server's LAN: a bridge the gateways and the router plug into.
    ns(server, 'ip', 'link', 'add', 'br0', 'type', 'bridge');
    ns(server, 'ip', 'link', 'set', 'br0', 'up');
    ns(server, 'ip', 'addr', 'add', `${GW_SITE.server4}/24`, 'dev', 'br0');
    veth(`sr${id}`, server, `rs${id}`, router);
    ns(server, 'ip', 'link', 'set', `sr${id}`, 'master', 'br0');
    ns(router, 'ip', 'addr', 'add', `${GW_SITE.router4}/24`, 'dev', `rs${id}`);

    for (const name of GATEWAY_NAMES) {
      const g = GW_SITE.gateways[name];
      const gns = gatewayNs[name];
      const tag = name.slice(-1); // a, b
      // router <-> gateway (IPv6)
      veth(`r${tag}${id}`, router, `g${tag}r${id}`, gns);
      ns(router, 'ip', 'addr', 'add', `${g.routerLink6}/64`, 'dev', `r${tag}${id}`, 'nodad');
      ns(gns, 'ip', 'addr', 'add', `${g.gateway6}/64`, 'dev', `g${tag}r${id}`, 'nodad');
      ns(gns, 'ip', '-6', 'route', 'add', 'default', 'via', g.routerLink6);
      ns(router, 'ip', '-6', 'route', 'add', g.prefix, 'via', g.gateway6);
      // gateway <-> server LAN (IPv4)
      veth(`s${tag}${id}`, server, `g${tag}s${id}`, gns);
      ns(server, 'ip', 'link', 'set', `s${tag}${id}`, 'master', 'br0');
      ns(gns, 'ip', 'addr', 'add', `${g.gateway4}/24`, 'dev', `g${tag}s${id}`);
      ns(server, 'ip', 'route', 'add', g.pool, 'via', g.gateway4);
      ns(gns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
      ns(gns, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
    }

    // The IPv4-only server: BIND with A-only names, and a web server.
    await startIpv4Server(dir, server, processes);

    if (kind === 'node') await startNodeResolver(router, dir, caFile!, processes);
    else await startWorkerResolver(router, dir, processes);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    scheme,
    caFile,
    client,
    router,
    server,
    gatewayNs,
    processes,
    startGateway,
    stopGateway,
    stop,
  };
}

/**
 * The self-hosted server on the router: the tenant from TENANTS_FILE, classic DNS as it, TLS
 * with a self-signed certificate for resolver.site.test and the router's addresses (DoH over
 * https, DoT, DDR).
 */
async function startNodeResolver(
  router: string,
  dir: string,
  cert: string,
  processes: Record<string, NsProcess>,
): Promise<void> {
  const key = join(dir, 'key.pem');
  const addrs = [GW_SITE.resolver6, ...GATEWAY_NAMES.map((g) => GW_SITE.gateways[g].routerLink6)];
  sh('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${GW_SITE.serverName}`,
    '-addext', `subjectAltName=DNS:${GW_SITE.serverName},${addrs.map((a) => `IP:${a}`).join(',')}`,
  ]); // prettier-ignore
  const tenants = join(dir, 'tenants.json');
  writeFileSync(tenants, JSON.stringify({ [GW_SITE.tenant]: tenantRecord() }));
  processes.resolver = spawnInNs(router, [
    'env',
    `PORT=${GW_SITE.dohPort}`,
    'DNS_PORT=53',
    `UPSTREAMS=udp://${SITE.server4}:53`,
    `TENANTS_FILE=${tenants}`,
    `DNS_TENANT=${GW_SITE.tenant}`,
    `ADMIN_TOKEN=${GW_SITE.adminToken}`,
    `TLS_CERT=${cert}`,
    `TLS_KEY=${key}`,
    'NODE_NO_WARNINGS=1',
    process.execPath,
    '--import',
    'tsx',
    join(ROOT, 'src/node/serve.ts'),
  ]);
  // The server logs JSON lines: `ready:` opens the message of its ready line.
  await processes.resolver.waitFor(/"msg":"ready:/m, 30_000);
}

/**
 * The worker under `wrangler dev` on the router, with dnsdist there as its DoH upstream in
 * front of BIND (Workers take DoH upstreams only); the tenant is put through the admin API.
 */
async function startWorkerResolver(
  router: string,
  dir: string,
  processes: Record<string, NsProcess>,
): Promise<void> {
  writeFileSync(
    join(dir, 'dnsdist.conf'),
    `setLocal("127.0.0.1:5300")
newServer({address="${SITE.server4}:53"})
addDOHLocal("127.0.0.1:8053", nil, nil, "/dns-query")
setSecurityPollSuffix("")
`,
  );
  processes.dnsdist = spawnInNs(router, [
    'dnsdist',
    '--supervised',
    '-C',
    join(dir, 'dnsdist.conf'),
  ]);
  await processes.dnsdist.waitFor('Marking downstream', 20_000);
  const state = join(dir, 'wrangler-state');
  processes.resolver = spawnInNs(router, [
    'env',
    `HOME=${process.env.HOME ?? '/root'}`,
    'WRANGLER_SEND_METRICS=false',
    'NO_UPDATE_NOTIFIER=1',
    join(ROOT, 'node_modules/.bin/wrangler'),
    'dev',
    '--cwd',
    ROOT,
    '--ip',
    '::',
    '--port',
    String(GW_SITE.dohPort),
    '--inspector-port',
    '9229',
    '--persist-to',
    state,
    '--var',
    'UPSTREAMS:http://127.0.0.1:8053/dns-query',
    '--var',
    `ADMIN_TOKEN:${GW_SITE.adminToken}`,
  ]);
  await processes.resolver.waitFor('Ready on', 90_000);
  const r = ns(
    router,
    'curl',
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '-X',
    'PUT',
    '-H',
    `authorization: Bearer ${GW_SITE.adminToken}`,
    '-H',
    'content-type: application/json',
    '--data-binary',
    JSON.stringify(tenantRecord()),
    `http://[::1]:${GW_SITE.dohPort}/admin/tenants/${GW_SITE.tenant}`,
  );
  if (r !== '201' && r !== '200') throw new Error(`putting the tenant into the worker: HTTP ${r}`);
}
