/** `nat64d stats`: reads the running daemon's counters from its metrics endpoint. */
import { request } from 'node:http';
import { parseListenAddress } from '../config/index.js';

export function fetchStats(listen: string, timeoutMs = 3000): Promise<Record<string, number>> {
  const addr = parseListenAddress(listen);
  if (addr === null || typeof addr === 'string') {
    return Promise.reject(new Error(`metrics address ${listen}: ${addr ?? 'disabled'}`));
  }
  return new Promise((resolve, reject) => {
    const req = request(
      { host: addr.host, port: addr.port, path: '/stats', method: 'GET', timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          try {
            if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode ?? '?'}`);
            resolve(JSON.parse(body) as Record<string, number>);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

export function formatStats(stats: Record<string, number>): string {
  const width = Math.max(0, ...Object.keys(stats).map((k) => k.length));
  return Object.entries(stats)
    .map(([k, v]) => `${k.padEnd(width)}  ${v}`)
    .join('\n');
}
