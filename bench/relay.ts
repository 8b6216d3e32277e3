/**
 * A UDP relay that adds a fixed delay each way, standing in for `tc qdisc ... netem delay` (the
 * benchmark machine's kernel has no sch_netem). Run as its own process:
 *   tsx bench/relay.ts <listenPort> <targetPort> <oneWayDelayMs>
 * Every datagram from a client is sent to 127.0.0.1:<targetPort> after the delay from a socket of
 * its own for that client; every answer goes back to the client after the delay again. Prints
 * `relay ready` once listening.
 */
import { type Socket, createSocket } from 'node:dgram';

const [listenPort, targetPort, delayMs] = process.argv.slice(2).map(Number);
if (!listenPort || !targetPort || delayMs === undefined || !(delayMs >= 0)) {
  console.error('usage: relay.ts <listenPort> <targetPort> <oneWayDelayMs>');
  process.exit(2);
}

/** Calls `fn` at `due` (a performance.now() time): setTimeout, then a short spin for the rest. */
function at(due: number, fn: () => void): void {
  const wait = due - performance.now();
  if (wait > 1.5) {
    setTimeout(() => at(due, fn), wait - 1);
    return;
  }
  setImmediate(() => (performance.now() >= due ? fn() : at(due, fn)));
}

const front = createSocket('udp4');
/** Datagrams passed on to the target so far, printed as `count N` on SIGUSR2. */
let forwarded = 0;
const backs = new Map<string, Socket>();

front.on('message', (msg, rinfo) => {
  const due = performance.now() + delayMs!;
  const key = `${rinfo.address}:${rinfo.port}`;
  let back = backs.get(key);
  if (!back) {
    const s = createSocket('udp4');
    s.on('message', (answer) => {
      const back = performance.now() + delayMs!;
      at(back, () => front.send(answer, rinfo.port, rinfo.address));
    });
    s.on('error', () => {});
    s.bind(0, '127.0.0.1');
    backs.set(key, s);
    back = s;
  }
  const socket = back;
  forwarded++;
  at(due, () => socket.send(msg, targetPort!, '127.0.0.1'));
});
process.on('SIGUSR2', () => console.log(`count ${forwarded}`));
front.on('error', (err) => {
  console.error(`relay: ${err.message}`);
  process.exit(1);
});
front.bind(listenPort, '127.0.0.1', () => console.log('relay ready'));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
