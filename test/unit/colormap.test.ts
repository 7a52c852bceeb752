/** Colour maps: monotonic lightness, the anchors' end colours, and the grid-to-pixels layout. */
import { describe, expect, it } from 'vitest';
import { COLORMAPS, colormapTable, gridToRgba } from '../../src/ui/colormap';

/** Relative luminance (Rec. 709 weights on sRGB bytes; enough to check monotonicity). */
const lum = (t: Uint8Array, i: number) => 0.2126 * t[i * 4] + 0.7152 * t[i * 4 + 1] + 0.0722 * t[i * 4 + 2];

describe('colour maps', () => {
  it('every map is opaque and gets lighter from 0 to 255', () => {
    for (const name of COLORMAPS) {
      const t = colormapTable(name);
      expect(t.length).toBe(1024);
      for (let i = 0; i < 256; i++) expect(t[i * 4 + 3]).toBe(255);
      for (let i = 8; i < 256; i += 8) expect(lum(t, i), `${name} at ${i}`).toBeGreaterThan(lum(t, i - 8));
    }
    expect(Array.from(colormapTable('grey').subarray(0, 3))).toEqual([0, 0, 0]);
    expect(Array.from(colormapTable('grey').subarray(1020, 1023))).toEqual([255, 255, 255]);
  });

  it('gridToRgba puts the highest bin on the top row and the newest frame on the right', () => {
    const frames = 3, bins = 2;
    // frame-major: frame t, bin k = 10 * t + k
    const data = new Float32Array([0, 1, 10, 11, 20, 21]);
    const out = new Uint8Array(frames * bins * 4);
    const t = colormapTable('grey');
    gridToRgba(data, frames, bins, 0, 21, t, out);
    const px = (x: number, y: number) => out[(y * frames + x) * 4];
    expect(px(2, 0)).toBe(255); // newest frame, highest bin: value 21 -> top of the range
    expect(px(0, 1)).toBe(0); // oldest frame, lowest bin: value 0
    expect(px(1, 0)).toBeGreaterThan(px(1, 1));
  });
});
