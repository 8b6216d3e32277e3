import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addNetns,
  delNetns,
  netnsUnavailable,
  ns,
  nsRun,
  spawnInNs,
  suffix,
  type NsProcess,
} from '../helpers/netns.js';

const here = dirname(fileURLToPath(import.meta.url));
const addonBuilt = existsSync(join(here, '../../build/Release/tun.node'));
const skipReason = addonBuilt
  ? netnsUnavailable(['ip', 'ping'])
  : 'addon not built (npm run build:native)';

describe.skipIf(skipReason !== null)(
  `TUN addon on a real device${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    const name = `nat64d-tun-${suffix()}`;
    let responder: NsProcess;

    beforeAll(async () => {
      addNetns(name);
      responder = spawnInNs(name, [
        process.execPath,
        join(here, 'echo-responder.mjs'),
        'tun0',
        '1400',
        '3000',
      ]);
      await responder.waitFor('ready');
      ns(name, 'ip', 'link', 'set', 'tun0', 'up');
      ns(name, 'ip', 'addr', 'add', '198.18.0.1/24', 'dev', 'tun0');
    });

    afterAll(async () => {
      await responder?.stop();
      delNetns(name);
    });

    it('sets the MTU and the link type (IFF_TUN | IFF_NO_PI: no link-layer header)', () => {
      const link = ns(name, 'ip', '-d', 'link', 'show', 'tun0');
      expect(link).toContain('mtu 1400');
      expect(link).toContain('link/none');
      expect(link).toMatch(/tun type tun pi off/);
    });

    it('sets the transmit queue length (packets held for the reader; the kernel default is 500)', () => {
      const [link] = JSON.parse(ns(name, 'ip', '-j', 'link', 'show', 'tun0')) as Array<{
        txqlen: number;
      }>;
      expect(link?.txqlen).toBe(3000);
    });

    it('reads packets from the kernel and writes replies back (ping through the addon)', () => {
      const r = nsRun(name, [
        'ping',
        '-c',
        '20',
        '-i',
        '0.01',
        '-W',
        '1',
        '-s',
        '1300',
        '198.18.0.2',
      ]);
      expect(r.stdout).toContain('20 packets transmitted, 20 received');
    });

    it('drains a burst in batches and counts packets', async () => {
      // A flood ping (-f, root) queues several requests between readiness callbacks.
      const r = nsRun(name, ['ping', '-f', '-c', '2000', '-W', '1', '198.18.0.2'], 20_000);
      expect(r.stdout).toMatch(/2000 packets transmitted, 2000 received/);
      const code = await responder.stop();
      expect(code).toBe(0);
      const stats = JSON.parse(responder.output().trim().split('\n').pop() ?? '{}') as Record<
        string,
        number
      >;
      expect(stats.writePackets).toBeGreaterThanOrEqual(2020);
      expect(stats.readPackets).toBeGreaterThanOrEqual(2020);
      expect(stats.readErrors).toBe(0);
      expect(stats.writeErrors).toBe(0);
      expect(stats.readBatches).toBeLessThanOrEqual(stats.readPackets as number);
    });
  },
);

describe.skipIf(skipReason !== null)(
  `TUN addon: UDP coalescing on write${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    const name = `nat64d-uso-${suffix()}`;
    beforeAll(() => addNetns(name));
    afterAll(() => delNetns(name));

    it('groups interleaved flows of one batch into one GSO write per flow run, in order within each flow, bytes unchanged', () => {
      const r = nsRun(name, [process.execPath, join(here, 'uso-writer.mjs'), 'tun0'], 10_000);
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout) as {
        written: number;
        usoWrites: number;
        usoDatagrams: number;
        writeErrors: number;
        received: Array<[number, string]>;
        sent: Array<[number, string]>;
      };
      // A1 B1 C1 A2 B2 C2 A3 BL C3 A4 B3 C4 B4 (BL: flow B, 100 bytes) go out as
      // [A1 A2 A3 A4] [B1 B2] [C1 C2 C3 C4] [BL B3] B4: BL is larger than B's run, so that
      // run ends before it (B3 may not overtake it) and BL starts the next one, which the
      // shorter B3 ends; B4, the batch's last packet, goes alone.
      expect(out.written).toBe(13);
      expect(out.writeErrors).toBe(0);
      expect(out.usoWrites).toBe(4);
      expect(out.usoDatagrams).toBe(12);
      const perFlow = (list: Array<[number, string]>, port: number) =>
        list.filter(([p]) => p === port).map(([, hex]) => hex);
      expect(out.received).toHaveLength(13);
      for (const port of [1001, 1002, 1003])
        expect(perFlow(out.received, port)).toEqual(perFlow(out.sent, port));
    });
  },
);
