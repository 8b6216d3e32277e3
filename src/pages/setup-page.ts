import { escapeHtml as h } from './escape';
import { qrSvg } from './qr';
import type { ServedTransports, SetupInfo } from './types';

export interface SetupPageOptions {
  /**
   * Where the Apple profile link points, relative to the page. Default `apple.mobileconfig`,
   * right for a page served at a path ending in `/`; the routes pass the right one otherwise.
   */
  readonly profileHref?: string;
}

/** The section headings, in page order (tests and the Chromium check look for these). */
export const SETUP_HEADINGS = {
  url: 'Your DNS over HTTPS URL',
  prefixes: 'NAT64 prefixes',
  qr: 'QR code',
  firefox: 'Firefox',
  chrome: 'Chrome and Edge',
  windows: 'Windows 11',
  apple: 'Apple devices (iPhone, iPad, Mac)',
  android: 'Android',
} as const;

/** Whether a DoH URL is https:// (the only kind browsers and operating systems take). */
export function isHttps(url: string): boolean {
  return /^https:\/\//i.test(url);
}

/**
 * The client setup page for one tenant: a complete HTML document with inline CSS, no scripts
 * and no external assets. Every value from `info` is HTML-escaped.
 *
 * It tells the truth about the URL: for an http:// DoH URL it says up front that browsers and
 * operating systems need HTTPS, lists what does work here (classic DNS, DoT), marks each DoH
 * section as needing https:// and offers no Apple profile. Android's Private DNS gets the host
 * name when the server serves DoT. Windows steps fit a URL naming its server by address or by
 * name.
 */
/** The gateways behind the prefixes and their health: a prefix is in use while its gateway is up. */
function gatewayList(info: SetupInfo): string {
  if (!info.gateways?.length) return '';
  const rows = info.gateways
    .map(
      (g) =>
        `<li><code>${h(g.name)}</code> (${g.prefixes.map((p) => `<code>${h(p)}</code>`).join(', ')}): ` +
        `<span class="gw-${h(g.state)}">${h(g.state)}</span>` +
        `${g.lastReport ? `, last report ${h(g.lastReport)}` : ', no report yet'}</li>`,
    )
    .join('');
  return `<p>NAT64 gateways (a prefix is used while its gateway reports; all are used when none does):</p>
<ul class="gateways">${rows}</ul>`;
}

