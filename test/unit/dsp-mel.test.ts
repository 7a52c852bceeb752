import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hzToMel, melFilterbank, melToHz } from '../../src/dsp/mel';

/** Choi's compact_cnn weights (kapre 0.1 Melspectrogram): melgram/param_2 is the stored filterbank. */
const KAPRE_WEIGHTS = '/work/shared/upstream/music-auto_tagging-keras/compact_cnn/weights_theano.hdf5';
const haveKapre = existsSync(KAPRE_WEIGHTS);
if (!haveKapre) console.warn(`dsp-mel: ${KAPRE_WEIGHTS} is absent, so the comparison with kapre's stored filterbank is skipped`);

/** Plain float64 reference, written the way librosa writes it: ramps between mel points. */
function referenceFilterbank(sr: number, nFft: number, bands: number, fMin: number, fMax: number, htk: boolean, slaney: boolean): number[][] {
  const toMel = (f: number): number => {
    if (htk) return 2595 * Math.log10(1 + f / 700);
    return f < 1000 ? (3 * f) / 200 : 15 + (27 * Math.log(f / 1000)) / Math.log(6.4);
  };
  const toHz = (m: number): number => {
    if (htk) return 700 * (Math.pow(10, m / 2595) - 1);
    return m < 15 ? (200 * m) / 3 : 1000 * Math.pow(6.4, (m - 15) / 27);
  };
  const points: number[] = [];
  for (let i = 0; i < bands + 2; i++) points.push(toHz(toMel(fMin) + (i * (toMel(fMax) - toMel(fMin))) / (bands + 1)));
  const rows: number[][] = [];
  for (let m = 0; m < bands; m++) {
    const row: number[] = [];
    for (let k = 0; k <= nFft / 2; k++) {
      const f = (k * sr) / nFft;
      let w = 0;
      if (f > points[m] && f <= points[m + 1]) w = (f - points[m]) / (points[m + 1] - points[m]);
      else if (f > points[m + 1] && f < points[m + 2]) w = (points[m + 2] - f) / (points[m + 2] - points[m + 1]);
      row.push(slaney ? (w * 2) / (points[m + 2] - points[m]) : w);
    }
    rows.push(row);
  }
  return rows;
}

describe('mel scales', () => {
  it('Slaney is linear below 1 kHz and logarithmic above; HTK follows 2595 log10(1 + f / 700)', () => {
    expect(hzToMel(1000, false)).toBeCloseTo(15, 12);
    expect(hzToMel(200 / 3, false)).toBeCloseTo(1, 12);
    expect(hzToMel(6400, false)).toBeCloseTo(15 + 27, 10);
    expect(hzToMel(700, true)).toBeCloseTo(2595 * Math.log10(2), 10);
    for (const htk of [false, true]) for (const f of [0, 10, 440, 999, 1000, 1001, 5999, 22050]) expect(melToHz(hzToMel(f, htk), htk)).toBeCloseTo(f, 8);
  });
});

