// Runs inside a network namespace: opens a TUN device with the addon, answers ICMP echo
// requests to any address behind it (MTU and, if given, the transmit queue length set), prints "ready" and, at exit, the addon's counters.
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);
const tun = load('../../build/Release/tun.node');
const [name, mtu, qlen] = process.argv.slice(2);
const h = tun.open(name, 0);
tun.setMtu(name, Number(mtu));
if (qlen) tun.setTxQueueLen(name, Number(qlen));
const slot = Number(mtu) + 64;
const buf = new Uint8Array(slot * 16);
const lengths = new Uint32Array(16);
const out = new Uint8Array(65536);
const meta = new Uint32Array(32);
let batches = 0;
function csum(b, start, end) {
  let s = 0;
  for (let i = start; i < end; i += 2) s += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}
tun.startReading(h, buf, lengths, slot, (count) => {
  batches++;
  let used = 0;
  let n = 0;
  for (let i = 0; i < count; i++) {
    const p = buf.subarray(i * slot, i * slot + lengths[i]);
    if (p[0] >> 4 !== 4 || p[9] !== 1) continue;
    const ihl = (p[0] & 15) * 4;
    if (p[ihl] !== 8) continue;
    const r = out.subarray(used, used + p.length);
    r.set(p);
    r.set(p.subarray(16, 20), 12);
    r.set(p.subarray(12, 16), 16);
    r[ihl] = 0;
    r[ihl + 2] = r[ihl + 3] = 0;
    const c = csum(r, ihl, r.length);
    r[ihl + 2] = c >> 8;
    r[ihl + 3] = c & 255;
    meta[n * 2] = used;
    meta[n * 2 + 1] = p.length;
    used += p.length;
    n++;
  }
  tun.writeBatch(h, out, meta, n);
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  const s = tun.stats(h);
  tun.close(h);
  process.stdout.write(JSON.stringify({ ...s, batches }) + '\n');
  process.exit(0);
});