export function renderSetupPage(info: SetupInfo, options: SetupPageOptions = {}): string {
  const name = h(info.displayName);
  const url = h(info.dohUrl);
  const https = isHttps(info.dohUrl);
  const host = hostOf(info.dohUrl, info.host);
  const profileHref = h(options.profileHref ?? 'apple.mobileconfig');
  const H = SETUP_HEADINGS;

  const prefixList =
    info.prefixes.length === 0
      ? '<p>No NAT64 prefix is configured: answers are passed on without synthesis.</p>'
      : `<ul class="prefixes">${info.prefixes
          .map((p) => `<li><code>${h(p)}</code></li>`)
          .join('')}</ul>`;

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>Set up ${name}: DNS64 over HTTPS</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>Set up ${name}</h1>
<p class="lede">${name} is a DNS64 resolver reached over ${https ? 'HTTPS' : 'HTTP'} (DoH, RFC 8484). Set its URL once
in your browser or operating system; the steps for each are below.</p>
</header>
${https ? '' : httpsNotice(host, info.transports)}

<nav aria-label="Platforms"><a href="#firefox">Firefox</a> · <a href="#chrome">Chrome and Edge</a> ·
<a href="#windows">Windows 11</a> · <a href="#apple">Apple</a> · <a href="#android">Android</a></nav>

<section id="url">
<h2>${H.url}</h2>
<pre class="copy" id="doh-url"><code>${url}</code></pre>
<p class="hint">Select the box (one click selects all of it) and copy. Keep this URL to
yourself if it contains a key.</p>
</section>

<section id="prefixes">
<h2>${H.prefixes}</h2>
<p>Names that have only IPv4 addresses are answered with IPv6 addresses made inside these
prefixes (RFC 6052, RFC 6147):</p>
${prefixList}
<p class="note">Use this resolver on a network whose NAT64 gateway translates these prefixes.
Elsewhere, sites that have only IPv4 addresses will not load.</p>
${gatewayList(info)}
</section>

<section id="qr">
<h2>${H.qr}</h2>
<p>The DoH URL, for scanning with a phone:</p>
<figure class="qr">${qrSvg(info.dohUrl, { label: `QR code of ${info.dohUrl}` })}</figure>
</section>

<section id="firefox">
<h2>${H.firefox}</h2>
${https ? '' : NEEDS_HTTPS}
<h3>Desktop</h3>
<ol>
<li>Open <b>Settings</b> (or type <code>about:preferences#privacy</code> in the address bar) and
go to <b>Privacy &amp; Security</b>.</li>
<li>Scroll to <b>DNS over HTTPS</b> and choose <b>Increased Protection</b> or <b>Max
Protection</b> (Max never falls back to your network's plain DNS).</li>
<li>Under <b>Choose provider</b>, pick <b>Custom</b> and paste <code>${url}</code>.</li>
</ol>
<h3>Android (Firefox 143 or later)</h3>
<ol>
<li>Menu → <b>Settings</b> → <b>Privacy and security</b> → <b>DNS over HTTPS</b>.</li>
<li>Choose <b>Increased Protection</b> or <b>Max Protection</b>, choose <b>Custom</b> as the
provider and paste <code>${url}</code>.</li>
</ol>
</section>

<section id="chrome">
<h2>${H.chrome}</h2>
${https ? '' : NEEDS_HTTPS}
<h3>Chrome (Windows, macOS, Linux, ChromeOS)</h3>
<ol>
<li>Open <code>chrome://settings/security</code> (Settings → <b>Privacy and security</b> →
<b>Security</b>).</li>
<li>Under <b>Advanced</b>, turn on <b>Use secure DNS</b>.</li>
<li>In <b>Select DNS provider</b>, choose <b>Add custom DNS service provider</b> (in older
versions: <b>With</b> → <b>Custom</b>) and paste <code>${url}</code>.</li>
</ol>
<h3>Microsoft Edge</h3>
<ol>
<li>Open <code>edge://settings/privacy</code> (Settings → <b>Privacy, search, and
services</b>) and find <b>Security</b>.</li>
<li>Turn on <b>Use secure DNS to specify how to look up the network address for websites</b>,
choose <b>Choose a service provider</b> and paste <code>${url}</code>.</li>
</ol>
<h3>Chrome on Android</h3>
<ol>
<li>Menu → <b>Settings</b> → <b>Privacy and security</b> → <b>Use secure DNS</b>.</li>
<li>Choose <b>Choose another provider</b>, select <b>Custom</b> and paste <code>${url}</code>.</li>
</ol>
<p class="note">A browser's secure-DNS setting covers that browser only. Managed (company)
devices may have it locked by policy.</p>
</section>

<section id="windows">
<h2>${H.windows}</h2>
${https ? '' : NEEDS_HTTPS}
${windowsSteps(host, url)}
</section>

<section id="apple">
<h2>${H.apple}</h2>
${https ? profileOffer(profileHref, url) : NO_PROFILE}
</section>

<section id="android">
<h2>${H.android}</h2>
${androidSteps(host, url, https, info.transports)}
</section>
</main>
</body>
</html>
`;
}

/** The line each DoH section gets when the URL is http://. */
const NEEDS_HTTPS =
  '<p class="warn needs-https"><b>Not with this URL:</b> this takes only an https:// DoH URL, ' +
  'and this one is http:// (see the note at the top).</p>';

const NO_PROFILE =
  '<p class="warn needs-https" id="no-profile"><b>No profile for this URL:</b> Apple devices take ' +
  'DNS over HTTPS only from an https:// URL, so the configuration profile is offered only when ' +
  'this page is opened over HTTPS.</p>';

/** The Apple profile link, and a form that limits it to one Wi-Fi network (`?ssid=`). */
function profileOffer(href: string, url: string): string {
  return `<p><a class="button" href="${href}">Download the configuration profile</a></p>
<p>The profile sets <code>${url}</code> as the system's encrypted DNS (iOS and iPadOS 14, macOS
11 or later). It is not signed, so the device shows it as <b>Unverified</b>.</p>
<form class="ssid" method="get" action="${href}">
<label for="ssid">Only on the Wi-Fi network named</label>
<input id="ssid" name="ssid" maxlength="32" required placeholder="IPv6-only network">
<button type="submit">Download</button>
</form>
<p class="note">With a network name the profile applies only on that Wi-Fi network (the
IPv6-only one whose NAT64 gateway uses the prefixes above); elsewhere the device keeps its
usual DNS. The profile link takes it as <code>?ssid=</code> too.</p>
<h3>iPhone and iPad</h3>
<ol>
<li>Open this page in <b>Safari</b> on the device, tap the download link and then
<b>Allow</b>.</li>
<li>Open the <b>Settings</b> app and tap <b>Profile Downloaded</b> near the top (or
<b>General</b> → <b>VPN &amp; Device Management</b>).</li>
<li>Tap <b>Install</b>, enter the device passcode and tap <b>Install</b> again.</li>
<li>Check under <b>General</b> → <b>VPN &amp; Device Management</b> → <b>DNS</b>; removing the
profile there undoes the setting.</li>
</ol>
<h3>Mac</h3>
<ol>
<li>Download the profile and open the file.</li>
<li>Open <b>System Settings</b> → <b>General</b> → <b>Device Management</b> (macOS 13 and 14:
<b>Privacy &amp; Security</b> → <b>Profiles</b>), double-click the profile and select
<b>Install</b>.</li>
</ol>`;
}

/** The warning at the top of the page for an http:// DoH URL, with what does work here. */
function httpsNotice(host: string, transports: ServedTransports | undefined): string {
  const server = ipLiteral(host);
  const where = server
    ? `<code>${h(server.address)}</code>`
    : `the addresses of <code>${h(host)}</code>`;
  const works: string[] = [];
  let fix: string;
  if (transports) {
    const port = transports.dnsPort;
    works.push(
      `<li id="works-dns"><b>Classic DNS</b> (UDP and TCP, not encrypted) at ${where}, port ` +
        `<code>${port}</code>: as a network's DNS server (DHCP, router advertisements) or a ` +
        `device's manual DNS server.` +
        (port === 53
          ? ''
          : ` Devices and DHCP use port 53 only, and this server answers on ${port} ` +
            `(<code>DNS_PORT</code>): tools such as <code>dig -p ${port}</code> reach it, ` +
            `devices need <code>DNS_PORT=53</code>.`) +
        `</li>`,
    );
    if (transports.dotPort !== null) {
      works.push(
        `<li id="works-dot"><b>DNS over TLS</b> at <code>${h(host)}</code>, port ` +
          `<code>${transports.dotPort}</code>: Android's Private DNS (below), ` +
          `<code>kdig +tls</code>.</li>`,
      );
    }
    fix =
      'For DNS over HTTPS, give this server a certificate for its name (<code>TLS_CERT</code> ' +
      'and <code>TLS_KEY</code>: its DoH port then speaks HTTPS) and open this page at its ' +
      'https:// address.';
  } else {
    works.push(
      '<li>Nothing else: a Cloudflare Worker speaks only HTTP, so it serves neither classic ' +
        'DNS nor DNS over TLS.</li>',
    );
    fix =
      'A deployed worker is reached over HTTPS (workers.dev or a custom domain): open this ' +
      'page at that https:// address. Locally, <code>npm start -- --local-protocol https</code>.';
  }
  return `<aside class="warn" id="https-needed">
<p><b>This DNS over HTTPS URL is http://, and browsers and operating systems take DNS over HTTPS
only from an https:// URL.</b> Firefox, Chrome, Edge, Windows 11, Apple devices and Android apps
refuse a plain-HTTP DoH URL, so the DoH steps below do not work with this one.</p>
<p>What works here:</p>
<ul>${works.join('')}</ul>
<p>${fix}</p>
</aside>`;
}

