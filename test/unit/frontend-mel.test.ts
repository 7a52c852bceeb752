import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auralise, parseAuraliseArgs } from '../../src/cli/auralise';
import { explain, parseExplainArgs } from '../../src/cli/explain';
import { encodeWav } from '../../src/dsp/wav';
import { Analyzer } from '../../src/model/analyzer';
import { loadModelFromDir } from '../../src/model/node-io';
import { melFilterbank } from '../../src/dsp/mel';
import { fitClipToFrames, inputBins, melBank, networkInput, padClip, projectionToStft, samplesForFrames, stftBins } from '../../src/model/frontend';
import { decibels, scaleMagnitudes } from '../../src/model/input';
import { validateManifest } from '../../src/model/manifest';
import type { FrontEnd } from '../../src/shared/manifest';
import { FIXTURE_A, makeFixture, mulberry32, writeFixture } from '../fixtures/fixture-net/make';

/** compact_cnn's front end (kapre): 12 kHz, 96 Slaney bands 0..6 kHz, power, dB against the window's maximum. */
const KAPRE: FrontEnd = {
  sampleRateHz: 12000, nFft: 512, hopSamples: 256, window: 'hann',
  frequency: { kind: 'mel', bands: 96, fMinHz: 0, fMaxHz: 6000, htk: false, norm: 'slaney' },
  scaling: { kind: 'db', power: true, amin: 1e-10, topDb: 80, reference: 'max' },
  padding: 'same',
};
/** MusicTaggerCNN's front end (librosa): power mel squared again, logamplitude with ref_power 1. */
const LIBROSA: FrontEnd = {
  ...KAPRE,
  scaling: { kind: 'db', power: true, amin: 1e-10, topDb: 80, reference: 'one', exponent: 2 },
  padding: 'center-reflect',
};
const STFT: FrontEnd = {
  sampleRateHz: 11025, nFft: 512, hopSamples: 256, window: 'hann', frequency: { kind: 'stft' }, scaling: { kind: 'log1p', c: 100 },
};

/** Seeded sparse-ish magnitudes, frame-major frames x bins. */
function magnitudes(frames: number, bins: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  const m = new Float32Array(frames * bins);
  for (let i = 0; i < m.length; i++) m[i] = 30 * r() ** 4;
  return m;
}

/** Plain-loop reference of the whole front end: dense filterbank sum, exponent, dB, reference, floor. */
function referenceInput(mag: Float32Array, frames: number, fe: FrontEnd): number[] {
  if (fe.frequency.kind !== 'mel' || fe.scaling.kind !== 'db') throw new Error('reference: mel + db only');
  const f = fe.frequency, s = fe.scaling;
  const bins = fe.nFft / 2 + 1;
  const fb = melFilterbank(fe.sampleRateHz, fe.nFft, f.bands, f.fMinHz, f.fMaxHz, f.htk, f.norm);
  const db: number[] = [];
  for (let t = 0; t < frames; t++) {
    for (let m = 0; m < f.bands; m++) {
      let e = 0;
      for (let k = 0; k < bins; k++) e += fb[m * bins + k] * (s.power ? mag[t * bins + k] ** 2 : mag[t * bins + k]);
      db.push(10 * Math.log10(Math.max(Math.pow(e, s.exponent ?? 1), s.amin)));
    }
  }
  const top = Math.max(...db);
  return db.map((x) => ((s.reference ?? 'max') === 'max' ? Math.max(x - top, -s.topDb) : Math.max(x, top - s.topDb)));
}

