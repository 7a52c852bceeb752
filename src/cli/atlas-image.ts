/** Images of the atlas: spectrogram rasters with a colour ramp, a 3x5 digit font, PNG encoding. */
import { constants as zlibConstants, crc32, deflateSync } from 'node:zlib';

/** An RGBA raster, row-major, 4 bytes per pixel. */
export interface Raster {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A blank raster filled with one colour. */
export function raster(width: number, height: number, rgb: [number, number, number] = [0, 0, 0]): Raster {
  const data = new Uint8Array(width * height * 4);
  if (rgb[0] === 0 && rgb[1] === 0 && rgb[2] === 0) {
    for (let i = 3; i < data.length; i += 4) data[i] = 255;
  } else {
    for (let i = 0; i < data.length; i += 4) {
      data[i] = rgb[0];
      data[i + 1] = rgb[1];
      data[i + 2] = rgb[2];
      data[i + 3] = 255;
    }
  }
  return { width, height, data };
}

// A dark-to-bright ramp (black, purple, red-orange, pale yellow): monotonic lightness.
const RAMP: [number, number, number][] = [[0, 0, 4], [80, 18, 123], [182, 54, 121], [251, 136, 97], [252, 253, 191]];

/** Colour of v in [0, 1] on the ramp. */
export function rampColour(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((c) => Math.round(RAMP[i][c] + f * (RAMP[i + 1][c] - RAMP[i][c]))) as [number, number, number];
}

/** Per output row y, the bins [k0s[y], k1s[y]) it covers (low frequencies at the bottom). */
function rowBins(bins: number, height: number): { k0s: Int32Array; k1s: Int32Array } {
  const k0s = new Int32Array(height);
  const k1s = new Int32Array(height);
  for (let y = 0; y < height; y++) {
    k1s[y] = bins - Math.floor((y * bins) / height);
    k0s[y] = Math.min(k1s[y] - 1, bins - Math.floor(((y + 1) * bins) / height));
  }
  return { k0s, k1s };
}

/** Paints column x of img from col (the per-bin maxima over the column's frames). */
function paintColumn(img: Raster, x: number, col: Float64Array, rows: { k0s: Int32Array; k1s: Int32Array }, top: number, floor: number, rangeDb: number): void {
  const { width, height, data } = img;
  const { k0s, k1s } = rows;
  const last = RAMP.length - 1;
  for (let y = 0; y < height; y++) {
    let m = 0;
    for (let k = k0s[y]; k < k1s[y]; k++) m = Math.max(m, col[k]);
    const v = m > floor ? (20 * Math.log10(m / top)) / rangeDb + 1 : 0;
    // rampColour(v), inlined (same arithmetic, no allocation).
    const r = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * last;
    const i = Math.min(last - 1, Math.floor(r));
    const f = r - i;
    const a = RAMP[i];
    const b = RAMP[i + 1];
    const p = (y * width + x) * 4;
    data[p] = Math.round(a[0] + f * (b[0] - a[0]));
    data[p + 1] = Math.round(a[1] + f * (b[1] - a[1]));
    data[p + 2] = Math.round(a[2] + f * (b[2] - a[2]));
  }
}

/**
 * A spectrogram image of frame-major values [frames][bins] (magnitudes >= 0), width x height pixels,
 * low frequencies at the bottom; each pixel shows the largest value it covers, in dB over
 * [max - rangeDb, max]. An all-zero input gives a black image.
 */
export function spectrogramRaster(values: Float32Array, frames: number, bins: number, width: number, height: number, rangeDb = 80): Raster {
  let top = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > top) top = values[i];
  return rasterWithTop(values, frames, bins, width, height, top, rangeDb);
}

/** spectrogramRaster with the largest value already known. */
function rasterWithTop(values: Float32Array, frames: number, bins: number, width: number, height: number, top: number, rangeDb: number): Raster {
  const img = raster(width, height);
  if (!(top > 0)) return img;
  const floor = top * 10 ** (-rangeDb / 20);
  const rows = rowBins(bins, height);
  const col = new Float64Array(bins);
  for (let x = 0; x < width; x++) {
    const t0 = Math.floor((x * frames) / width);
    const t1 = Math.max(t0 + 1, Math.floor(((x + 1) * frames) / width));
    col.fill(0);
    for (let t = t0; t < t1; t++) {
      const off = t * bins;
      for (let k = 0; k < bins; k++) col[k] = Math.max(col[k], values[off + k]);
    }
    paintColumn(img, x, col, rows, top, floor, rangeDb);
  }
  return img;
}

/**
 * One feature's pictures at once: out = |X| x max(mask, 0) (frame-major, written into `out`), and
 * spectrogramRaster(out, ...) at each of `sizes`, with one pass over the values for the maximum and
 * one shared by every size no wider than `frames` (each picture equals spectrogramRaster's).
 */
