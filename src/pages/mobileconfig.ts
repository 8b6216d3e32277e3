import { build, type PlistValue } from 'plist';
import type { SetupInfo } from './types';

/** The media type Apple devices install configuration profiles from. */
export const MOBILECONFIG_TYPE = 'application/x-apple-aspen-config';

/** RFC 9562 (formerly RFC 4122) name space for URLs: 6ba7b811-9dad-11d1-80b4-00c04fd430c8. */
export const UUID_NAMESPACE_URL = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

/**
 * A name-based UUID, version 5 (RFC 9562 §5.5): SHA-1 over the name space's 16 bytes and the
 * name in UTF-8, truncated to 16 bytes, with the version and variant bits set. Uppercase, as
 * Apple's own tools write PayloadUUIDs.
 */
export async function uuidV5(namespace: string, name: string): Promise<string> {
  const ns = namespace.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(ns)) throw new Error(`not a UUID: ${namespace}`);
  const nameBytes = new TextEncoder().encode(name);
  const input = new Uint8Array(16 + nameBytes.length);
  for (let i = 0; i < 16; i++) input[i] = parseInt(ns.slice(2 * i, 2 * i + 2), 16);
  input.set(nameBytes, 16);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-1', input));
  const b = digest.slice(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20, 32),
  ]
    .join('-')
    .toUpperCase();
}

/** Identifiers of one tenant's profile: stable across calls, different for each host and tenant. */
export interface ProfileIds {
  /** The outer `Configuration` payload's identifier (reverse-DNS style). */
  readonly identifier: string;
  readonly uuid: string;
  /** The `com.apple.dnsSettings.managed` payload's identifier. */
  readonly dnsIdentifier: string;
  readonly dnsUuid: string;
}

/**
 * Derives the identifiers from the host and the tenant id only, so that downloading the profile
 * again gives the same identifiers and installing it replaces the earlier copy instead of adding
 * a second one. The UUID name is the URL of the profile itself (`https://host/apple.mobileconfig`
 * or `https://host/t/{id}/apple.mobileconfig`) plus a fragment per payload.
 */
export async function profileIds(info: Pick<SetupInfo, 'host' | 'tenantId'>): Promise<ProfileIds> {
  const host = info.host.toLowerCase();
  const tenantPath = info.tenantId === null ? '' : `t/${encodeURIComponent(info.tenantId)}/`;
  const base = `https://${host}/${tenantPath}apple.mobileconfig`;
  const reversed = host
    .split('.')
    .filter((label) => label !== '')
    .reverse()
    .map(identifierPart)
    .join('.');
  const tenantPart = info.tenantId === null ? 'default' : `tenant.${identifierPart(info.tenantId)}`;
  const identifier = `${reversed || 'localhost'}.dns64-edge.${tenantPart}`;
  const [uuid, dnsUuid] = await Promise.all([
    uuidV5(UUID_NAMESPACE_URL, `${base}#configuration`),
    uuidV5(UUID_NAMESPACE_URL, `${base}#dns-settings`),
  ]);
  return { identifier, uuid, dnsIdentifier: `${identifier}.dns`, dnsUuid };
}

/** How many `?ssid=` a profile takes (each one a Wi-Fi network it applies on). */
export const MAX_SSIDS = 8;

export interface ProfileOptions {
  /**
   * Wi-Fi network names (SSIDs) the DNS settings apply on; elsewhere they do not. Empty or
   * absent: everywhere. Check them with `parseSsids` first.
   */
  readonly ssids?: readonly string[];
}

/**
 * The `?ssid=` values of a profile URL, checked: at most MAX_SSIDS, each 1 to 32 octets of
 * UTF-8 (the IEEE 802.11 SSID limit) without control characters (an XML property list cannot
 * carry most of them, and no one types them). Returns the SSIDs (duplicates dropped), or a
 * one-line reason.
 */