describe('decibels', () => {
  const e = Float64Array.from([1, 10, 100, 1e-12, 0]);
  it("reference 'max' (kapre): relative to the window's maximum, floored at -topDb", () => {
    expect(Array.from(decibels(e, { kind: 'db', power: true, amin: 1e-10, topDb: 80 }))).toEqual([-20, -10, 0, -80, -80]);
    expect(Array.from(decibels(e, { kind: 'db', power: true, amin: 1e-10, topDb: 200, reference: 'max' }))).toEqual([-20, -10, 0, -120, -120]);
  });
  it("reference 'one' (librosa ref_power 1): absolute dB, floored at max - topDb; amin floors first", () => {
    expect(Array.from(decibels(e, { kind: 'db', power: true, amin: 1e-10, topDb: 80, reference: 'one' }))).toEqual([0, 10, 20, -60, -60]);
    expect(Array.from(decibels(e, { kind: 'db', power: true, amin: 1e-10, topDb: 200, reference: 'one' }))).toEqual([0, 10, 20, -100, -100]);
  });
  it('exponent 2 doubles the dB before the floor', () => {
    expect(Array.from(decibels(e, { kind: 'db', power: true, amin: 1e-10, topDb: 80, reference: 'one', exponent: 2 }))).toEqual([0, 20, 40, -40, -40]);
    expect(Array.from(decibels(e, { kind: 'db', power: true, amin: 1e-10, topDb: 30, exponent: 2 }))).toEqual([-30, -20, 0, -30, -30]);
  });
  it('db on STFT magnitudes squares them when power is set', () => {
    const mag = Float32Array.from([1, Math.sqrt(10), 10]);
    expect(Array.from(scaleMagnitudes(mag, { kind: 'db', power: true, amin: 1e-10, topDb: 80 })).map((v) => Math.round(v * 1e4) / 1e4)).toEqual([-20, -10, 0]);
    expect(Array.from(scaleMagnitudes(mag, { kind: 'db', power: false, amin: 1e-10, topDb: 80 })).map((v) => Math.round(v * 1e4) / 1e4)).toEqual([-10, -5, 0]);
  });
});

describe('networkInput', () => {
  it('STFT front ends: log1p(c |X|) per bin, as before', () => {
    const frames = 7, bins = stftBins(STFT);
    const mag = magnitudes(frames, bins, 3);
    const x = networkInput(mag, frames, STFT);
    expect(x.length).toBe(frames * bins);
    for (let i = 0; i < mag.length; i++) expect(x[i]).toBe(Math.fround(Math.log1p(100 * mag[i])));
    expect(inputBins(STFT)).toBe(257);
  });

  for (const [name, fe] of [['kapre (reference max)', KAPRE], ['librosa (reference one, exponent 2)', LIBROSA]] as const) {
    it(`mel ${name}: matches a dense plain-loop reference`, () => {
      const frames = 23, bins = stftBins(fe);
      const mag = magnitudes(frames, bins, 11);
      const x = networkInput(mag, frames, fe);
      expect(inputBins(fe)).toBe(96);
      expect(x.length).toBe(frames * 96);
      const ref = referenceInput(mag, frames, fe);
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(x[i] - ref[i]));
      expect(worst).toBeLessThan(1e-4);
      // The floor is reached somewhere (sparse magnitudes) and the top is exactly 0 (max) or above it (one).
      const lo = Math.min(...x), hi = Math.max(...x);
      expect(hi - lo).toBeCloseTo(80, 3);
      if (fe.scaling.kind === 'db' && fe.scaling.reference === 'one') expect(hi).toBeGreaterThan(0);
      else expect(hi).toBe(0);
    });
  }

  it('mel without power sums |X|, and rejects a wrong magnitude count', () => {
    const fe: FrontEnd = { ...KAPRE, scaling: { kind: 'db', power: false, amin: 1e-10, topDb: 120 } };
    const frames = 5, bins = stftBins(fe);
    const mag = magnitudes(frames, bins, 5);
    const ref = referenceInput(mag, frames, fe);
    const x = networkInput(mag, frames, fe);
    for (let i = 0; i < ref.length; i++) expect(x[i]).toBeCloseTo(ref[i], 4);
    expect(() => networkInput(mag.subarray(1), frames, fe)).toThrow(/expected 5 x 257/);
  });
});

