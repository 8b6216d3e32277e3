import { describe, expect, it } from 'vitest';
import { decodeBase64Url } from './request';

describe('decodeBase64Url (RFC 4648 section 5, as RFC 8484 uses it)', () => {
  it('decodes unpadded and padded base64url', () => {
    const cases: [string, number[]][] = [
      ['', []],
      ['AA', [0]],
      ['AAE', [0, 1]],
      ['AAEC', [0, 1, 2]],
      ['_-8', [255, 239]],
      ['3q2-7w', [222, 173, 190, 239]],
      ['AAAB==', [0, 0, 1]],
      ['AA==', [0]],
    ];
    for (const [text, bytes] of cases) expect([...decodeBase64Url(text)!], text).toEqual(bytes);
  });

  it('refuses what is not base64url: a lone sixth, standard-alphabet characters, inner or extra padding', () => {
    for (const text of ['A', 'AAAAA', 'A+A', 'A/AA', 'AA=A', 'AA===', 'AAé', 'AA AA']) {
      expect(decodeBase64Url(text), text).toBeNull();
    }
  });
});
