/**
 * `report-url` and `report-key`: where nat64d reports that it is alive (the resolver's
 * `PUT /t/{id}/gateways/{gateway}`) and the tenant's gatewayKey it authenticates with. Either
 * may come from the environment instead (NAT64D_REPORT_URL, NAT64D_REPORT_KEY), which wins
 * over the file: a key in the environment (a systemd EnvironmentFile readable by root only)
 * stays out of a configuration file that is often world-readable. Both or neither.
 */
import type { ConfigIssue } from './errors.js';

export const REPORT_URL_ENV = 'NAT64D_REPORT_URL';
export const REPORT_KEY_ENV = 'NAT64D_REPORT_KEY';

/** The effective reporting settings and where each value came from. */
export interface ReportSettings {
  readonly url: string;
  readonly key: string;
  readonly urlFrom: 'file' | 'environment';
  readonly keyFrom: 'file' | 'environment';
}

/** What the file said: values already checked on their own, with their lines. */
export interface ReportLines {
  readonly url?: string | undefined;
  readonly urlLine?: number | undefined;
  readonly key?: string | undefined;
  readonly keyLine?: number | undefined;
}

/** Why `text` is not a usable report URL, or null. */
export function reportUrlProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not a URL (expected e.g. https://doh.example/t/acme/gateways/ams-1)';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return 'must be an http:// or https:// URL';
  }
  if (url.username !== '' || url.password !== '') {
    return 'must not carry a user name or password (the key goes in report-key)';
  }
  return null;
}

const KEY_RULE = 'must be 16 to 128 characters of A-Z a-z 0-9 _ -';

/** Why `key` is not a valid gateway key, or null. The key itself is never echoed. */
export function reportKeyProblem(key: string): string | null {
  if (key.length < 16 || key.length > 128) return `${KEY_RULE} (found ${key.length})`;
  const bad = /[^A-Za-z0-9_-]/.exec(key);
  if (bad) return `${KEY_RULE} (found ${JSON.stringify(bad[0])})`;
  return null;
}

/**
 * The environment over the file; an empty variable counts as unset. Problems are pushed to
 * `issues` (the file's on their lines, the environment's as `environment: VARIABLE: ...`).
 */
export function resolveReport(
  file: string,
  lines: ReportLines,
  env: Readonly<Record<string, string | undefined>>,
  issues: ConfigIssue[],
): ReportSettings | null {
  const at = (line: number, reason: string) => issues.push({ file, line, reason });
  const envIssue = (reason: string) => issues.push({ file: 'environment', line: 0, reason });
  // Both or neither is checked once every line parsed: a report-key line with a bad value is
  // reported for its value, not as missing.
  const linesOk = issues.length === 0;
  const envUrl = env[REPORT_URL_ENV] || undefined;
  const envKey = env[REPORT_KEY_ENV] || undefined;
  let bad = false;
  if (envUrl !== undefined) {
    const problem = reportUrlProblem(envUrl);
    if (problem) {
      envIssue(`${REPORT_URL_ENV} ${envUrl}: ${problem}`);
      bad = true;
    }
  }
  if (envKey !== undefined) {
    const problem = reportKeyProblem(envKey);
    if (problem) {
      envIssue(`${REPORT_KEY_ENV}: ${problem}`);
      bad = true;
    }
  }
  if (bad || !linesOk) return null;
  const url = envUrl ?? lines.url;
  const key = envKey ?? lines.key;
  if (url !== undefined && key === undefined) {
    if (envUrl !== undefined) envIssue(`${REPORT_URL_ENV}: needs ${REPORT_KEY_ENV} or report-key`);
    else at(lines.urlLine ?? 0, `report-url: needs report-key (or ${REPORT_KEY_ENV})`);
    return null;
  }
  if (key !== undefined && url === undefined) {
    if (envKey !== undefined) envIssue(`${REPORT_KEY_ENV}: needs ${REPORT_URL_ENV} or report-url`);
    else at(lines.keyLine ?? 0, `report-key: needs report-url (or ${REPORT_URL_ENV})`);
    return null;
  }
  if (url === undefined || key === undefined) return null;
  return {
    url,
    key,
    urlFrom: envUrl !== undefined ? 'environment' : 'file',
    keyFrom: envKey !== undefined ? 'environment' : 'file',
  };
}
