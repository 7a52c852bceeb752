/** Offline auralisation against an independent plain-loop float64 reference (DFT, mask, inverse DFT, weighted overlap-add). */
import { describe, expect, it } from 'vitest';
import { applyMask, auraliseOffline, matchLevel, maskScaleOf } from '../../src/dsp/auralise';
import { snrDb } from '../../src/dsp/level';
import { mulberry32 } from '../fixtures/fixture-net/make';
import { referenceAuralise } from './reference-auralise';

const N_FFT = 64;
const HOP = 16;
const BINS = N_FFT / 2 + 1;

/** A test signal: two partials with vibrato, a decaying click train and seeded noise. */
function makeSignal(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  const x = new Float32Array(n);
  let ph1 = 0;
  for (let i = 0; i < n; i++) {
    ph1 += (2 * Math.PI * (0.05 + 0.01 * Math.sin(i / 300))) % (2 * Math.PI);
    const click = i % 700 < 30 ? Math.exp(-(i % 700) / 6) * (r() - 0.5) : 0;
    x[i] = 0.4 * Math.sin(ph1) + 0.2 * Math.sin(2 * Math.PI * 0.21 * i) + click + 0.02 * (r() - 0.5);
  }
  return x;
}

/** Slow reference: per frame DFT of the Hann-windowed samples, times mask, inverse DFT, windowed overlap-add / sum w^2. */
const frameCount = (n: number): number => Math.floor((n - N_FFT) / HOP) + 1;
const inner = (a: ArrayLike<number>, from = N_FFT, to = a.length - 2 * N_FFT): Float32Array => Float32Array.from(Array.prototype.slice.call(a, from, to) as number[]);