export function parseSsids(values: readonly string[]): string[] | { readonly error: string } {
  if (values.length > MAX_SSIDS) return { error: `ssid: at most ${MAX_SSIDS} networks` };
  const encoder = new TextEncoder();
  for (const ssid of values) {
    const octets = encoder.encode(ssid).length;
    if (octets === 0) return { error: 'ssid: empty; give the Wi-Fi network name' };
    if (octets > 32) {
      return { error: `ssid: a Wi-Fi network name is 1 to 32 octets, this one is ${octets}` };
    }
    if (CONTROL.test(ssid) || LONE_SURROGATE.test(ssid)) {
      return { error: 'ssid: control characters are not allowed in a network name' };
    }
  }
  return [...new Set(values)];
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\ufffe\uffff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * An Apple configuration profile (XML property list) that sets the device's system DNS to the
 * tenant's DoH URL: a `Configuration` profile holding one `com.apple.dnsSettings.managed` payload
 * with `DNSSettings` = { `DNSProtocol`: `HTTPS`, `ServerURL`: the DoH URL }. iOS/iPadOS 14 and
 * macOS 11 or later. The profile is unsigned; devices show it as "Unverified".
 *
 * With `ssids`, the payload also gets `OnDemandRules` (beside `DNSSettings`; evaluated in order,
 * the first match wins): `Connect` (the settings apply) on Wi-Fi whose SSID is one of them,
 * then `Disconnect` (they do not apply) everywhere else. Apple documents these for the
 * DNSSettings payload and NEDNSSettingsManager.onDemandRules: "An On Demand rule with the action
 * connect defines a network on which the DNS settings apply".
 */
export async function appleProfile(info: SetupInfo, options: ProfileOptions = {}): Promise<string> {
  const ids = await profileIds(info);
  const name = plainText(info.displayName);
  const url = plainText(info.dohUrl);
  const prefixes = info.prefixes.map(plainText);
  const ssids = options.ssids ?? [];
  const prefixNote =
    prefixes.length === 0
      ? ''
      : ` Names that have only IPv4 addresses get IPv6 addresses inside the NAT64 ` +
        `prefix ${prefixes.join(', ')}: use it on a network whose NAT64 gateway uses that prefix.`;
  const ssidNote =
    ssids.length === 0
      ? ''
      : ` It applies only on the Wi-Fi network${ssids.length > 1 ? 's' : ''} ` +
        `${ssids.map((s) => `"${s}"`).join(', ')}.`;
  const dnsPayload: { [key: string]: PlistValue } = {
    PayloadType: 'com.apple.dnsSettings.managed',
    PayloadVersion: 1,
    PayloadIdentifier: ids.dnsIdentifier,
    PayloadUUID: ids.dnsUuid,
    PayloadDisplayName: `${name} (DNS over HTTPS)`,
    PayloadDescription: `Encrypted DNS (DNS over HTTPS) with ${url}`,
    DNSSettings: {
      DNSProtocol: 'HTTPS',
      ServerURL: url,
    },
  };
  if (ssids.length > 0) {
    dnsPayload.OnDemandRules = [
      { Action: 'Connect', InterfaceTypeMatch: 'WiFi', SSIDMatch: [...ssids] },
      { Action: 'Disconnect' },
    ];
  }
  return build({
    PayloadContent: [dnsPayload],
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: ids.identifier,
    PayloadUUID: ids.uuid,
    PayloadDisplayName: `${name}: DNS64 over HTTPS`,
    PayloadDescription: `Sends this device's DNS queries to ${name} over HTTPS (${url}).${prefixNote}${ssidNote}`,
    PayloadOrganization: name,
    PayloadRemovalDisallowed: false,
  });
}

/** A file name for the download: host and tenant, in safe characters. */
export function profileFilename(info: Pick<SetupInfo, 'host' | 'tenantId'>): string {
  const stem = info.tenantId === null ? info.host : `${info.host}-${info.tenantId}`;
  const safe = stem
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '');
  return `${safe || 'dns64'}.mobileconfig`;
}

/** An identifier component: letters, digits and `-` stay; anything else becomes `_hh` (UTF-8). */
function identifierPart(s: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(s)) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9-]/.test(ch) ? ch : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/**
 * XML 1.0 cannot carry C0 controls other than tab, newline and carriage return, U+FFFE, U+FFFF
 * or unpaired surrogates: drop the first ones, replace unpaired surrogates with U+FFFD.
 */
function plainText(s: string): string {
  return (
    s
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
      .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
  );
}
