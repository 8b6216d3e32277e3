// Test peers run inside the namespaces with `node peer.mjs <role> ...`.
//   tcp-server PORT                 echoes "<peer address> <bytes received>" when the client ends
//   udp-server PORT                 answers each datagram with "<peer address> <length>"
//   tcp-client HOST PORT BYTES [SRC]  sends BYTES, prints the server's answer
//   udp-client HOST PORT [SRC]      sends one datagram, prints the answer or "error <code>"
//   tcp-port-server PORT [ADDR], udp-port-server PORT   as above, with "<address>#<port>" of the
//                                   peer (tcp: listening on ADDR, default 0.0.0.0)
//   udp-multi-client HOST PORT SRC,SRC,...       one datagram from each source, prints
//                                                "<src> <answer>" per line
//   udp4-probe-client HOST PORT, tcp4-probe-client HOST PORT   IPv4 probes: print the answer
//                                                / "connected" / "error <code>" (or TIMEOUT)
//   tcp-echo-server PORT, tcp-hold-client HOST PORT SRC SECONDS   a long-lived echoed connection
//   syn-flood HOST PORT COUNT SRC, udp-scan HOST FIRST LAST SRC   abuse from one IPv6 host
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { Buffer } from 'node:buffer';
import { clearInterval, setInterval, setTimeout } from 'node:timers';

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
} else if (role === 'tcp-port-server') {
  const server = createServer((sock) => {
    let bytes = 0;
    const peer = `${sock.remoteAddress}#${sock.remotePort}`;
    sock.on('data', (d) => (bytes += d.length));
    sock.on('end', () => {
      process.stdout.write(`tcp ${peer} ${bytes}\n`);
      sock.end(`${peer} ${bytes}\n`);
    });
    sock.on('error', () => undefined);
  });
  server.listen(Number(args[0]), args[1] ?? '0.0.0.0', () => process.stdout.write('listening\n'));
} else if (role === 'udp-port-server') {
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    process.stdout.write(`udp ${rinfo.address}#${rinfo.port} ${msg.length}\n`);
    sock.send(`${rinfo.address}#${rinfo.port} ${msg.length}`, rinfo.port, rinfo.address);
  });
  sock.bind(Number(args[0]), () => process.stdout.write('listening\n'));
} else if (role === 'udp-multi-client') {
  const [host, port, list] = args;
  const srcs = list.split(',');
  const answers = new Map();
  for (const src of srcs) {
    const sock = createSocket('udp6');
    sock.on('error', (e) => fail(`error ${src} ${e.code}`));
    sock.on('message', (msg) => {
      answers.set(src, String(msg));
      sock.close();
      if (answers.size === srcs.length) {
        for (const s of srcs) process.stdout.write(`${s} ${answers.get(s)}\n`);
        process.exit(0);
      }
    });
    sock.bind({ address: src, port: 0 }, () => {
      sock.connect(Number(port), host, () => sock.send('hello from the IPv6 side'));
    });
  }
} else if (role === 'udp4-probe-client') {
  const [host, port] = args;
  const sock = createSocket('udp4');
  sock.on('error', (e) => fail(`error ${e.code}`));
  sock.on('message', (msg) => {
    process.stdout.write(`${msg}\n`);
    process.exit(0);
  });
  sock.connect(Number(port), host, () => sock.send('unsolicited'));
} else if (role === 'tcp4-probe-client') {
  const [host, port] = args;
  const sock = connect({ host, port: Number(port), family: 4 });
  sock.on('connect', () => {
    process.stdout.write('connected\n');
    process.exit(0);
  });
  sock.on('error', (e) => fail(`error ${e.code}`));
} else if (role === 'tcp-echo-server') {
  const server = createServer((sock) => {
    sock.on('data', (d) => sock.write(d));
    sock.on('error', () => undefined);
  });
  server.listen(Number(args[0]), '0.0.0.0', () => process.stdout.write('listening\n'));
} else if (role === 'tcp-hold-client') {
  // One long-lived connection: a line every 100 ms for SECONDS, each echoed back.
  // Prints "connected", then "echoed N of M" at the end.
  const [host, port, src, seconds] = args;
  const sock = connect({ host, port: Number(port), localAddress: src, family: 6 });
  let sent = 0;
  let buffered = '';
  let echoed = 0;
  sock.on('connect', () => {
    process.stdout.write('connected\n');
    const timer = setInterval(() => {
      sock.write(`line ${sent++}\n`);
    }, 100);
    setTimeout(
      () => {
        clearInterval(timer);
        setTimeout(() => {
          process.stdout.write(`echoed ${echoed} of ${sent}\n`);
          process.exit(0);
        }, 1000);
      },
      Number(seconds) * 1000,
    );
  });
  sock.on('data', (d) => {
    buffered += d;
    const lines = buffered.split('\n');
    buffered = lines.pop();
    echoed += lines.length;
  });
  sock.on('error', (e) => fail(`error ${e.code}`));
} else if (role === 'syn-flood') {
  // COUNT connection attempts from SRC, each from a new source port, to a host that never
  // answers: every SYN asks the NAT64 for a new binding and session. Prints "sent COUNT".
  const [host, port, count, src] = args;
  for (let i = 0; i < Number(count); i++) {
    const sock = connect({ host, port: Number(port), localAddress: src, family: 6 });
    sock.on('error', () => undefined);
    setTimeout(() => sock.destroy(), 1500);
  }
  setTimeout(() => {
    process.stdout.write(`sent ${count}\n`);
    process.exit(0);
  }, 2000);
} else if (role === 'udp-scan') {
  // One datagram to each port FIRST..LAST, each from a new socket (a new source port).
  const [host, first, last, src] = args;
  let left = Number(last) - Number(first) + 1;
  for (let p = Number(first); p <= Number(last); p++) {
    const sock = createSocket('udp6');
    sock.on('error', () => undefined);
    sock.bind({ address: src, port: 0 }, () => {
      sock.send('scan', p, host, () => {
        sock.close();
        if (--left === 0) {
          process.stdout.write(`sent ${Number(last) - Number(first) + 1}\n`);
          process.exit(0);
        }
      });
    });
  }
} else {
  fail(`unknown role ${role}`);
}
