/** report-url and report-key (issue 15): file keys, the environment over them, both or neither. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { ConfigError, parseTaygaConf } from '../../src/config/index.js';

const FILE = '/etc/tayga.conf';
const BASE = ['tun-device nat64', 'ipv4-addr 192.0.2.1', 'prefix 2001:db8:64::/96'];
const URL1 = 'https://doh.example/t/acme/gateways/ams-1';
const URL2 = 'http://[2001:db8::53]:8787/t/acme/gateways/ams-2';
const KEY1 = 'gw-key_0123456789abcdef';
const KEY2 = 'ENV-key-0123456789';

type Env = Record<string, string | undefined>;

const conf = (...extra: string[]) => [...BASE, ...extra].join('\n') + '\n';
const parse = (text: string, env: Env = {}) => parseTaygaConf(text, FILE, { env });

function errorsOf(text: string, env: Env = {}): string[] {
  try {
    parse(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message.split('\n');
  }
  throw new Error('expected a ConfigError');
}

describe('report-url and report-key', () => {
  it('not configured: no reporting', () => {
    expect(parse(conf()).report).toBeNull();
  });

  it('both from the file', () => {
    expect(parse(conf(`report-url ${URL1}`, `report-key ${KEY1}`)).report).toEqual({
      url: URL1,
      key: KEY1,
      urlFrom: 'file',
      keyFrom: 'file',
    });
  });

  it('keys are case-insensitive like the others; values keep their case', () => {
    expect(parse(conf(`Report-URL ${URL1}`, `REPORT-KEY ${KEY1}`)).report?.key).toBe(KEY1);
  });

  it('the key from the environment, the URL from the file', () => {
    expect(parse(conf(`report-url ${URL1}`), { NAT64D_REPORT_KEY: KEY2 }).report).toEqual({
      url: URL1,
      key: KEY2,
      urlFrom: 'file',
      keyFrom: 'environment',
    });
  });

  it('the environment wins over the file', () => {
    const env = { NAT64D_REPORT_URL: URL2, NAT64D_REPORT_KEY: KEY2 };
    expect(parse(conf(`report-url ${URL1}`, `report-key ${KEY1}`), env).report).toEqual({
      url: URL2,
      key: KEY2,
      urlFrom: 'environment',
      keyFrom: 'environment',
    });
  });

  it('both from the environment alone; an empty variable counts as unset', () => {
    expect(parse(conf(), { NAT64D_REPORT_URL: URL2, NAT64D_REPORT_KEY: KEY2 }).report?.url).toBe(
      URL2,
    );
    expect(parse(conf(), { NAT64D_REPORT_URL: '', NAT64D_REPORT_KEY: '' }).report).toBeNull();
  });

  it('bad values in the file: file:line: reason, the key never echoed', () => {
    expect(
      errorsOf(
        conf(
          'report-url ftp://doh.example/t/acme/gateways/ams-1',
          'report-key short',
          '# a comment',
        ),
      ),
    ).toEqual([
      `${FILE}:4: report-url ftp://doh.example/t/acme/gateways/ams-1: must be an http:// or https:// URL`,
      `${FILE}:5: report-key: must be 16 to 128 characters of A-Z a-z 0-9 _ - (found 5)`,
    ]);
    expect(
      errorsOf(conf('report-url doh.example/t/acme', `report-key ${'k'.repeat(129)}`)),
    ).toEqual([
      `${FILE}:4: report-url doh.example/t/acme: not a URL (expected e.g. https://doh.example/t/acme/gateways/ams-1)`,
      `${FILE}:5: report-key: must be 16 to 128 characters of A-Z a-z 0-9 _ - (found 129)`,
    ]);
    expect(
      errorsOf(
        conf(
          'report-url https://gw:secret@doh.example/t/acme/gateways/ams-1',
          'report-key abc+defghijklmnopq',
        ),
      ),
    ).toEqual([
      `${FILE}:4: report-url https://gw:secret@doh.example/t/acme/gateways/ams-1: must not carry a user name or password (the key goes in report-key)`,
      `${FILE}:5: report-key: must be 16 to 128 characters of A-Z a-z 0-9 _ - (found "+")`,
    ]);
  });

  it('16 and 128 characters are the limits', () => {
    for (const key of ['a'.repeat(16), `${'A-z_9'.repeat(25)}xyz`]) {
      expect(parse(conf(`report-url ${URL1}`, `report-key ${key}`)).report?.key).toBe(key);
    }
    expect(errorsOf(conf(`report-url ${URL1}`, `report-key ${'a'.repeat(15)}`))).toEqual([
      `${FILE}:5: report-key: must be 16 to 128 characters of A-Z a-z 0-9 _ - (found 15)`,
    ]);
  });

  it('duplicates and missing values like every other key', () => {
    expect(
      errorsOf(conf(`report-url ${URL1}`, `report-url ${URL2}`, `report-key ${KEY1}`)),
    ).toEqual([`${FILE}:5: report-url: duplicate (first given on line 4)`]);
    expect(errorsOf(conf('report-key', `report-url ${URL1}`))).toEqual([
      `${FILE}:4: report-key: expects 1 value, found 0`,
    ]);
  });

  it('both or neither: the line of the one given', () => {
    expect(errorsOf(conf('offlink-mtu 1400', `report-url ${URL1}`))).toEqual([
      `${FILE}:5: report-url: needs report-key (or NAT64D_REPORT_KEY)`,
    ]);
    expect(errorsOf(conf(`report-key ${KEY1}`))).toEqual([
      `${FILE}:4: report-key: needs report-url (or NAT64D_REPORT_URL)`,
    ]);
    expect(errorsOf(conf(), { NAT64D_REPORT_URL: URL2 })).toEqual([
      'environment: NAT64D_REPORT_URL: needs NAT64D_REPORT_KEY or report-key',
    ]);
    expect(errorsOf(conf(), { NAT64D_REPORT_KEY: KEY2 })).toEqual([
      'environment: NAT64D_REPORT_KEY: needs NAT64D_REPORT_URL or report-url',
    ]);
  });

  it('bad values in the environment', () => {
    expect(
      errorsOf(conf(`report-url ${URL1}`, `report-key ${KEY1}`), {
        NAT64D_REPORT_URL: 'gopher://doh.example/',
        NAT64D_REPORT_KEY: 'bad key with blanks',
      }),
    ).toEqual([
      'environment: NAT64D_REPORT_URL gopher://doh.example/: must be an http:// or https:// URL',
      'environment: NAT64D_REPORT_KEY: must be 16 to 128 characters of A-Z a-z 0-9 _ - (found " ")',
    ]);
  });
});

describe('nat64d --check with reporting', () => {
  const saved = { url: process.env.NAT64D_REPORT_URL, key: process.env.NAT64D_REPORT_KEY };
  const dir = mkdtempSync(join(tmpdir(), 'nat64d-report-conf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    for (const [name, value] of [
      ['NAT64D_REPORT_URL', saved.url],
      ['NAT64D_REPORT_KEY', saved.key],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  async function check(text: string): Promise<{ code: number | null; out: string }> {
    const file = join(dir, 'tayga.conf');
    writeFileSync(file, text);
    const out: string[] = [];
    const code = await main(['-c', file, '--check'], {
      out: (t) => out.push(t),
      err: (t) => out.push(t),
    });
    return { code, out: out.join('').replaceAll(file, 'FILE') };
  }

  it('names the URL; the key may come from the environment; a missing one exits 1', async () => {
    delete process.env.NAT64D_REPORT_URL;
    delete process.env.NAT64D_REPORT_KEY;
    expect(await check(conf(`report-url ${URL1}`))).toEqual({
      code: 1,
      out: 'FILE:4: report-url: needs report-key (or NAT64D_REPORT_KEY)\n',
    });
    process.env.NAT64D_REPORT_KEY = KEY2;
    expect(await check(conf(`report-url ${URL1}`))).toEqual({
      code: 0,
      out: `FILE: OK (tun-device nat64, 0 map line(s), reports to ${URL1})\n`,
    });
  });
});