describe('projectionToStft (normalised transpose)', () => {
  const fe: FrontEnd = { ...KAPRE, frequency: { kind: 'mel', bands: 40, fMinHz: 200, fMaxHz: 5000, htk: true, norm: 'slaney' } };
  const bins = stftBins(fe), bands = 40;
  const hz = (k: number): number => (k * fe.sampleRateHz) / fe.nFft;

  it('STFT front ends pass the projection through', () => {
    const p = magnitudes(3, 257, 1);
    expect(projectionToStft(p, 3, STFT)).toBe(p);
  });

  it('matches a plain-loop reference, and a constant mel mask gives that constant on every bin inside fMin..fMax and 0 outside', () => {
    const frames = 4;
    const r = mulberry32(9);
    const p = new Float32Array(frames * bands);
    for (let i = 0; i < p.length; i++) p[i] = 2 * r() - 1;
    for (let m = 0; m < bands; m++) p[2 * bands + m] = 0.75; // frame 2: constant
    const out = projectionToStft(p, frames, fe);
    expect(out.length).toBe(frames * bins);
    const f = fe.frequency;
    if (f.kind !== 'mel') throw new Error('mel expected');
    const fb = melFilterbank(fe.sampleRateHz, fe.nFft, bands, f.fMinHz, f.fMaxHz, f.htk, f.norm);
    let worst = 0;
    for (let t = 0; t < frames; t++) {
      for (let k = 0; k < bins; k++) {
        let num = 0, den = 0;
        for (let m = 0; m < bands; m++) {
          num += fb[m * bins + k] * p[t * bands + m];
          den += fb[m * bins + k];
        }
        worst = Math.max(worst, Math.abs(out[t * bins + k] - (den > 0 ? num / den : 0)));
      }
    }
    expect(worst).toBeLessThan(1e-6);
    for (let k = 0; k < bins; k++) {
      const v = out[2 * bins + k];
      if (hz(k) > 200 && hz(k) < 5000) expect(v).toBeCloseTo(0.75, 6);
      else expect(v).toBe(0);
    }
  });

  it('keeps a non-negative mask non-negative and within the range of the bands over each bin', () => {
    const frames = 6;
    const r = mulberry32(21);
    const p = new Float32Array(frames * bands);
    for (let i = 0; i < p.length; i++) p[i] = r() < 0.5 ? 0 : r();
    const out = projectionToStft(p, frames, fe);
    let maxIn = 0;
    for (const v of p) maxIn = Math.max(maxIn, v);
    for (const v of out) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(maxIn + 1e-6);
    }
  });

  it('is local: one band lights only the bins under its triangle', () => {
    const bank = melBank(fe);
    if (!bank) throw new Error('mel bank expected');
    const m = 17;
    const p = new Float32Array(bands);
    p[m] = 1;
    const out = projectionToStft(p, 1, fe);
    for (let k = 0; k < bins; k++) {
      if (k < bank.first[m] || k >= bank.end[m]) expect(out[k]).toBe(0);
      else expect(out[k]).toBeGreaterThan(0);
    }
    expect(bank.end[m] - bank.first[m]).toBeGreaterThan(1);
    expect(bank.end[m] - bank.first[m]).toBeLessThan(bins / 4);
  });
});

