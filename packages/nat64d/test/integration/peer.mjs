// Test peers run inside the namespaces with `node peer.mjs <role> ...`.
//   tcp-server PORT                 echoes "<peer address> <bytes received>" when the client ends
//   udp-server PORT                 answers each datagram with "<peer address> <length>"
//   tcp-client HOST PORT BYTES [SRC]  sends BYTES, prints the server's answer
//   udp-client HOST PORT [SRC]      sends one datagram, prints the answer or "error <code>"
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { Buffer } from 'node:buffer';
import { setTimeout } from 'node:timers';

const [role, ...args] = process.argv.slice(2);
const fail = (msg) => {
  process.stdout.write(`${msg}\n`);
  process.exit(3);
};
if (role?.endsWith('-client'))
  setTimeout(() => fail('TIMEOUT'), Number(process.env.PEER_TIMEOUT_MS ?? 8000));

if (role === 'tcp-server') {
  const server = createServer((sock) => {
    let bytes = 0;
    sock.on('data', (d) => (bytes += d.length));
    sock.on('end', () => {
      process.stdout.write(`tcp ${sock.remoteAddress} ${bytes}\n`);
      sock.end(`${sock.remoteAddress} ${bytes}\n`);
    });
    sock.on('error', () => undefined);
  });
  server.listen(Number(args[0]), '0.0.0.0', () => process.stdout.write('listening\n'));
} else if (role === 'udp-server') {
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    process.stdout.write(`udp ${rinfo.address} ${msg.length}\n`);
    sock.send(`${rinfo.address} ${msg.length}`, rinfo.port, rinfo.address);
  });
  sock.bind(Number(args[0]), () => process.stdout.write('listening\n'));
} else if (role === 'tcp-client') {
  const [host, port, bytes, src] = args;
  const sock = connect({ host, port: Number(port), localAddress: src, family: 6 });
  let answer = '';
  sock.on('connect', () => sock.end(Buffer.alloc(Number(bytes), 0x61)));
  sock.on('data', (d) => (answer += d));
  sock.on('end', () => {
    process.stdout.write(answer);
    process.exit(0);
  });
  sock.on('error', (e) => fail(`error ${e.code}`));
} else if (role === 'udp-client') {
  const [host, port, src] = args;
  const sock = createSocket('udp6');
  sock.on('error', (e) => fail(`error ${e.code}`));
  sock.on('message', (msg) => {
    process.stdout.write(`${msg}\n`);
    process.exit(0);
  });
  sock.bind({ address: src ?? '::', port: 0 }, () => {
    sock.connect(Number(port), host, () => {
      sock.send('hello from the IPv6 side', (e) => e && fail(`error ${e.code}`));
    });
  });
} else {
  fail(`unknown role ${role}`);
}