describe('auralise', () => {
  it('a mask of ones gives the input back (SNR >= 80 dB away from the edges)', () => {
    const x = makeSignal(4000, 1);
    const ones = new Float32Array(frameCount(x.length) * BINS).fill(1);
    const y = auraliseOffline(x, ones, { nFft: N_FFT, hopSamples: HOP }, { mode: 'solo', rectify: false, maskScale: 0 });
    expect(y.length).toBe(x.length);
    expect(snrDb(inner(x), inner(y))).toBeGreaterThanOrEqual(80);
  });

  it('equals the plain-loop reference for a signed random mask (SNR >= 60 dB), and for its rectified form', () => {
    const x = makeSignal(3000, 2);
    const frames = frameCount(x.length);
    const r = mulberry32(3);
    // A smooth-ish signed mask: a slow pattern plus noise, about a fifth negative.
    const mask = new Float32Array(frames * BINS).map((_, i) => Math.sin(i / 37) + 0.6 * r() - 0.1);
    const cfg = { nFft: N_FFT, hopSamples: HOP };
    const y = auraliseOffline(x, mask, cfg, { mode: 'solo', rectify: false, maskScale: 0 });
    const ref = referenceAuralise(x, mask, N_FFT, HOP);
    // Compared where every overlapping frame exists: at the first and last nFft - hop samples the
    // reference divides by the partial sum of w^2, the library by the steady-state one.
    const span = (frames - 1) * HOP + N_FFT;
    const [a, b] = [N_FFT - HOP, span - (N_FFT - HOP)];
    expect(snrDb(Float32Array.from(ref.subarray(a, b)), y.subarray(a, b))).toBeGreaterThanOrEqual(60);
    const rect = mask.map((v) => Math.max(v, 0));
    const yr = auraliseOffline(x, mask, cfg, { mode: 'solo', rectify: true, maskScale: 0 });
    const refR = referenceAuralise(x, rect, N_FFT, HOP);
    expect(snrDb(Float32Array.from(refR.subarray(a, b)), yr.subarray(a, b))).toBeGreaterThanOrEqual(60);
    // The two differ where the mask was negative.
    expect(snrDb(yr, y)).toBeLessThan(20);
  });

  it('a negative mask flips the phase; rectify silences it', () => {
    const x = makeSignal(2000, 4);
    const frames = frameCount(x.length);
    const cfg = { nFft: N_FFT, hopSamples: HOP };
    const neg = new Float32Array(frames * BINS).fill(-0.5);
    const y = auraliseOffline(x, neg, cfg, { mode: 'solo', rectify: false, maskScale: 0 });
    const want = inner(x).map((v) => -0.5 * v);
    expect(snrDb(want, inner(y))).toBeGreaterThanOrEqual(80);
    const yr = auraliseOffline(x, neg, cfg, { mode: 'solo', rectify: true, maskScale: 0 });
    expect(yr.every((v) => v === 0)).toBe(true);
    // applyMask on one frame: the sign carries into re and im.
    const re = Float32Array.of(1, 2, 3);
    const im = Float32Array.of(-1, 0.5, 2);
    const oRe = new Float32Array(3);
    const oIm = new Float32Array(3);
    applyMask(re, im, Float32Array.of(-1, 2, 0), { mode: 'solo', rectify: false, maskScale: 0 }, oRe, oIm);
    expect([...oRe, ...oIm]).toEqual([-1, 4, 0, 1, 1, 0]);
  });

  it('mute with the feature\'s own rectified mask removes its energy where the mask is at its maximum', () => {
    // Two sines, at bin 8 and bin 24 of a 64-point frame; the "feature" covers bins 6..10 (peak at 7..9).
    const n = 6000;
    const lo = new Float32Array(n).map((_, i) => 0.5 * Math.sin((2 * Math.PI * 8 * i) / N_FFT));
    const hi = new Float32Array(n).map((_, i) => 0.3 * Math.sin((2 * Math.PI * 24 * i + 1) / N_FFT));
    const x = lo.map((v, i) => v + hi[i]);
    const frames = frameCount(n);
    const mask = new Float32Array(frames * BINS);
    for (let t = 0; t < frames; t++) for (let k = 5; k <= 11; k++) mask[t * BINS + k] = k >= 7 && k <= 9 ? 3 : k === 6 || k === 10 ? 1.5 : 0.2;
    mask[5] = -4; // a negative value is rectified away, not counted in the scale
    expect(maskScaleOf(mask)).toBe(3);
    const cfg = { nFft: N_FFT, hopSamples: HOP };
    const muted = auraliseOffline(x, mask, cfg, { mode: 'mute', rectify: false, maskScale: 0 });
    // What is left is the high sine alone: the low one is gone (> 40 dB down), the high one kept.
    expect(snrDb(inner(hi), inner(muted))).toBeGreaterThanOrEqual(40);
    const soloed = auraliseOffline(x, mask, cfg, { mode: 'solo', rectify: true, maskScale: 0 });
    expect(snrDb(inner(lo.map((v) => 3 * v)), inner(soloed))).toBeGreaterThanOrEqual(40);
    // applyMask mute on one frame: 1 - clip(m / scale).
    const oRe = new Float32Array(4);
    const oIm = new Float32Array(4);
    applyMask(Float32Array.of(1, 1, 1, 1), Float32Array.of(2, 2, 2, 2), Float32Array.of(-1, 0, 1, 5), { mode: 'mute', rectify: false, maskScale: 2 }, oRe, oIm);
    expect([...oRe]).toEqual([1, 1, 0.5, 0]);
    expect([...oIm]).toEqual([2, 2, 1, 0]);
  });

  it('matchLevel: RMS matched under the gain ceiling, peak under the ceiling, silence stays silent', () => {
    const y = new Float32Array(1000).map((_, i) => 0.01 * Math.sin(i / 5));
    const rms = Math.sqrt(y.reduce((s, v) => s + v * v, 0) / y.length);
    const g = matchLevel(y, { targetRms: 0.05, maxGainDb: 24 });
    expect(g).toBeCloseTo(0.05 / rms, 4);
    expect(Math.sqrt(y.reduce((s, v) => s + v * v, 0) / y.length)).toBeCloseTo(0.05, 5);
    const quiet = new Float32Array(1000).map((_, i) => 1e-4 * Math.sin(i / 5));
    expect(matchLevel(quiet, { targetRms: 0.3, maxGainDb: 24 })).toBeCloseTo(10 ** (24 / 20), 6);
    const loud = new Float32Array(1000).map((_, i) => (i === 10 ? 1 : 0.001));
    matchLevel(loud, { targetRms: 0.5 });
    expect(Math.max(...loud.map(Math.abs))).toBeLessThanOrEqual(10 ** (-1 / 20) + 1e-6);
    const silent = new Float32Array(10);
    silent[3] = NaN;
    expect(matchLevel(silent, { targetRms: 0.5 })).toBe(1);
    expect(silent.every((v) => v === 0)).toBe(true);
  });
});
