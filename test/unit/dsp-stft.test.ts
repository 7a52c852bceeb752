import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { istft, IstftSynth, overlapAddInverseNorm } from '../../src/dsp/istft';
import { snrDb } from '../../src/dsp/level';
import { stft, StftAnalyzer, stftFrameCount, type StftConfig } from '../../src/dsp/stft';
import { hannPeriodic } from '../../src/dsp/window';
import { mulberry32 } from '../fixtures/fixture-net/make';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
const rng = mulberry32;

function noise(length: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(length);
  for (let i = 0; i < length; i++) x[i] = 2 * r() - 1;
  return x;
}

/** Runs analyzer -> synth streaming with random chunk sizes; returns the concatenated synth output. */
function streamRoundTrip(x: Float32Array, cfg: StftConfig, seed: number): Float32Array {
  const analyzer = new StftAnalyzer(cfg);
  const synth = new IstftSynth(cfg);
  const out = new Float32Array(x.length);
  const block = new Float32Array(cfg.hopSamples);
  let written = 0;
  const r = rng(seed);
  for (let i = 0; i < x.length; ) {
    const n = 1 + Math.floor(r() * 3 * cfg.nFft);
    analyzer.push(x.subarray(i, i + n), (re, im) => {
      synth.pushFrame(re, im, block);
      out.set(block, written);
      written += cfg.hopSamples;
    });
    i += n;
  }
  expect(written).toBe(stftFrameCount(x.length, cfg) * cfg.hopSamples);
  return out.subarray(0, written);
}

/** SNR over [from, to) of test against reference. */
function interiorSnr(reference: Float32Array, test: Float32Array, from: number, to: number): number {
  return snrDb(reference.subarray(from, to), test.subarray(from, to));
}

describe('hannPeriodic', () => {
  it('matches 0.5 - 0.5 cos(2 pi i / n) and is periodic (w[0] = 0, symmetric about n / 2)', () => {
    const n = 512;
    const w = hannPeriodic(n);
    for (let i = 0; i < n; i++) expect(w[i]).toBeCloseTo(0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n), 6);
    expect(w[0]).toBe(0);
    expect(w[n / 2]).toBe(1);
    for (let i = 1; i < n / 2; i++) expect(w[i]).toBeCloseTo(w[n - i], 6);
  });
});

describe('STFT against a float64 plain-loop DFT', () => {
  it.each([
    [16, 4],
    [512, 128],
    [256, 100],
  ])('nFft %i, hop %i: re, im and |X| of every frame', (nFft, hop) => {
    const x = noise(nFft * 4 + 37, nFft + hop);
    const { re, im, mag } = stft(x, { nFft, hopSamples: hop });
    expect(re.length).toBe(Math.floor((x.length - nFft) / hop) + 1);
    let worst = 0;
    let scale = 0;
    for (let t = 0; t < re.length; t++) {
      for (let k = 0; k <= nFft / 2; k++) {
        let sr = 0;
        let si = 0;
        for (let i = 0; i < nFft; i++) {
          const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / nFft);
          const v = w * x[t * hop + i];
          sr += v * Math.cos((2 * Math.PI * k * i) / nFft);
          si -= v * Math.sin((2 * Math.PI * k * i) / nFft);
        }
        scale = Math.max(scale, Math.hypot(sr, si));
        worst = Math.max(worst, Math.abs(re[t][k] - sr), Math.abs(im[t][k] - si), Math.abs(mag[t][k] - Math.hypot(sr, si)));
      }
    }
    expect(worst / scale).toBeLessThan(1e-5);
  });
});