/**
 * Windows 11 sends DoH to a DNS server's IP address, with a template registered for that
 * address (Settings, or `netsh dns add encryption server=<IP> dohtemplate=<URL>`, as Microsoft
 * documents it). A URL naming its server by address gives that address; a host name needs its
 * addresses looked up first. Windows also refuses a template whose host is an IP address other
 * than the server's (DNS_DOH_SERVER_SETTINGS).
 */
function windowsSteps(host: string, url: string): string {
  const ip = ipLiteral(host);
  const settings = `<li>Open <b>Settings</b> → <b>Network &amp; internet</b> → <b>Wi-Fi</b> (then your network's
properties) or <b>Ethernet</b>.</li>
<li>Next to <b>DNS server assignment</b>, select <b>Edit</b> and choose <b>Manual</b>.</li>`;
  const template = `<b>DNS over HTTPS</b> to <b>On (manual template)</b>, paste
<code>${url}</code> as the <b>DNS over HTTPS template</b>, and turn <b>Fallback to
plaintext</b> off.`;
  const save = `<li>Select <b>Save</b>. The network's properties now show the DNS server as
<b>(Encrypted)</b>.</li>`;
  const version = 'Needs Windows 11 (the manual template arrived in version 22H2).';
  if (ip) {
    const address = h(ip.address);
    const family = ip.family === 6 ? 'IPv6' : 'IPv4';
    return `<p>Windows 11 sends DNS over HTTPS to the <em>IP address</em> of a DNS server, using a DoH
template registered for that address. This URL names its server by address, so that address,
<code>${address}</code>, is the DNS server to enter.</p>
<ol>
${settings}
<li>Turn on <b>${family}</b> and enter <code>${address}</code> as <b>Preferred DNS</b>.</li>
<li>Set ${template}</li>
${save}
</ol>
<p class="note">${version} Or, in an administrator Terminal:
<code class="netsh">netsh dns add encryption server=${address} dohtemplate=${url} autoupgrade=yes udpfallback=no</code>
registers the template for the address; then make <code>${address}</code> the adapter's DNS
server (steps 1 to 3).</p>`;
  }
  const name = h(host);
  return `<p>Windows 11 sends DNS over HTTPS to the <em>IP address</em> of a DNS server, using a DoH
template registered for that address. This URL names its server by host name,
<code>${name}</code>, so first find its addresses, then enter them with the URL as their
template.</p>
<ol>
<li>Find the addresses: in Terminal, run <code>Resolve-DnsName ${name}</code> (or
<code>nslookup ${name}</code>). Note the IPv6 (AAAA) and IPv4 (A) addresses.</li>
${settings}
<li>Turn on <b>IPv6</b> (and <b>IPv4</b> if the network has it). As <b>Preferred DNS</b>, enter
one address of <code>${name}</code> of that family; as <b>Alternate DNS</b>, a second one if
there is one.</li>
<li>For each address set ${template}</li>
${save}
</ol>
<p class="note">${version} If the addresses of <code>${name}</code> change, enter the new ones.
Or, in an administrator Terminal, once for each address:
<code class="netsh">netsh dns add encryption server=&lt;address&gt; dohtemplate=${url} autoupgrade=yes udpfallback=no</code>
then make those addresses the adapter's DNS servers (steps 2 to 4).</p>`;
}