export function maskedRasters(mag: Float32Array, mask: Float32Array, out: Float32Array, frames: number, bins: number, sizes: { width: number; height: number }[], rangeDb = 80): Raster[] {
  const n = frames * bins;
  let top = 0;
  for (let i = 0; i < n; i++) {
    out[i] = mag[i] * Math.max(0, mask[i]);
    if (out[i] > top) top = out[i]; // the stored (float32) value
  }
  const values = out.subarray(0, n);
  const shared = sizes.filter((s) => s.width <= frames);
  const imgs = sizes.map((s) => (s.width <= frames ? raster(s.width, s.height) : rasterWithTop(values, frames, bins, s.width, s.height, top, rangeDb)));
  if (!(top > 0) || shared.length === 0) return imgs;
  const floor = top * 10 ** (-rangeDb / 20);
  // Columns no wider than the frames partition them: column x is frames [x F / W, (x + 1) F / W).
  const tracks = sizes.flatMap((s, i) => (s.width <= frames ? [{ img: imgs[i], rows: rowBins(bins, s.height), col: new Float64Array(bins), x: 0, end: Math.floor(frames / s.width) }] : []));
  for (let t = 0; t < frames; t++) {
    const off = t * bins;
    for (const tr of tracks) {
      const col = tr.col;
      for (let k = 0; k < bins; k++) col[k] = Math.max(col[k], values[off + k]);
      if (t + 1 === tr.end) {
        paintColumn(tr.img, tr.x, col, tr.rows, top, floor, rangeDb);
        col.fill(0);
        tr.x++;
        tr.end = Math.floor(((tr.x + 1) * frames) / tr.img.width);
      }
    }
  }
  return imgs;
}

/** Copies src into dst at (x, y), clipped. */
export function blit(dst: Raster, src: Raster, x: number, y: number): void {
  const c0 = Math.max(0, -x);
  const c1 = Math.min(src.width, dst.width - x);
  if (c1 <= c0) return;
  for (let r = 0; r < src.height; r++) {
    const dy = y + r;
    if (dy < 0 || dy >= dst.height) continue;
    dst.data.set(src.data.subarray((r * src.width + c0) * 4, (r * src.width + c1) * 4), (dy * dst.width + x + c0) * 4);
  }
}

// 3x5 glyphs, one string of 15 bits per character, row-major from the top.
const GLYPHS: Record<string, string> = {
  '0': '111101101101111', '1': '010110010010111', '2': '111001111100111', '3': '111001111001111', '4': '101101111001001',
  '5': '111100111001111', '6': '111100111101111', '7': '111001010010010', '8': '111101111101111', '9': '111101111001111',
  L: '100100100100111', '-': '000000111000000', ' ': '000000000000000',
};

/** Draws text (digits, 'L', '-', space) with the 3x5 font at `scale` pixels per dot; returns the width drawn. */
export function drawText(dst: Raster, text: string, x: number, y: number, scale: number, rgb: [number, number, number]): number {
  let cx = x;
  for (const ch of text) {
    const g = GLYPHS[ch] ?? GLYPHS[' '];
    for (let r = 0; r < 5; r++) for (let c = 0; c < 3; c++) {
      if (g[r * 3 + c] !== '1') continue;
      for (let a = 0; a < scale; a++) for (let b = 0; b < scale; b++) {
        const px = cx + c * scale + b;
        const py = y + r * scale + a;
        if (px >= 0 && px < dst.width && py >= 0 && py < dst.height) dst.data.set([rgb[0], rgb[1], rgb[2], 255], (py * dst.width + px) * 4);
      }
    }
    cx += 4 * scale;
  }
  return cx - x;
}

/**
 * Encodes a raster as PNG bytes: 8-bit RGB when every pixel is opaque (RGBA otherwise), every row
 * with the Up filter, deflated with the run-length strategy. ~3x faster than pngjs's encoder with a
 * fixed filter (its adaptive default is ~7x slower) and slightly smaller; decodes to the same pixels.
 */
export function encodePng(r: Raster): Buffer {
  const { width, height, data } = r;
  let opaque = true;
  for (let i = 3; i < data.length && opaque; i += 4) opaque = data[i] === 255;
  const bpp = opaque ? 3 : 4;
  const stride = width * bpp;
  const raw = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1) + 1;
    raw[o - 1] = 2; // Up: each byte minus the one above (0 above the first row)
    const src = y * width * 4;
    const up = src - width * 4;
    for (let x = 0; x < width; x++) {
      const s = src + x * 4;
      const d = o + x * bpp;
      for (let c = 0; c < bpp; c++) raw[d + c] = y > 0 ? (data[s + c] - data[up + x * 4 + c]) & 255 : data[s + c];
    }
  }
  const chunk = (type: string, body: Uint8Array): Buffer => {
    const b = Buffer.alloc(12 + body.length);
    b.writeUInt32BE(body.length, 0);
    b.write(type, 4, 'latin1');
    b.set(body, 8);
    b.writeUInt32BE(crc32(b.subarray(4, 8 + body.length)), 8 + body.length);
    return b;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = opaque ? 2 : 6; // colour type: RGB or RGBA
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9, strategy: zlibConstants.Z_RLE })), chunk('IEND', new Uint8Array(0))]);
}

const PNG_SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

/** Layout of a per-layer grid: tiles of tileW x tileH under a label strip, `columns` per row. */
export interface GridLayout {
  columns: number;
  rows: number;
  tileW: number;
  tileH: number;
  /** Label strip height above each tile. */
  labelH: number;
  /** Gap around tiles. */
  pad: number;
  width: number;
  height: number;
}

/** The grid layout for n tiles (at most 8 per row). */
export function gridLayout(n: number, tileW = 120, tileH = 80): GridLayout {
  const columns = Math.max(1, Math.min(8, n));
  const rows = Math.max(1, Math.ceil(n / columns));
  const labelH = 14;
  const pad = 4;
  return { columns, rows, tileW, tileH, labelH, pad, width: columns * (tileW + pad) + pad, height: rows * (labelH + tileH + pad) + pad };
}
