import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
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

  it('radvd.conf passes radvd -c', () => {
    requireCommand('radvd', 'radvd');
    const r = run('radvd', ['-c', '-C', join(DEPLOY, 'gateway/radvd.conf')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/syntax ok/);
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
