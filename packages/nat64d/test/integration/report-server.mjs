// A stand-in for the resolver's gateway endpoint, run inside a namespace:
//   node report-server.mjs PORT
// prints "listening" once up, then one JSON line per request (method, url, authorization,
// content-type, body) and answers 204.
import { createServer } from 'node:http';
import { Buffer } from 'node:buffer';

const port = Number(process.argv[2]);
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const line = {
      method: req.method,
      url: req.url,
      authorization: req.headers.authorization ?? null,
      contentType: req.headers['content-type'] ?? null,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    res.writeHead(204).end();
  });
});
server.listen(port, '127.0.0.1', () => process.stdout.write('listening\n'));