describe('melFilterbank', () => {
  const cases = [
    { sr: 12000, nFft: 512, bands: 96, fMin: 0, fMax: 6000 },
    { sr: 22050, nFft: 1024, bands: 40, fMin: 50, fMax: 8000 },
    { sr: 11025, nFft: 256, bands: 20, fMin: 300, fMax: 5512.5 },
  ];
  for (const c of cases) {
    for (const htk of [false, true]) {
      for (const norm of ['slaney', null] as const) {
        it(`matches a float64 plain-loop reference (${c.sr} Hz, nFft ${c.nFft}, ${c.bands} bands, ${htk ? 'HTK' : 'Slaney'} scale, norm ${norm})`, () => {
          const fb = melFilterbank(c.sr, c.nFft, c.bands, c.fMin, c.fMax, htk, norm);
          const bins = c.nFft / 2 + 1;
          expect(fb.length).toBe(c.bands * bins);
          const ref = referenceFilterbank(c.sr, c.nFft, c.bands, c.fMin, c.fMax, htk, norm === 'slaney');
          let worst = 0, peak = 0;
          for (let m = 0; m < c.bands; m++) {
            for (let k = 0; k < bins; k++) {
              worst = Math.max(worst, Math.abs(fb[m * bins + k] - ref[m][k]));
              peak = Math.max(peak, ref[m][k]);
            }
          }
          // float32 storage: relative 2^-24 of the largest weight, plus a little.
          expect(worst).toBeLessThanOrEqual(peak * 1e-7);
        });
      }
    }
  }

  it('without norm, the triangles sum to 1 between the first and last band centres and to 0 outside fMin..fMax', () => {
    const sr = 16000, nFft = 1024, bands = 30, fMin = 100, fMax = 7000;
    const fb = melFilterbank(sr, nFft, bands, fMin, fMax, false, null);
    const bins = nFft / 2 + 1;
    const firstCentre = melToHz(hzToMel(fMin, false) + (hzToMel(fMax, false) - hzToMel(fMin, false)) / (bands + 1), false);
    const lastCentre = melToHz(hzToMel(fMin, false) + (bands * (hzToMel(fMax, false) - hzToMel(fMin, false))) / (bands + 1), false);
    let inside = 0;
    for (let k = 0; k < bins; k++) {
      const f = (k * sr) / nFft;
      let s = 0;
      for (let m = 0; m < bands; m++) {
        const w = fb[m * bins + k];
        expect(w).toBeGreaterThanOrEqual(0);
        expect(w).toBeLessThanOrEqual(1);
        s += w;
      }
      if (f >= firstCentre && f <= lastCentre) {
        expect(s).toBeCloseTo(1, 6);
        inside++;
      }
      if (f <= fMin || f >= fMax) expect(s).toBe(0);
    }
    expect(inside).toBeGreaterThan(300);
  });

  it("with norm 'slaney', each band wide enough to sample has unit area (sum of weights x bin width)", () => {
    const sr = 12000, nFft = 512, bands = 96;
    const fb = melFilterbank(sr, nFft, bands, 0, 6000, false, 'slaney');
    const bins = nFft / 2 + 1, df = sr / nFft;
    let checked = 0;
    for (let m = 0; m < bands; m++) {
      let s = 0, nonzero = 0;
      for (let k = 0; k < bins; k++) {
        s += fb[m * bins + k];
        if (fb[m * bins + k] > 0) nonzero++;
      }
      if (nonzero >= 6) {
        expect(s * df).toBeCloseTo(1, 1);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  it('rejects parameters it cannot honour', () => {
    expect(() => melFilterbank(12000, 511, 96, 0, 6000, false, 'slaney')).toThrow(/even nFft/);
    expect(() => melFilterbank(12000, 512, 0, 0, 6000, false, 'slaney')).toThrow(/bands/);
    expect(() => melFilterbank(12000, 512, 96, 6000, 6000, false, 'slaney')).toThrow(/fMinHz < fMaxHz/);
  });

  it.skipIf(!haveKapre)(`reproduces the filterbank stored in Choi's compact_cnn weights (skipped when ${KAPRE_WEIGHTS} is absent)`, async () => {
    const h5wasm = (await import('h5wasm/node')).default;
    await h5wasm.ready;
    const file = new h5wasm.File(KAPRE_WEIGHTS, 'r');
    try {
      const ds = file.get('melgram/param_2');
      if (!(ds instanceof h5wasm.Dataset)) throw new Error('melgram/param_2: expected a dataset');
      expect(ds.shape).toEqual([257, 96]);
      const stored = ds.value as Float32Array; // bins x bands, row-major
      const fb = melFilterbank(12000, 512, 96, 0, 6000, false, 'slaney');
      let worst = 0;
      for (let k = 0; k < 257; k++) for (let m = 0; m < 96; m++) worst = Math.max(worst, Math.abs(stored[k * 96 + m] - fb[m * 257 + k]));
      expect(worst).toBeLessThan(1e-8);
    } finally {
      file.close();
    }
  });
});