describe('overlap-add normaliser', () => {
  it.each([
    [512, 256],
    [512, 128],
    [512, 100],
    [64, 1],
  ])('nFft %i, hop %i: equals the sum of w^2 over the frames covering each interior sample', (nFft, hop) => {
    const w = hannPeriodic(nFft);
    const inv = overlapAddInverseNorm(w, hop);
    // Independent computation: walk the frames t that cover sample j in the middle of a long signal.
    for (let j = 10 * nFft; j < 10 * nFft + 2 * hop; j++) {
      let sum = 0;
      for (let t = 0; t * hop <= j; t++) {
        const i = j - t * hop;
        if (i < nFft) sum += (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / nFft)) ** 2;
      }
      expect(1 / inv[j % hop]).toBeCloseTo(sum, 5);
    }
  });

  it('is the constant 3 nFft / (8 hop) when hop divides nFft / 4 (the Hann^2 COLA case)', () => {
    const inv = overlapAddInverseNorm(hannPeriodic(512), 64);
    for (const v of inv) expect(1 / v).toBeCloseTo(3, 5);
  });

  it('rejects a hop whose squared windows leave gaps', () => {
    expect(() => new IstftSynth({ nFft: 512, hopSamples: 512 })).toThrow(/expected a hop/);
  });
});

describe('STFT -> ISTFT identity (float32)', () => {
  const x = noise(11025 * 2, 7);
  it.each([
    [512, 128],
    [512, 256],
    [512, 100],
    [1024, 441],
  ])('nFft %i, hop %i: streaming and offline >= 80 dB SNR away from the edges', (nFft, hop) => {
    const cfg = { nFft, hopSamples: hop };
    const streamed = streamRoundTrip(x, cfg, nFft * 31 + hop);
    const spec = stft(x, cfg);
    const offline = istft(spec.re, spec.im, cfg);
    const from = nFft - hop;
    const to = streamed.length;
    const snrStream = interiorSnr(x, streamed, from, to);
    const snrOffline = interiorSnr(x, offline, from, (spec.re.length - 1) * hop + hop);
    expect(snrStream).toBeGreaterThan(80);
    expect(snrOffline).toBeGreaterThan(80);
    // Streaming and offline are the same computation.
    expect(interiorSnr(offline, streamed, from, to)).toBeGreaterThan(120);
    console.log(`stft->istft nFft ${nFft} hop ${hop}: SNR streaming ${snrStream.toFixed(1)} dB, offline ${snrOffline.toFixed(1)} dB`);
  });

  it('a hop-blocked loop plays the input delayed by latencySamples = nFft - hop', () => {
    const cfg = { nFft: 512, hopSamples: 128 };
    const analyzer = new StftAnalyzer(cfg);
    const synth = new IstftSynth(cfg);
    const played = new Float32Array(x.length);
    const block = new Float32Array(cfg.hopSamples);
    for (let i = 0; i + cfg.hopSamples <= x.length; i += cfg.hopSamples) {
      analyzer.push(x.subarray(i, i + cfg.hopSamples), (re, im) => {
        synth.pushFrame(re, im, block);
        played.set(block, i); // this hop's output slot; silence until the first frame
      });
    }
    const d = synth.latencySamples;
    expect(d).toBe(384);
    expect(played.subarray(0, d).every((v) => v === 0)).toBe(true);
    const end = x.length - cfg.hopSamples;
    expect(snrDb(x.subarray(d, end - d), played.subarray(2 * d, end))).toBeGreaterThan(80);
  });

  it('reset() restarts both ends at frame 0', () => {
    const cfg = { nFft: 64, hopSamples: 16 };
    const a = new StftAnalyzer(cfg);
    const frames: Float32Array[] = [];
    a.push(noise(100, 1), () => undefined);
    a.reset();
    a.push(x.subarray(0, 200), (_re, _im, mag) => frames.push(Float32Array.from(mag)));
    const ref = stft(x.subarray(0, 200), cfg).mag;
    expect(frames).toEqual(ref);
  });

  it('property: random signals, nFft and hop <= nFft / 2 round-trip at >= 80 dB', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 9 }),
        fc.double({ min: 0.01, max: 0.5, noNaN: true }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 2000 }),
        (log2n, hopFraction, seed, extra) => {
          const nFft = 2 ** log2n;
          const hop = Math.max(1, Math.floor(hopFraction * nFft));
          const cfg = { nFft, hopSamples: hop };
          const sig = noise(3 * nFft + extra, seed);
          const y = streamRoundTrip(sig, cfg, seed ^ 0x5bd1e995);
          if (y.length <= 2 * (nFft - hop)) return; // too short to have an interior
          expect(interiorSnr(sig, y, nFft - hop, y.length)).toBeGreaterThan(80);
        },
      ),
      { seed: 20240611, numRuns: 200 },
    );
  });
});