describe('padClip (offline framing)', () => {
  function clip(length: number, seed: number): Float32Array {
    const r = mulberry32(seed);
    const x = new Float32Array(length);
    for (let i = 0; i < length; i++) x[i] = 2 * r() - 1;
    return x;
  }
  /** Counts samples where padded frame t differs from the reference sample for original index t hop + j - left. */
  function mismatches(padded: Float32Array, frames: number, fe: FrontEnd, ref: (i: number) => number, left: number): number {
    let bad = 0;
    for (let t = 0; t < frames; t++) for (let j = 0; j < fe.nFft; j++) if (padded[t * fe.hopSamples + j] !== ref(t * fe.hopSamples + j - left)) bad++;
    return bad;
  }

  it("'same' (kapre): 348000 samples -> 1360 frames with 208 zeros on the left", () => {
    const x = clip(348000, 1);
    const p = padClip(x, KAPRE);
    expect(p.frames).toBe(1360);
    expect(p.leftPadSamples).toBe(208);
    expect(p.signal.length).toBe(1359 * 256 + 512);
    expect(mismatches(p.signal, p.frames, KAPRE, (i) => (i >= 0 && i < x.length ? x[i] : 0), 208)).toBe(0);
  });

  it("'same' with a whole number of hops and with a clip shorter than nFft", () => {
    const a = padClip(clip(2560, 2), KAPRE);
    expect([a.frames, a.leftPadSamples, a.signal.length]).toEqual([10, 128, 9 * 256 + 512]);
    const b = padClip(clip(300, 3), KAPRE);
    expect([b.frames, b.leftPadSamples]).toEqual([2, Math.floor((256 + 512 - 300) / 2)]);
  });

  it("'center-reflect' (librosa): 349440 samples -> 1366 frames, nFft / 2 reflected samples each side", () => {
    const x = clip(349440, 4);
    const p = padClip(x, LIBROSA);
    expect(p.frames).toBe(1366);
    expect(p.leftPadSamples).toBe(256);
    const L = x.length;
    const reflect = (i: number): number => x[i < 0 ? -i : i >= L ? 2 * (L - 1) - i : i];
    expect(mismatches(p.signal, p.frames, LIBROSA, reflect, 256)).toBe(0);
    expect(() => padClip(clip(256, 5), LIBROSA)).toThrow(/more than nFft \/ 2/);
  });

  it("'none' (default): the clip as it is, floor((L - nFft) / hop) + 1 frames", () => {
    const x = clip(5000, 6);
    const p = padClip(x, STFT);
    expect(p.signal).toBe(x);
    expect([p.frames, p.leftPadSamples]).toEqual([Math.floor((5000 - 512) / 256) + 1, 0]);
    expect(padClip(clip(100, 7), STFT).frames).toBe(0);
  });
});

describe('manifest validation of the mel and dB fields', () => {
  const base = JSON.parse(readFileSync('models/auralscope-cnn16/manifest.json', 'utf8')) as { frontEnd: Record<string, unknown>; inputShape: number[] };
  const withFrontEnd = (fe: Record<string, unknown>, bins = 96): unknown => ({ ...base, frontEnd: { ...base.frontEnd, ...fe }, inputShape: [bins, base.inputShape[1], 1] });
  const mel = { sampleRateHz: 12000, nFft: 512, hopSamples: 256, frequency: { kind: 'mel', bands: 96, fMinHz: 0, fMaxHz: 6000, htk: false, norm: 'slaney' } };

  it('accepts the kapre and librosa front ends and keeps their fields', () => {
    const a = validateManifest(withFrontEnd({ ...mel, scaling: KAPRE.scaling, padding: 'same' }));
    expect(a.frontEnd.padding).toBe('same');
    expect(a.frontEnd.scaling).toEqual(KAPRE.scaling);
    const b = validateManifest(withFrontEnd({ ...mel, scaling: LIBROSA.scaling, padding: 'center-reflect' }));
    expect(b.frontEnd.scaling).toEqual(LIBROSA.scaling);
    expect(b.frontEnd.padding).toBe('center-reflect');
    const c = validateManifest(base);
    expect(c.frontEnd.padding).toBeUndefined();
  });

  it('rejects a bad padding, reference or exponent with "expected X, got Y"', () => {
    const db = { kind: 'db', power: true, amin: 1e-10, topDb: 80 };
    expect(() => validateManifest(withFrontEnd({ ...mel, scaling: db, padding: 'valid' }))).toThrow("manifest.frontEnd.padding: expected one of 'none', 'same', 'center-reflect', got \"valid\"");
    expect(() => validateManifest(withFrontEnd({ ...mel, scaling: { ...db, reference: 'peak' } }))).toThrow("manifest.frontEnd.scaling.reference: expected one of 'max', 'one', got \"peak\"");
    expect(() => validateManifest(withFrontEnd({ ...mel, scaling: { ...db, exponent: 0 } }))).toThrow('manifest.frontEnd.scaling.exponent: expected a positive finite number, got 0');
  });
});

