/**
 * The dynamic table on disk: `<data-dir>/dynamic.map`, one mapping per line,
 * `<ipv4> <ipv6> <last use, unix seconds>`, `#` comments. Written atomically: a temporary file
 * in the same directory is written and fsynced, then renamed over the old one, then the
 * directory is fsynced, so a crash leaves either the old or the new table, never a mix.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../config/addr.js';
import type { DynamicMapping } from './dynamic-pool.js';

export const DYNAMIC_MAP_FILE = 'dynamic.map';

export function dynamicMapPath(dataDir: string): string {
  return join(dataDir, DYNAMIC_MAP_FILE);
}

export function serializeMappings(mappings: readonly DynamicMapping[]): string {
  const lines = ['# nat64d dynamic-pool mappings: ipv4 ipv6 last-use-unix-seconds'];
  for (const m of mappings) {
    lines.push(`${formatIpv4(m.ipv4)} ${formatIpv6(m.ipv6)} ${Math.floor(m.lastUse)}`);
  }
  return lines.join('\n') + '\n';
}

export interface LoadResult {
  readonly mappings: DynamicMapping[];
  /** Lines that could not be parsed (skipped). */
  readonly invalidLines: number;
  /** Their text. */
  readonly invalid?: readonly string[];
}

export function parseMappings(text: string): LoadResult {
  const mappings: DynamicMapping[] = [];
  const invalid: string[] = [];
  let invalidLines = 0;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [a4 = '', a6 = '', t = ''] = line.split(/\s+/);
    const ipv4 = parseIpv4(a4);
    const ipv6 = parseIpv6(a6);
    const lastUse = Number(t);
    if (!ipv4.ok || !ipv6.ok || !/^\d+$/.test(t)) {
      invalidLines++;
      invalid.push(raw);
      continue;
    }
    mappings.push({ ipv4: ipv4.value, ipv6: ipv6.value, lastUse });
  }
  return { mappings, invalidLines, invalid };
}

/** Reads the saved table; a missing file is an empty table. Other I/O errors are thrown. */
export function loadMappings(dataDir: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(dynamicMapPath(dataDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { mappings: [], invalidLines: 0 };
    throw err;
  }
  return parseMappings(text);
}

/** Writes the table atomically (temp file + fsync + rename + directory fsync). */
export function saveMappings(dataDir: string, mappings: readonly DynamicMapping[]): void {
  const target = dynamicMapPath(dataDir);
  const temp = `${target}.tmp-${process.pid}`;
  const data = serializeMappings(mappings);
  try {
    const fd = openSync(temp, 'w', 0o644);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { force: true, recursive: false });
    throw err;
  }
  try {
    const dir = openSync(dataDir, 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // Directory fsync is best effort (not supported on every filesystem).
  }
}

/** A saved mapping kept aside, with why. */
export interface SetAside {
  readonly mapping: DynamicMapping;
  readonly reason: string;
}

/**
 * Keeps the saved mappings that no longer fit the configuration (and unreadable lines) in
 * `<data-dir>/dynamic.map.rejected-<UTC time>`, so that nothing saved is lost silently.
 * Returns the file's path.
 */
export function saveRejected(
  dataDir: string,
  rejected: readonly SetAside[],
  unreadable: readonly string[],
  now = new Date(),
): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const path = join(dataDir, `${DYNAMIC_MAP_FILE}.rejected-${stamp}`);
  const lines = [
    `# nat64d: saved dynamic-pool mappings that no longer fit the configuration, ${now.toISOString()}`,
    '# ipv4 ipv6 last-use-unix-seconds  # why',
  ];
  for (const r of rejected) {
    const m = r.mapping;
    lines.push(
      `${formatIpv4(m.ipv4)} ${formatIpv6(m.ipv6)} ${Math.floor(m.lastUse)}  # ${r.reason}`,
    );
  }
  for (const raw of unreadable) lines.push(`# unreadable: ${raw}`);
  writeFileSync(path, lines.join('\n') + '\n', { mode: 0o644, flag: 'wx' });
  return path;
}
