import { readFileSync } from 'node:fs';

/** nat64d's version from its package.json (src/daemon and dist/daemon are both two levels down). */
export const NAT64D_VERSION: string | null = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    return typeof pkg.version === 'string' ? pkg.version : null;
  } catch {
    return null;
  }
})();