describe('fitClipToFrames (fixed-frames nets, as Choi fitted clips)', () => {
  it('gives the shortest clip that frames into exactly N frames, for each padding', () => {
    for (const fe of [KAPRE, LIBROSA, STFT]) {
      for (const frames of fe.padding === 'center-reflect' ? [2, 7, 1366] : [1, 2, 7, 1366]) {
        const need = samplesForFrames(frames, fe);
        expect(padClip(new Float32Array(need), fe).frames).toBe(frames);
        if (need > fe.nFft / 2 + 1) expect(padClip(new Float32Array(need - 1), fe).frames).toBe(frames - 1);
      }
    }
    expect(samplesForFrames(1366, LIBROSA)).toBe(349440); // 29.12 s at 12 kHz
    expect(() => samplesForFrames(1, LIBROSA)).toThrow(/at least 2 frames, got 1/);
  });

  it('zero-pads a short clip at the end and cuts a long one to its middle', () => {
    const x = Float32Array.from({ length: 348000 }, (_, i) => (i % 97) / 97);
    const short = fitClipToFrames(x, 1366, LIBROSA);
    expect([short.signal.length, short.startSample]).toEqual([349440, 0]);
    expect(Array.from(short.signal.subarray(0, 348000))).toEqual(Array.from(x));
    expect(short.signal.subarray(348000).every((v) => v === 0)).toBe(true);
    const long = fitClipToFrames(x, 1000, LIBROSA);
    const start = Math.floor((348000 - 999 * 256) / 2);
    expect([long.signal.length, long.startSample]).toEqual([999 * 256, start]);
    expect(long.signal[0]).toBe(x[start]);
    expect(long.signal[long.signal.length - 1]).toBe(x[start + 999 * 256 - 1]);
  });
});