/**
 * Android's Private DNS takes a host name and speaks DNS over TLS to it on port 853 (it has no
 * place for a DoH URL). With DoT served, the page gives the host name and what it needs;
 * otherwise it says why not (Workers speak HTTP only; the self-hosted server needs a
 * certificate) and points to DoH apps and browsers.
 */
function androidSteps(
  host: string,
  url: string,
  https: boolean,
  transports: ServedTransports | undefined,
): string {
  const apps = `<ul>
<li><b>For the whole device</b>, use an app that speaks DoH and accepts a custom server URL,
such as <b>Intra</b> or <b>Nebulo</b> (or <b>Rethink</b>): enter <code>${url}</code> as its
custom DNS over HTTPS server. These apps work as a local VPN.${https ? '' : ' (They too need an https:// URL.)'}</li>
<li><b>For a browser only</b>, <b>Firefox</b> and <b>Chrome</b> on Android take the URL in
their own secure-DNS settings (see their sections above).</li>
</ul>`;
  const dotPort = transports?.dotPort ?? null;
  if (dotPort === null) {
    const why = transports
      ? 'This server does not serve DoT: it needs a certificate for its name ' +
        '(<code>TLS_CERT</code> and <code>TLS_KEY</code>), then it serves DoT on ' +
        '<code>DOT_PORT</code> (853).'
      : 'This resolver runs on Cloudflare Workers, which speak HTTP only, so it cannot serve ' +
        'DoT: on Android, use DNS over HTTPS as below.';
    return `<p class="warn" id="no-dot"><b>Android's system setting cannot use this URL.</b> <b>Private DNS</b>
(Settings → Network &amp; internet → Private DNS) takes a host name and speaks DNS over TLS
(DoT, port 853) to it, not DNS over HTTPS, so there is no place for a DoH URL. ${why}</p>
${apps}`;
  }
  const ip = ipLiteral(host);
  const notes: string[] = [];
  if (ip) {
    notes.push(
      `<p class="warn">Private DNS takes a host name, not an IP address such as ` +
        `<code>${h(ip.address)}</code>: use a name that leads to this server and that its ` +
        `certificate is for.</p>`,
    );
  }
  if (dotPort !== 853) {
    notes.push(
      `<p class="warn" id="dot-port">This server serves DoT on port <code>${dotPort}</code> ` +
        `(<code>DOT_PORT</code>), and Private DNS uses port 853 only: it reaches this server ` +
        `once port 853 leads there.</p>`,
    );
  }
  return `<p><b>Private DNS</b> (Android 9 or later) speaks DNS over TLS (DoT), and this server serves
it. The Private DNS host name:</p>
<pre class="copy" id="dot-host"><code>${h(host)}</code></pre>
<ol>
<li>Open <b>Settings</b> → <b>Network &amp; internet</b> → <b>Private DNS</b> (on some phones
<b>Connections</b> → <b>More connection settings</b> → <b>Private DNS</b>).</li>
<li>Choose <b>Private DNS provider hostname</b>, enter the name above and select
<b>Save</b>.</li>
</ol>
<p>It needs a certificate for <code>${h(host)}</code> from a certificate authority Android
trusts (a self-signed one fails and Android reports the server unreachable), and this server
reachable as <code>${h(host)}</code> on port 853, the only port Private DNS uses.</p>
${notes.join('\n')}<p>Instead of Private DNS:</p>
${apps}`;
}

