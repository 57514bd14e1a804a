/**
 * The mask overlay people check before and after an edit: each region outlined and tinted
 * in its own colour, numbered and labelled "1 · a dog → a tiger". While the masks are being
 * checked it also carries a light lettered grid (columns A–H from the left, rows 1–8 from the
 * top), so a person can name any box in cells ("B3 to D5") without drawing.
 */
import sharp from 'sharp';
import type { Box } from '../distill/masks.js';
import type { RgbImage } from './decode.js';

export interface OverlayRegion {
  readonly label: string;
  readonly boxes: readonly Box[];
}

/** Distinct, colour-blind-friendly hues (Okabe–Ito), cycled when there are more regions. */
const REGION_COLOURS = ['#E69F00', '#56B4E9', '#009E73', '#F0E442', '#0072B2', '#D55E00', '#CC79A7', '#999999'];

export function regionColour(index: number): string {
  return REGION_COLOURS[index % REGION_COLOURS.length];
}

/** SVG coordinates to two decimals: 60.00000000000001 helps nobody. */
const px = (v: number) => Math.round(v * 100) / 100;

// XML 1.0's Char production: anything else (ESC, NUL, U+FFFE, a lone surrogate) makes the SVG
// unparseable, and a request or plan label is free text.
const NOT_XML_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** A label as one line of characters XML can hold. */
function drawableText(text: string): string {
  return text.replace(/[\t\n\r]+/g, ' ').replace(NOT_XML_CHAR, '');
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

export interface OverlayOptions {
  /** Draw the lettered grid of the check step. */
  grid?: boolean;
}

/** The check step's grid: its columns' letters and its rows' count (src/plan/fix.ts reads cells the same way). */
export const GRID = { columns: 'ABCDEFGH', rows: 8 } as const;

/** Thin light lines between the cells, and each column's letter and each row's number in its first cell. */
function gridSvg(width: number, height: number): string[] {
  const { columns, rows } = GRID;
  const line = Math.max(1, Math.round(Math.min(width, height) / 400));
  const fontSize = Math.max(9, Math.round(Math.min(width / columns.length, height / rows) / 4));
  const parts: string[] = [];
  const label = (x: number, y: number, text: string) =>
    `<text x="${px(x)}" y="${px(y)}" font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" font-weight="bold" fill="#fff" fill-opacity="0.9" ` +
    `stroke="#000" stroke-opacity="0.6" stroke-width="${px(fontSize / 8)}" paint-order="stroke">${text}</text>`;
  for (let c = 1; c < columns.length; c++) {
    const x = (c * width) / columns.length;
    parts.push(`<line x1="${px(x)}" y1="0" x2="${px(x)}" y2="${height}" stroke="#fff" stroke-opacity="0.45" stroke-width="${line}"/>`);
  }
  for (let r = 1; r < rows; r++) {
    const y = (r * height) / rows;
    parts.push(`<line x1="0" y1="${px(y)}" x2="${width}" y2="${px(y)}" stroke="#fff" stroke-opacity="0.45" stroke-width="${line}"/>`);
  }
  const cellWidth = width / columns.length;
  const cellHeight = height / rows;
  [...columns].forEach((letter, c) => parts.push(label(c * cellWidth + cellWidth / 2 - fontSize * 0.35, fontSize * 1.1, letter)));
  for (let r = 0; r < rows; r++) parts.push(label(fontSize * 0.3, r * cellHeight + cellHeight / 2 + fontSize * 0.35, String(r + 1)));
  return parts;
}

export function overlaySvg(width: number, height: number, regions: readonly OverlayRegion[], options: OverlayOptions = {}): string {
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 160));
  const fontSize = Math.max(11, Math.round(Math.min(width, height) / 28));
  const parts: string[] = [];
  regions.forEach((region, index) => {
    // A region with no boxes (not found) keeps its number, so labels match the plan's order.
    if (region.boxes.length === 0) return;
    const colour = regionColour(index);
    for (const [x0, y0, x1, y1] of region.boxes) {
      parts.push(
        `<rect x="${px(x0 * width)}" y="${px(y0 * height)}" width="${px((x1 - x0) * width)}" height="${px((y1 - y0) * height)}" ` +
          `fill="${colour}" fill-opacity="0.28" stroke="${colour}" stroke-width="${stroke}"/>`,
      );
    }
    const [x0, y0] = region.boxes[0];
    const text = drawableText(`${index + 1} · ${region.label}`);
    const labelWidth = Math.min(width, Math.round(text.length * fontSize * 0.62 + fontSize));
    const labelHeight = Math.round(fontSize * 1.5);
    const lx = Math.max(0, Math.min(width - labelWidth, x0 * width));
    const ly = Math.max(0, Math.min(height - labelHeight, y0 * height));
    parts.push(
      `<rect x="${px(lx)}" y="${px(ly)}" width="${labelWidth}" height="${labelHeight}" fill="${colour}" rx="${px(fontSize / 4)}"/>`,
      `<text x="${px(lx + fontSize / 2)}" y="${px(ly + fontSize * 1.1)}" font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" ` +
        `font-weight="bold" fill="#000">${escapeXml(text)}</text>`,
    );
  });
  // The grid goes under the labels, so a number is never hidden by a line.
  const grid = options.grid ? gridSvg(width, height) : [];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${[...grid, ...parts].join('')}</svg>`;
}

/** The image with every region drawn on it (and the check step's grid, when asked), as a PNG. */
export async function renderMaskOverlay(image: RgbImage, regions: readonly OverlayRegion[], options: OverlayOptions = {}): Promise<Buffer> {
  const svg = Buffer.from(overlaySvg(image.width, image.height, regions, options));
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .composite([{ input: svg, top: 0, left: 0 }])
    .png()
    .toBuffer();
}
