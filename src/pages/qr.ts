import { create } from 'qrcode';
import { escapeHtml } from './escape';

/** The quiet zone around the symbol, in modules (ISO/IEC 18004 asks for 4). */
export const QR_QUIET_ZONE = 4;

export interface QrSvgOptions {
  /** Rendered width and height in CSS pixels (the SVG scales; the viewBox is in modules). */
  readonly pixels?: number;
  /** Accessible name of the image (escaped here). */
  readonly label?: string;
}

/** The encoded symbol: size in modules and the dark modules, row by row. */
export interface QrMatrix {
  readonly version: number;
  /** Modules per side, without the quiet zone (17 + 4 * version). */
  readonly size: number;
  readonly isDark: (row: number, col: number) => boolean;
}

/**
 * Encodes `text` as a QR code (error correction level M, byte mode as the library chooses).
 * The encoding is the `qrcode` library's; only the SVG drawing is done here, so that the
 * page can be rendered synchronously.
 */
export function qrMatrix(text: string): QrMatrix {
  const code = create(text, { errorCorrectionLevel: 'M' });
  const { size, data } = code.modules;
  return {
    version: code.version,
    size,
    isDark: (row, col) =>
      row >= 0 && col >= 0 && row < size && col < size && data[row * size + col] === 1,
  };
}

/**
 * The QR code of `text` as an inline `<svg>`: a white square with a 4-module quiet zone and one
 * path of black runs (one `M x y h n v 1 h -n z` per horizontal run of dark modules). The viewBox
 * is in modules, so `0 0 (size + 8) (size + 8)`.
 */
export function qrSvg(text: string, options: QrSvgOptions = {}): string {
  const m = qrMatrix(text);
  const total = m.size + 2 * QR_QUIET_ZONE;
  const runs: string[] = [];
  for (let row = 0; row < m.size; row++) {
    let col = 0;
    while (col < m.size) {
      if (!m.isDark(row, col)) {
        col++;
        continue;
      }
      const start = col;
      while (col < m.size && m.isDark(row, col)) col++;
      const len = col - start;
      runs.push(`M${start + QR_QUIET_ZONE} ${row + QR_QUIET_ZONE}h${len}v1h-${len}z`);
    }
  }
  const pixels = options.pixels ?? 240;
  const label = escapeHtml(options.label ?? 'QR code');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${label}" ` +
    `width="${pixels}" height="${pixels}" viewBox="0 0 ${total} ${total}" ` +
    `shape-rendering="crispEdges" data-qr-version="${m.version}">` +
    `<title>${label}</title>` +
    `<rect width="${total}" height="${total}" fill="#fff"/>` +
    `<path fill="#000" d="${runs.join('')}"/>` +
    `</svg>`
  );
}