/** The IPv4 or IPv6 address a URL host names, if it is an address (brackets removed). */
export function ipLiteral(host: string): { family: 4 | 6; address: string } | null {
  if (host.startsWith('[') && host.endsWith(']')) return { family: 6, address: host.slice(1, -1) };
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return { family: 4, address: host };
  return null;
}

function hostOf(url: string, fallback: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return fallback;
  }
}

const CSS = `
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#57606a;--box:#f3f5f7;--line:#d0d7de;--accent:#0b62c4;--warn:#fff4e5;--warnline:#e0a040}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9da7b3;--box:#161b22;--line:#30363d;--accent:#58a6ff;--warn:#2d2110;--warnline:#9e6a03}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:46rem;margin:0 auto;padding:1.5rem 1rem 4rem}
h1{font-size:1.8rem;margin:.5rem 0}
h2{font-size:1.3rem;margin:2.2rem 0 .6rem;padding-bottom:.25rem;border-bottom:1px solid var(--line)}
h3{font-size:1.05rem;margin:1.2rem 0 .4rem}
.lede{color:var(--muted)}
nav{margin:1rem 0;color:var(--muted)}
a{color:var(--accent)}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em;background:var(--box);padding:.05em .3em;border-radius:4px;overflow-wrap:anywhere}
pre.copy{margin:.5rem 0;padding:.9rem 1rem;background:var(--box);border:1px solid var(--line);border-radius:8px;white-space:pre-wrap;overflow-wrap:anywhere;user-select:all;-webkit-user-select:all;cursor:text}
pre.copy code{background:none;padding:0;font-size:1.05rem}
.hint,.note{color:var(--muted);font-size:.92rem}
.warn{background:var(--warn);border-left:4px solid var(--warnline);padding:.7rem .9rem;border-radius:4px}
ul.prefixes{padding-left:1.2rem}
figure.qr{margin:.5rem 0}
figure.qr svg{display:block;width:240px;height:240px;background:#fff}
ol li,ul li{margin:.25rem 0}
form.ssid{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.6rem 0}
form.ssid input{font:inherit;padding:.3rem .5rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
form.ssid button{font:inherit;padding:.3rem .8rem;border-radius:6px;border:1px solid var(--line);background:var(--box);color:var(--fg)}
aside.warn p{margin:.4rem 0}
.button{display:inline-block;padding:.55rem 1rem;border-radius:8px;background:var(--accent);color:#fff;text-decoration:none;font-weight:600}
`;