describe('explain and auralise on a mel fixture network', () => {
  const RATE = 8000, N_FFT = 32, HOP = 16, BANDS = 12, F_MAX = 3000;
  const fe: FrontEnd = {
    sampleRateHz: RATE, nFft: N_FFT, hopSamples: HOP, window: 'hann',
    frequency: { kind: 'mel', bands: BANDS, fMinHz: 0, fMaxHz: F_MAX, htk: false, norm: 'slaney' },
    scaling: { kind: 'db', power: true, amin: 1e-10, topDb: 80, reference: 'max' },
    padding: 'same',
  };
  let dir = '', modelDir = '', wav = '';
  let x = new Float32Array(0);

  beforeAll(async () => {
    await tf.setBackend('cpu');
    dir = await mkdtemp(join(tmpdir(), 'auralscope-mel-'));
    modelDir = join(dir, 'model');
    const fixture = await makeFixture({ ...FIXTURE_A, id: 'fixture-mel', bins: BANDS, windowFrames: 48 });
    fixture.manifest.frontEnd = fe;
    await writeFixture(fixture, modelDir);
    const r = mulberry32(8);
    x = Float32Array.from({ length: 1000 }, (_, i) => 0.4 * Math.sin((2 * Math.PI * 900 * i) / RATE) * (1 + Math.sin(i / 90)) + 0.1 * (r() - 0.5));
    wav = join(dir, 'a.wav');
    await writeFile(wav, encodeWav([x], RATE, 'float32'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("--whole: 'same' framing, mel dB input as a plain loop computes it, the map is the normalised transpose of the mel projection", async () => {
    const out = await explain(parseExplainArgs([wav, '--layer', '2', '--feature', '1', '--method', 'deconvnet', '--model', modelDir, '--whole', '--out', join(dir, 'o.json'), '--backend', 'cpu']));
    const frames = Math.ceil(1000 / HOP), bins = N_FFT / 2 + 1;
    const left = Math.floor(((frames - 1) * HOP + N_FFT - 1000) / 2);
    expect([out.frames, out.bins, out.inputBins, out.leftPadSamples]).toEqual([frames, bins, BANDS, left]);
    // Spectrogram: plain DFT of the zero-padded frames.
    let worstSpec = 0;
    for (const t of [0, 1, Math.floor(frames / 2), frames - 1]) {
      for (let k = 0; k < bins; k++) {
        let re = 0, im = 0;
        for (let i = 0; i < N_FFT; i++) {
          const j = t * HOP + i - left;
          const v = j >= 0 && j < x.length ? x[j] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N_FFT)) : 0;
          re += v * Math.cos((2 * Math.PI * k * i) / N_FFT);
          im -= v * Math.sin((2 * Math.PI * k * i) / N_FFT);
        }
        worstSpec = Math.max(worstSpec, Math.abs(out.spectrogram[t][k] - Math.hypot(re, im)));
      }
    }
    expect(worstSpec).toBeLessThan(1e-4);
    // Input: the dense plain-loop mel dB of that spectrogram.
    const mag = Float32Array.from(out.spectrogram.flat());
    const ref = referenceInput(mag, frames, fe);
    const input = out.input.flat();
    expect(input.length).toBe(frames * BANDS);
    let worstIn = 0;
    for (let i = 0; i < ref.length; i++) worstIn = Math.max(worstIn, Math.abs(input[i] - ref[i]));
    expect(worstIn).toBeLessThan(1e-3);
    // Map: the analyzer's mel projection of that input, mapped back by a plain-loop normalised transpose.
    const model = await loadModelFromDir(modelDir);
    const analyzer = new Analyzer(model);
    try {
      const xt = tf.tidy(() => tf.reshape(tf.transpose(tf.tensor2d(Float32Array.from(input), [frames, BANDS])), [1, BANDS, frames, 1])) as tf.Tensor4D;
      const res = await analyzer.analyse(xt, { layer: 1, feature: 1, method: 'deconvnet' });
      xt.dispose();
      const fb = melFilterbank(RATE, N_FFT, BANDS, 0, F_MAX, false, 'slaney');
      let worstMap = 0, peak = 0;
      for (let t = 0; t < frames; t++) {
        for (let k = 0; k < bins; k++) {
          let num = 0, den = 0;
          for (let m = 0; m < BANDS; m++) {
            num += fb[m * bins + k] * res.projection[t * BANDS + m];
            den += fb[m * bins + k];
          }
          const want = den > 0 ? num / den : 0;
          worstMap = Math.max(worstMap, Math.abs(out.map[t][k] - want));
          peak = Math.max(peak, Math.abs(want));
          if ((k * RATE) / N_FFT >= F_MAX) expect(out.map[t][k]).toBe(0);
        }
      }
      expect(peak).toBeGreaterThan(0);
      expect(worstMap).toBeLessThanOrEqual(1e-4 * peak);
    } finally {
      analyzer.dispose();
      model.dispose();
    }
  });

  it('the live rule frames like the engine (no padding) and auralise writes a clip-long signal', async () => {
    const live = await explain(parseExplainArgs([wav, '--layer', '1', '--feature', '0', '--method', 'deconvnet', '--model', modelDir, '--out', join(dir, 'l.json'), '--backend', 'cpu']));
    expect([live.frames, live.leftPadSamples, live.map[0].length, live.input[0].length]).toEqual([Math.floor((1000 - N_FFT) / HOP) + 1, 0, N_FFT / 2 + 1, BANDS]);
    for (const whole of [false, true]) {
      const args = [wav, '--layer', '2', '--feature', '1', '--model', modelDir, '--out', join(dir, `a${whole ? 'w' : 'l'}.wav`)];
      const res = await auralise(parseAuraliseArgs(whole ? [...args, '--whole'] : args));
      expect(res.samples.length).toBe(1000);
      expect(res.samples.every(Number.isFinite)).toBe(true);
      let e = 0;
      for (const v of res.samples) e += v * v;
      expect(e).toBeGreaterThan(0);
      if (whole) expect(res.frames).toBe(Math.ceil(1000 / HOP));
    }
  });
});
