import { escapeHtml as h } from './escape';
import { qrSvg } from './qr';
import type { SetupInfo } from './types';

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

/**
 * The client setup page for one tenant: a complete HTML document with inline CSS, no scripts
 * and no external assets. Every value from `info` is HTML-escaped.
 */
export function renderSetupPage(info: SetupInfo, options: SetupPageOptions = {}): string {
  const name = h(info.displayName);
  const url = h(info.dohUrl);
  const dohHost = h(hostOf(info.dohUrl, info.host));
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
<p class="lede">${name} is a DNS64 resolver reached over HTTPS (DoH, RFC 8484). Set its URL once
in your browser or operating system; the steps for each are below.</p>
</header>

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
</section>

<section id="qr">
<h2>${H.qr}</h2>
<p>The DoH URL, for scanning with a phone:</p>
<figure class="qr">${qrSvg(info.dohUrl, { label: `QR code of ${info.dohUrl}` })}</figure>
</section>

<section id="firefox">
<h2>${H.firefox}</h2>
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
<p>Windows 11 sends DNS over HTTPS to the <em>IP address</em> of a DNS server, using a DoH
template that belongs to that address. So it needs both: the addresses of
<code>${dohHost}</code> as the DNS servers, and the URL above as their template.</p>
<ol>
<li>Find the addresses: in Terminal, run <code>Resolve-DnsName ${dohHost}</code> (or
<code>nslookup ${dohHost}</code>). Note the IPv6 (AAAA) and IPv4 (A) addresses.</li>
<li>Open <b>Settings</b> → <b>Network &amp; internet</b> → <b>Wi-Fi</b> (then your network's
properties) or <b>Ethernet</b>.</li>
<li>Next to <b>DNS server assignment</b>, select <b>Edit</b> and choose <b>Manual</b>.</li>
<li>Turn on <b>IPv6</b> (and <b>IPv4</b> if the network has it). As <b>Preferred DNS</b>, enter
one address of <code>${dohHost}</code> of that family; as <b>Alternate DNS</b>, a second one if
there is one.</li>
<li>For each address set <b>DNS over HTTPS</b> to <b>On (manual template)</b>, paste
<code>${url}</code> as the <b>DNS over HTTPS template</b>, and turn <b>Fallback to
plaintext</b> off.</li>
<li>Select <b>Save</b>. The network's properties now show the DNS servers as
<b>(Encrypted)</b>.</li>
</ol>
<p class="note">Needs Windows 11 (the manual template arrived in version 22H2). If the addresses
of <code>${dohHost}</code> change, enter the new ones. Alternatively, in an administrator
PowerShell: <code>Add-DnsClientDohServerAddress -ServerAddress &lt;address&gt; -DohTemplate
${url} -AllowFallbackToUdp $False -AutoUpgrade $True</code>, then set that address as the
adapter's DNS server.</p>
</section>

<section id="apple">
<h2>${H.apple}</h2>
<p><a class="button" href="${profileHref}">Download the configuration profile</a></p>
<p>The profile sets <code>${url}</code> as the system's encrypted DNS (iOS and iPadOS 14, macOS
11 or later). It is not signed, so the device shows it as <b>Unverified</b>.</p>
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
</ol>
</section>

<section id="android">
<h2>${H.android}</h2>
<p class="warn"><b>Android's system setting cannot use this URL.</b> <b>Private DNS</b>
(Settings → Network &amp; internet → Private DNS) takes a host name and speaks DNS over TLS
(DoT, port 853) to it, not DNS over HTTPS, so there is no place for a DoH URL.</p>
<ul>
<li><b>For the whole device</b>, use an app that speaks DoH and accepts a custom server URL,
such as <b>Intra</b> or <b>Nebulo</b> (or <b>Rethink</b>): enter <code>${url}</code> as its
custom DNS over HTTPS server. These apps work as a local VPN.</li>
<li><b>For a browser only</b>, <b>Firefox</b> and <b>Chrome</b> on Android take the URL in
their own secure-DNS settings (see their sections above).</li>
</ul>
</section>
</main>
</body>
</html>
`;
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
.button{display:inline-block;padding:.55rem 1rem;border-radius:8px;background:var(--accent);color:#fff;text-decoration:none;font-weight:600}
`;
