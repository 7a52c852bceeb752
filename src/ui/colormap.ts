/**
 * Perceptual colour maps as 256-entry RGBA tables (pure: no DOM). Each map is interpolated
 * piecewise-linearly in sRGB between a few anchor colours of the published map, which keeps its
 * monotonic lightness; fine enough for heatmaps, and small enough to upload as a texture.
 */

/** Names of the colour maps the UI offers. */
export type ColormapName = 'magma' | 'viridis' | 'grey';

/** Every colour map, for pickers and tests. */
export const COLORMAPS: readonly ColormapName[] = ['magma', 'viridis', 'grey'];

const ANCHORS: Record<ColormapName, string[]> = {
  magma: ['#000004', '#1c1044', '#4f127b', '#812581', '#b5367a', '#e55064', '#fb8761', '#fec287', '#fcfdbf'],
  viridis: ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'],
  grey: ['#000000', '#ffffff'],
};

function hex(c: string): [number, number, number] {
  return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)];
}

const cache = new Map<ColormapName, Uint8Array>();

/** 256 x RGBA bytes interpolated piecewise-linearly between evenly spaced anchor colours. */
function interpolate(hexAnchors: string[]): Uint8Array {
  const anchors = hexAnchors.map(hex);
  const out = new Uint8Array(256 * 4);
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * (anchors.length - 1);
    const k = Math.min(Math.floor(x), anchors.length - 2);
    const f = x - k;
    for (let c = 0; c < 3; c++) out[i * 4 + c] = Math.round(anchors[k][c] * (1 - f) + anchors[k + 1][c] * f);
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** 256 x RGBA bytes of a colour map (cached; do not modify). */
export function colormapTable(name: ColormapName): Uint8Array {
  const hit = cache.get(name);
  if (hit) return hit;
  const out = interpolate(ANCHORS[name]);
  cache.set(name, out);
  return out;
}

/**
 * Maps a frame-major grid (frames x bins, values in dB or any unit) to RGBA pixels of an image
 * `frames` wide and `bins` high with the highest bin on the top row. Values are scaled linearly from
 * [lo, hi] to the table. `out` must hold frames * bins * 4 bytes.
 */
export function gridToRgba(data: Float32Array, frames: number, bins: number, lo: number, hi: number, table: Uint8Array, out: Uint8Array): void {
  const scale = 255 / Math.max(hi - lo, 1e-12);
  for (let t = 0; t < frames; t++) {
    const src = t * bins;
    for (let k = 0; k < bins; k++) {
      let v = (data[src + k] - lo) * scale;
      v = v < 0 ? 0 : v > 255 ? 255 : v;
      const idx = (v | 0) * 4;
      const dst = ((bins - 1 - k) * frames + t) * 4;
      out[dst] = table[idx];
      out[dst + 1] = table[idx + 1];
      out[dst + 2] = table[idx + 2];
      out[dst + 3] = 255;
    }
  }
}

/** 256 x RGBA bytes of a diverging map for signed values (blue, near-black at zero, orange-red), index 128 = 0. */
export function divergingTable(): Uint8Array {
  const hit = divergingCache;
  if (hit) return hit;
  // Dark centre on a dark page: zero reads as "nothing", both signs stand out by hue.
  const out = interpolate(['#4fa3ff', '#2a5fa8', '#18233d', '#0b0b10', '#3d1e14', '#b3472a', '#ff9a4d']);
  divergingCache = out;
  return out;
}
let divergingCache: Uint8Array | null = null;

/** Row length in bytes rounded up to 4: WebGL's default UNPACK_ALIGNMENT for single-byte texels. */
export function paddedWidth(width: number): number {
  return (width + 3) & ~3;
}

/**
 * Scales a row-major grid (rows x cols, row 0 = lowest frequency) to bytes in [0, 255] from
 * [lo, hi], writing it upside down (highest row first) into `out` with row stride `stride`.
 */
export function gridToBytesFlipped(data: Float32Array, offset: number, rows: number, cols: number, lo: number, hi: number, out: Uint8Array, outOffset: number, stride: number): void {
  const scale = 255 / Math.max(hi - lo, 1e-12);
  for (let r = 0; r < rows; r++) {
    const src = offset + r * cols;
    const dst = outOffset + (rows - 1 - r) * stride;
    for (let c = 0; c < cols; c++) {
      const v = (data[src + c] - lo) * scale;
      out[dst + c] = v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
    }
  }
}

/**
 * Scales a frame-major grid (frames x bins) to bytes from [lo, hi] as an image `frames` wide and
 * `bins` high, highest bin on the top row, row stride `stride` bytes.
 */
export function framesToBytes(data: Float32Array, frames: number, bins: number, lo: number, hi: number, out: Uint8Array, stride: number): void {
  const scale = 255 / Math.max(hi - lo, 1e-12);
  for (let t = 0; t < frames; t++) {
    const src = t * bins;
    for (let k = 0; k < bins; k++) {
      const v = (data[src + k] - lo) * scale;
      out[(bins - 1 - k) * stride + t] = v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
    }
  }
}

/** Minimum and maximum of data[from, to). */
export function range(data: Float32Array, from = 0, to = data.length): { min: number; max: number } {
  let min = Infinity, max = -Infinity;
  for (let i = from; i < to; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}
