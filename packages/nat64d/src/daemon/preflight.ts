/**
 * Checks before the daemon takes anything over, and the messages that tell the operator what
 * the configuration will do: a Tayga already running on the same files, a missing
 * CAP_NET_ADMIN, and what a configuration drops by design.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { isWellKnownPrefix } from 'nat64-addr';
import type { Nat64dConfig } from '../config/types.js';
import { formatIpv6Net } from '../config/addr.js';

export interface RunningProcess {
  readonly pid: number;
  readonly argv: readonly string[];
}

/** Tayga's default configuration file (as nat64d's). */
export const TAYGA_DEFAULT_CONFIG = '/etc/tayga.conf';

/** The configuration file a Tayga command line uses (`-c FILE`, `--config FILE`, else the default). */
export function taygaConfigOf(argv: readonly string[]): string {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === '-c' || a === '--config') && i + 1 < argv.length) return argv[i + 1]!;
    if (a.startsWith('--config=')) return a.slice('--config='.length);
    if (a.startsWith('-c') && a.length > 2) return a.slice(2);
  }
  return TAYGA_DEFAULT_CONFIG;
}

/** Running `tayga` processes (argv[0] or the executable named tayga), from /proc. */
export function runningTaygas(proc = '/proc'): RunningProcess[] {
  const out: RunningProcess[] = [];
  let entries: string[];
  try {
    entries = readdirSync(proc);
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`${proc}/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[argv.length - 1] === '') argv.pop();
      const comm = readFileSync(`${proc}/${entry}/comm`, 'utf8').trim();
      if (argv.length > 0 && (basename(argv[0]!) === 'tayga' || comm === 'tayga')) {
        out.push({ pid: Number(entry), argv });
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/**
 * With no `-c`, nat64d would read Tayga's /etc/tayga.conf and use its data-dir: refuse when a
 * running Tayga uses that file. Returns the message, or null.
 */
export function taygaConflict(
  configFile: string,
  processes: readonly RunningProcess[],
  readText: (file: string) => string | null = readOrNull,
): string | null {
  const same = processes.find((p) => taygaConfigOf(p.argv) === configFile);
  if (same) {
    return (
      `a running Tayga (pid ${same.pid}: ${same.argv.join(' ')}) uses ${configFile} and its ` +
      'data-dir; nat64d will not take them over. Stop Tayga first, or give nat64d its own file ' +
      'with -c FILE'
    );
  }
  // Another file, but the same data-dir: both would write dynamic.map.
  const ours = dataDirOf(readText(configFile));
  if (ours === null) return null;
  for (const p of processes) {
    const file = taygaConfigOf(p.argv);
    if (dataDirOf(readText(file)) === ours) {
      return (
        `a running Tayga (pid ${p.pid}: ${p.argv.join(' ')}) uses the data-dir ${ours} of ` +
        `${configFile} (through ${file}); nat64d will not take it over. Stop Tayga first, or ` +
        'give nat64d its own file with -c FILE'
      );
    }
  }
  return null;
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** The `data-dir` of a tayga.conf text (the last one given), without trailing slashes. */
export function dataDirOf(text: string | null): string | null {
  if (text === null) return null;
  let dir: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*data-dir\s+(\S+)/i.exec(line);
    if (m) dir = m[1]!.replace(/(.)\/+$/, '$1');
  }
  return dir;
}

export const CAP_NET_ADMIN_MESSAGE =
  'nat64d needs CAP_NET_ADMIN (run as root or grant the capability) to open /dev/net/tun';

/** An error from opening the TUN device, with the missing privilege named. */
export function tunOpenError(err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (e && (e.code === 'EPERM' || e.code === 'EACCES')) {
    return new Error(`${CAP_NET_ADMIN_MESSAGE}: ${e.message}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** Notes printed at start (and by --check): what this configuration drops by design. */
export function configNotes(config: Nat64dConfig): string[] {
  const notes: string[] = [];
  if (config.wkpfStrict && isWellKnownPrefix(config.prefix)) {
    notes.push(
      `note: prefix ${formatIpv6Net(config.prefix)} is the Well-Known Prefix: packets to or from ` +
        'non-global IPv4 addresses (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10 and ' +
        'every other range the IANA special-purpose registry does not mark globally reachable) ' +
        'will be dropped (RFC 6052 section 3.1), and IPv6 senders get ICMPv6 Destination ' +
        'Unreachable (administratively prohibited). To reach such addresses, use a ' +
        'network-specific prefix of your own instead of 64:ff9b::/96',
    );
  }
  return notes;
}
