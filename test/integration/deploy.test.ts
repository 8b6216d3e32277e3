import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
    expect(r).toEqual({
      code: 0,
      out: `${join(DEPLOY, 'gateway/tayga.conf')}: OK (tun-device nat64, 0 map line(s))\n`,
    });
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
