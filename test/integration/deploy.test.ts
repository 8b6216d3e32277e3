import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  addNetns,
  delNetns,
  netnsUnavailable,
  ns,
  nsRun,
  spawnInNs,
  suffix,
  type NsProcess,
} from '../../packages/nat64d/test/helpers/netns.js';
import { requireCommand } from './servers';

/** Every deployment file is read by the tool that will read it on the gateway. */
const DEPLOY = join(__dirname, '../../deploy');

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('deploy/', () => {
  it('the gateway tayga.conf passes nat64d --check', () => {
    const r = run(process.execPath, [
      join(__dirname, '../../packages/nat64d/bin/nat64d.js'),
      '-c',
      join(DEPLOY, 'gateway/tayga.conf'),
      '--check',
    ]);
    // The deploy uses the Well-Known Prefix (as its radvd PREF64 does): --check names what that
    // drops, then the summary.
    const [note, summary, end] = r.out.split('\n');
    expect([r.code, summary, end]).toEqual([
      0,
      `${join(DEPLOY, 'gateway/tayga.conf')}: OK (tun-device nat64, 0 map line(s))`,
      '',
    ]);
    expect(note).toMatch(
      /^note: prefix 64:ff9b::\/96 is the Well-Known Prefix: packets to or from non-global IPv4 addresses/,
    );
  });

  it('radvd.conf passes radvd -c (radvd 2.20 or newer: nat64prefix)', () => {
    requireCommand('radvd', 'radvd');
    const version = /Version:\s*(\d+)\.(\d+)/.exec(run('radvd', ['--version']).out);
    expect(version, 'radvd --version').not.toBeNull();
    const [major, minor] = [Number(version![1]), Number(version![2])];
    expect(
      major > 2 || (major === 2 && minor >= 20),
      `radvd ${major}.${minor} predates nat64prefix (RFC 8781): install 2.20 or newer ` +
        '(bookworm-backports, as .ci/run does)',
    ).toBe(true);
    const r = run('radvd', ['-c', '-C', join(DEPLOY, 'gateway/radvd.conf')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/syntax ok/);
  });

  it('one NAT64 prefix: radvd PREF64, nat64d prefix and the resolver DNS64_PREFIX agree', () => {
    const read = (file: string) => readFileSync(join(DEPLOY, 'gateway', file), 'utf8');
    const pref64 = [...read('radvd.conf').matchAll(/^\s*nat64prefix\s+(\S+)/gm)].map((m) => m[1]);
    const nat64d = [...read('tayga.conf').matchAll(/^prefix\s+(\S+)/gm)].map((m) => m[1]);
    const resolver = [...read('resolver.env').matchAll(/^DNS64_PREFIX=(\S+)/gm)].map((m) => m[1]);
    expect({ pref64, nat64d, resolver }).toEqual({
      pref64: ['64:ff9b::/96'],
      nat64d: ['64:ff9b::/96'],
      resolver: ['64:ff9b::/96'],
    });
  });

  const noNetns = netnsUnavailable(['ip']);
  it.skipIf(noNetns !== null)(
    `radvd with radvd.conf sends PREF64 (RFC 8781), RDNSS and the /64${noNetns ? ` (skipped: ${noNetns})` : ''}`,
    async () => {
      requireCommand('radvd', 'radvd');
      // The gateway's LAN interface keeps its name from radvd.conf (eth0.64) inside a namespace;
      // a host on the other end of the veth solicits and decodes the RA (ra_pref64.py).
      const id = suffix();
      const [gw, host] = [`ragw-${id}`, `rah-${id}`];
      const dir = mkdtempSync(join(tmpdir(), 'radvd-'));
      addNetns(gw);
      addNetns(host);
      let daemon: NsProcess | null = null;
      try {
        ns(gw, 'ip', 'link', 'add', 'eth0.64', 'type', 'veth', 'peer', 'name', 'h0', 'netns', host);
        ns(gw, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
        ns(gw, 'sysctl', '-qw', 'net/ipv6/conf/eth0.64/accept_dad=0');
        ns(host, 'sysctl', '-qw', 'net/ipv6/conf/h0/accept_dad=0');
        ns(gw, 'ip', 'link', 'set', 'eth0.64', 'up');
        ns(host, 'ip', 'link', 'set', 'h0', 'up');
        daemon = spawnInNs(gw, [
          'radvd',
          '-n',
          '-m',
          'stderr',
          '-p',
          join(dir, 'radvd.pid'),
          '-C',
          join(DEPLOY, 'gateway/radvd.conf'),
        ]);
        await daemon.waitFor('started');
        const r = nsRun(host, ['python3', join(__dirname, 'ra_pref64.py'), 'h0', '15'], 20_000);
        expect(r.code, r.stdout + r.stderr + daemon.output()).toBe(0);
        const ra = JSON.parse(r.stdout) as Record<string, unknown>;
        expect({ ...ra, from: undefined }).toEqual({
          from: undefined,
          // 1800 s is 225 units of 8 s; PLC 0 is a /96 (RFC 8781 section 4).
          pref64: [{ length: 16, lifetime: 1800, plc: 0, prefix: '64:ff9b::/96' }],
          prefixes: ['2001:db8:1:64::/64'],
          rdnss: [{ lifetime: 1800, servers: ['2001:db8:1:64::1'] }],
        });
        expect(ra.from).toMatch(/^fe80::/);
      } finally {
        await daemon?.stop();
        delNetns(gw);
        delNetns(host);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    30_000,
  );

  it('nftables.conf passes nft -c', () => {
    requireCommand('nft', 'nftables');
    expect(run('nft', ['-c', '-f', join(DEPLOY, 'gateway/nftables.conf')])).toEqual({
      code: 0,
      out: '',
    });
  });

  it('the systemd units pass systemd-analyze verify', () => {
    requireCommand('systemd-analyze', 'systemd');
    const units = readdirSync(join(DEPLOY, 'systemd')).map((f) => join(DEPLOY, 'systemd', f));
    expect(units).toHaveLength(2);
    for (const unit of units)
      expect(run('systemd-analyze', ['verify', unit]), unit).toEqual({ code: 0, out: '' });
  });
});
