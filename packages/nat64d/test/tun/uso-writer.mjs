// Runs inside a network namespace: opens TUN device NAME with IFF_VNET_HDR and UDP coalescing,
// gives it 198.18.0.1/24, binds a UDP socket on 198.18.0.1:7003, and writes ONE batch of IPv4
// UDP datagrams from 198.18.0.2 through the addon, three flows (source ports 1001, 1002, 1003)
// interleaved:
//   A1 B1 C1 A2 B2 C2 A3 BL C3 A4 B3 C4 B4
// (payloads of 64 bytes; BL is flow B with 100 bytes). It prints one JSON line: how many the
// addon wrote, its counters, and every datagram the socket received: [source port, payload hex].
import { createRequire } from 'node:module';
import { createSocket } from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { setTimeout, clearTimeout } from 'node:timers';

const load = createRequire(import.meta.url);
const tun = load('../../build/Release/tun.node');
const [name] = process.argv.slice(2);
const h = tun.open(name, tun.flags.VNET_HDR);
tun.setMtu(name, 1500);
tun.setUdpCoalesce(h, true);
execFileSync('ip', ['link', 'set', name, 'up']);
execFileSync('ip', ['addr', 'add', '198.18.0.1/24', 'dev', name]);

function sum(b, start, end, init = 0) {
  let s = init;
  for (let i = start; i < end; i += 2) s += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
  return s;
}
const fold = (s) => {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
};

/** One IPv4/UDP datagram, checksums valid. */
function datagram(sport, payload) {
  const len = 28 + payload.length;
  const p = new Uint8Array(len);
  p.set([0x45, 0, len >> 8, len & 255, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1]);
  const ipc = ~fold(sum(p, 0, 20)) & 0xffff;
  p[10] = ipc >> 8;
  p[11] = ipc & 255;
  const ulen = len - 20;
  p.set([sport >> 8, sport & 255, 7003 >> 8, 7003 & 255, ulen >> 8, ulen & 255, 0, 0], 20);
  p.set(payload, 28);
  let uc = ~fold(sum(p, 20, len, sum(p, 12, 20) + 17 + ulen)) & 0xffff;
  if (uc === 0) uc = 0xffff;
  p[26] = uc >> 8;
  p[27] = uc & 255;
  return p;
}

const flows = { A: 1001, B: 1002, C: 1003 };
const order = ['A1', 'B1', 'C1', 'A2', 'B2', 'C2', 'A3', 'BL', 'C3', 'A4', 'B3', 'C4', 'B4'];
const packets = order.map((tag, k) => {
  const payload = new Uint8Array(tag === 'BL' ? 100 : 64);
  for (let i = 0; i < payload.length; i++) payload[i] = (k * 7 + i) & 255;
  payload[0] = tag.charCodeAt(0);
  payload[1] = k;
  return datagram(flows[tag[0]], payload);
});

const sock = createSocket('udp4');
const received = [];
let done;
const finished = new Promise((resolve) => (done = resolve));
sock.on('message', (msg, rinfo) => {
  received.push([rinfo.port, msg.toString('hex')]);
  if (received.length === order.length) done();
});
sock.bind(7003, '198.18.0.1', () => {
  const buf = new Uint8Array(65536);
  const meta = new Uint32Array(order.length * 2);
  let used = 0;
  packets.forEach((p, i) => {
    buf.set(p, used);
    meta[2 * i] = used;
    meta[2 * i + 1] = p.length;
    used += p.length;
  });
  const written = tun.writeBatch(h, buf, meta, order.length);
  const timer = setTimeout(done, 2000);
  finished.then(() => {
    clearTimeout(timer);
    const s = tun.stats(h);
    process.stdout.write(
      JSON.stringify({
        written,
        usoWrites: s.usoWrites,
        usoDatagrams: s.usoDatagrams,
        writeErrors: s.writeErrors,
        received,
        sent: packets.map((p) => [
          (p[20] << 8) | p[21],
          Buffer.from(p.subarray(28)).toString('hex'),
        ]),
      }) + '\n',
    );
    tun.close(h);
    process.exit(0);
  });
});
