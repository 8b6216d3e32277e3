// UDP burst peers for the coalescing test, run inside the namespaces with node.
//   server PORT            counts datagrams; each must be 64 bytes: u32 seq, then bytes (seq + i) & 255;
//                          prints "listening", then "got N bad M reordered R flows F" on SIGTERM
//                          (reordered: a datagram whose seq is not above the last one seen from
//                          the same source address and port; flows: source ports seen)
//   client HOST PORT COUNT [FLOWS]
//                          sends COUNT such datagrams as fast as it can, datagram k from socket
//                          k % FLOWS (default 1: one flow), prints "sent N"
import { createSocket } from 'node:dgram';
import { Buffer } from 'node:buffer';

const [role, ...args] = process.argv.slice(2);
const fill = (seq) => {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(seq >>> 0, 0);
  for (let i = 4; i < 64; i++) b[i] = (seq + i) & 255;
  return b;
};

if (role === 'server') {
  const sock = createSocket('udp4');
  let got = 0;
  let bad = 0;
  let reordered = 0;
  const last = new Map();
  sock.on('message', (msg, rinfo) => {
    got++;
    if (msg.length !== 64 || !fill(msg.readUInt32BE(0)).equals(msg)) {
      bad++;
      return;
    }
    const flow = `${rinfo.address} ${rinfo.port}`;
    const seq = msg.readUInt32BE(0);
    if (seq <= (last.get(flow) ?? 0)) reordered++;
    else last.set(flow, seq);
  });
  process.on('SIGTERM', () => {
    process.stdout.write(`got ${got} bad ${bad} reordered ${reordered} flows ${last.size}\n`);
    process.exit(0);
  });
  sock.bind(Number(args[0]), () => process.stdout.write('listening\n'));
} else if (role === 'client') {
  const [host, port, count, flows = '1'] = args;
  const socks = Array.from({ length: Number(flows) }, () => createSocket('udp6'));
  const n = Number(count);
  let sent = 0;
  let next = 0;
  const pump = () => {
    // Many sends in flight at once, so the gateway reads them in batches.
    while (next < n && next - sent < 256) {
      next++;
      socks[next % socks.length].send(fill(next), Number(port), host, () => {
        sent++;
        if (sent === n) {
          process.stdout.write(`sent ${sent}\n`);
          process.exit(0);
        }
        pump();
      });
    }
  };
  pump();
} else {
  process.stdout.write(`unknown role ${role}\n`);
  process.exit(3);
}
