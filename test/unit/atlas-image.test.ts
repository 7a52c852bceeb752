/** The atlas's fast image and WAV writers equal plain-loop references (same pixels, same bytes). */
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { encodeWavPcm16Mono } from '../../src/cli/atlas';
import { blit, encodePng, maskedRasters, raster, rampColour, spectrogramRaster } from '../../src/cli/atlas-image';
import type { Raster } from '../../src/cli/atlas-image';
import { encodeWav } from '../../src/dsp/wav';
import { mulberry32 } from '../fixtures/fixture-net/make';

/** Reference: each pixel independently, the max over its frames x bins, dB, ramp colour. */
function refRaster(values: Float32Array, frames: number, bins: number, width: number, height: number, rangeDb = 80): Raster {
  const data = new Uint8Array(width * height * 4);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  let top = 0;
  for (const v of values) if (v > top) top = v;
  if (!(top > 0)) return { width, height, data };
  const floor = top * 10 ** (-rangeDb / 20);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const t0 = Math.floor((x * frames) / width);
      const t1 = Math.max(t0 + 1, Math.floor(((x + 1) * frames) / width));
      const k1 = bins - Math.floor((y * bins) / height);
      const k0 = Math.min(k1 - 1, bins - Math.floor(((y + 1) * bins) / height));
      let m = 0;
      for (let t = t0; t < t1; t++) for (let k = k0; k < k1; k++) m = Math.max(m, values[t * bins + k]);
      const v = m > floor ? (20 * Math.log10(m / top)) / rangeDb + 1 : 0;
      data.set(rampColour(v), (y * width + x) * 4);
    }
  }
  return { width, height, data };
}

describe('atlas images', () => {
  it.each([[37, 17, 37, 17], [1290, 257, 430, 257], [1290, 257, 120, 80], [50, 20, 7, 9], [5, 4, 12, 10]])('spectrogramRaster %i x %i -> %i x %i equals the per-pixel reference', (frames, bins, width, height) => {
    const r = mulberry32(frames * 7 + width);
    const v = Float32Array.from({ length: frames * bins }, () => (r() < 0.4 ? 0 : r() ** 8));
    // A few non-finite values and a huge dynamic range.
    v[3] = NaN;
    v[Math.floor(v.length / 2)] = 1e-12;
    const got = spectrogramRaster(v, frames, bins, width, height);
    const want = refRaster(v, frames, bins, width, height);
    expect([got.width, got.height]).toEqual([width, height]);
    expect(Buffer.compare(Buffer.from(got.data), Buffer.from(want.data))).toBe(0);
    expect(Buffer.compare(Buffer.from(spectrogramRaster(new Float32Array(frames * bins), frames, bins, width, height).data), Buffer.from(refRaster(new Float32Array(frames * bins), frames, bins, width, height).data))).toBe(0);
  });

  it.each([[1290, 257], [37, 17], [6, 5]])('maskedRasters (%i frames x %i bins) equals spectrogramRaster of |X| x max(mask, 0) at every size', (frames, bins) => {
    const r = mulberry32(frames + bins);
    const mag = Float32Array.from({ length: frames * bins }, () => r() ** 3 * 40);
    const mask = Float32Array.from({ length: frames * bins }, () => 2 * r() - 0.8);
    const want = new Float32Array(frames * bins);
    for (let i = 0; i < want.length; i++) want[i] = mag[i] * Math.max(0, mask[i]);
    const sizes = [{ width: Math.ceil(frames / Math.ceil(frames / 640)), height: bins }, { width: 120, height: 80 }, { width: Math.max(1, frames - 1), height: 9 }];
    const out = new Float32Array(frames * bins);
    const got = maskedRasters(mag, mask, out, frames, bins, sizes);
    expect(Buffer.compare(Buffer.from(out.buffer), Buffer.from(want.buffer))).toBe(0);
    sizes.forEach((s, i) => {
      const ref = refRaster(want, frames, bins, s.width, s.height);
      expect([got[i].width, got[i].height]).toEqual([s.width, s.height]);
      expect(Buffer.compare(Buffer.from(got[i].data), Buffer.from(ref.data)), `${s.width} x ${s.height}`).toBe(0);
    });
    // An all-negative mask: black pictures.
    const black = maskedRasters(mag, mask.map(() => -1), out, frames, bins, sizes);
    sizes.forEach((s, i) => expect(Buffer.compare(Buffer.from(black[i].data), Buffer.from(raster(s.width, s.height).data))).toBe(0));
  });

  it('raster fills, blit copies clipped, encodePng decodes to the same pixels', () => {
    const a = raster(5, 4, [24, 24, 28]);
    for (let i = 0; i < 20; i++) expect(Array.from(a.data.subarray(4 * i, 4 * i + 4))).toEqual([24, 24, 28, 255]);
    const r = mulberry32(3);
    const src: Raster = { width: 3, height: 2, data: Uint8Array.from({ length: 24 }, () => Math.floor(256 * r())) };
    for (const [x, y] of [[0, 0], [3, 3], [-1, -1], [4, 1], [-3, 0]]) {
      const got = raster(5, 4, [1, 2, 3]);
      const want = raster(5, 4, [1, 2, 3]);
      blit(got, src, x, y);
      for (let rr = 0; rr < 2; rr++) for (let c = 0; c < 3; c++) {
        const dx = x + c, dy = y + rr;
        if (dx >= 0 && dx < 5 && dy >= 0 && dy < 4) for (let b = 0; b < 4; b++) want.data[(dy * 5 + dx) * 4 + b] = src.data[(rr * 3 + c) * 4 + b];
      }
      expect(Array.from(got.data)).toEqual(Array.from(want.data));
    }
    const img: Raster = { width: 31, height: 17, data: Uint8Array.from({ length: 31 * 17 * 4 }, (_, i) => (i % 4 === 3 ? 255 : Math.floor(256 * r()))) };
    const back = PNG.sync.read(encodePng(img));
    expect([back.width, back.height]).toEqual([31, 17]);
    expect(Buffer.compare(back.data, Buffer.from(img.data))).toBe(0);
    // With some translucent pixels the alpha channel is kept.
    const see: Raster = { width: 9, height: 5, data: Uint8Array.from({ length: 9 * 5 * 4 }, (_, i) => (i % 4 === 3 && i % 7 !== 0 ? 255 : Math.floor(256 * r()))) };
    const seeBack = PNG.sync.read(encodePng(see));
    expect(Buffer.compare(seeBack.data, Buffer.from(see.data))).toBe(0);
    const one: Raster = raster(1, 1, [7, 8, 9]);
    expect(Array.from(PNG.sync.read(encodePng(one)).data)).toEqual([7, 8, 9, 255]);
  });

  it('encodeWavPcm16Mono writes the bytes encodeWav writes (rounding, clipping, NaN)', () => {
    const r = mulberry32(5);
    const y = Float32Array.from({ length: 1001 }, () => 2.4 * r() - 1.2);
    y.set([0, -0, 0.5 / 32768, -0.5 / 32768, 1.5 / 32768, -1.5 / 32768, 1, -1, 32767 / 32768, NaN], 0);
    for (const rate of [8000, 11025, 44100]) {
      expect(Buffer.compare(Buffer.from(encodeWavPcm16Mono(y, rate)), Buffer.from(encodeWav([y], rate, 'pcm16')))).toBe(0);
    }
    expect(Buffer.compare(Buffer.from(encodeWavPcm16Mono(new Float32Array(0), 8000)), Buffer.from(encodeWav([new Float32Array(0)], 8000, 'pcm16')))).toBe(0);
  });
});
