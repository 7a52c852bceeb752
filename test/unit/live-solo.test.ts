/**
 * The live synthesis path in Node (the worker's pipeline without threads): a mask of ones gives the
 * input back after the reported delay with resampling in the loop; switches are crossfades; silence
 * and broken masks give silence, never NaN.
 */
import { describe, expect, it } from 'vitest';
import { LivePipeline } from '../../src/worker/pipeline';
import type { EngineConfig } from '../../src/shared/api';
import { snrDb } from '../../src/dsp/level';

// 44.1 kHz keeps the synthesis delay a whole number of device samples (4 per analysis sample);
// at 48 kHz the reported delay is rounded to the nearest sample.
const RATE = 44_100;
const CONFIG: EngineConfig = {
  contextSampleRateHz: RATE, analysisSampleRateHz: 11_025, nFft: 512, hopSamples: 256, hopGroupFrames: 2,
  historyFrames: 173, wetStartQuanta: 0, pageUrl: '',
};
const BINS = 257;

/** Seeded multitone below 0.45 x 11,025 Hz. */
function multitone(seconds: number, seed = 3): Float32Array {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  const n = Math.round(seconds * RATE);
  const x = new Float32Array(n);
  for (let j = 0; j < 20; j++) {
    const w = (2 * Math.PI * (150 + rand() * 4500)) / RATE, ph = rand() * 6.28;
    for (let i = 0; i < n; i++) x[i] += 0.02 * Math.sin(w * i + ph);
  }
  return x;
}

/** Runs a signal through the pipeline in seeded random chunks; `each` runs after every chunk. */
function run(p: LivePipeline, x: Float32Array, each: (p: LivePipeline) => void): Float32Array {
  const out: Float32Array[] = [];
  let s = 7;
  for (let i = 0; i < x.length;) {
    s = (s * 1103515245 + 12345) >>> 0;
    const n = Math.min(x.length - i, 128 * (1 + (s % 24)));
    out.push(p.process(x.subarray(i, i + n)).output);
    each(p);
    i += n;
  }
  const y = new Float32Array(out.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const c of out) {
    y.set(c, o);
    o += c.length;
  }
  return y;
}

/** Stores a constant-per-bin mask for every frame the history holds. */
function storeMask(p: LivePipeline, maskOfBin: (k: number) => number): void {
  const total = p.history.total;
  const proj = new Float32Array(total * BINS);
  for (let t = 0; t < total; t++) for (let k = 0; k < BINS; k++) proj[t * BINS + k] = maskOfBin(k);
  p.synth.masks.store(0, total, proj, 0);
}

describe('live synthesis', () => {
  it('a mask of ones gives the input back after the synthesis delay (SNR >= 40 dB, resampling in the loop)', async () => {
    const p = await LivePipeline.create(CONFIG);
    const delayFrames = 13;
    p.synth.delayFrames = delayFrames;
    p.settings = { solo: true, mode: 'solo', rectify: false };
    const x = multitone(3);
    const y = run(p, x, (q) => storeMask(q, () => 1));
    const lag = (delayFrames * 256 * RATE) / 11_025;
    expect(Number.isInteger(lag)).toBe(true);
    // Compare away from the start (the STFT edge and the delay) and the end (held back samples).
    const from = lag + 8000, to = Math.min(y.length, x.length) - 8000;
    const snr = snrDb(x.subarray(from - lag, to - lag), y.subarray(from, to));
    console.log(`solo identity with a mask of ones: SNR ${snr.toFixed(1)} dB at a ${lag}-sample delay`);
    expect(snr).toBeGreaterThanOrEqual(40);
    p.dispose();
  });

  it('switching mask, solo and delay crossfades: no jump larger than the signal\'s own around it', async () => {
    const p = await LivePipeline.create(CONFIG);
    p.settings = { solo: true, mode: 'solo', rectify: false };
    p.synth.delayFrames = 10;
    // A steady 1 kHz sine (bin 46): its own largest step is the same everywhere, so a click or a
    // level bump at a switch cannot hide in the signal's random peaks. Mask A passes it, mask B
    // (bins >= 60) blocks it.
    const x = new Float32Array(RATE * 6);
    for (let i = 0; i < x.length; i++) x[i] = 0.3 * Math.sin((2 * Math.PI * 1000 * i) / RATE);
    const switchFrames = [60, 100, 140, 180]; // mask A -> B, solo off, delay up, solo on
    let step = 0;
    const y = run(p, x, (q) => {
      const t = q.history.total;
      while (step < switchFrames.length && t >= switchFrames[step]) {
        if (step === 0) storeMask(q, (k) => (k >= 60 ? 1 : 0));
        if (step === 1) q.settings = { ...q.settings, solo: false };
        if (step === 2) q.synth.delayFrames = 30;
        if (step === 3) q.settings = { ...q.settings, solo: true };
        step++;
      }
      if (step === 0) storeMask(q, (k) => (k < 60 ? 1 : 0));
      else if (step >= 1) storeMask(q, (k) => (k >= 60 ? 1 : 0));
    });
    const hopDev = Math.round((256 * RATE) / 11_025);
    const jump = (a: number, b: number) => {
      let m = 0;
      for (let i = Math.max(1, a); i < Math.min(y.length, b); i++) m = Math.max(m, Math.abs(y[i] - y[i - 1]));
      return m;
    };
    const ms100 = Math.round(0.1 * RATE);
    // One output frame per input frame: a change made when the input reaches frame f is heard
    // about f hops into the output, whatever the delay; raising the delay by 20 frames at 140 also
    // brings the sound back 20 frames later (the inserted silence ends at 160).
    const heardAt = [...switchFrames, 160];
    for (const f of heardAt) {
      // The largest step in a +-3-hop window there, against the signal's own largest step in the
      // 100 ms just before and just after that window.
      const centre = f * hopDev;
      const near = jump(centre - 3 * hopDev, centre + 3 * hopDev);
      const own = Math.max(jump(centre - 3 * hopDev - ms100, centre - 3 * hopDev), jump(centre + 3 * hopDev, centre + 3 * hopDev + ms100));
      console.log(`switch heard near frame ${f}: largest step ${near.toExponential(2)} vs the signal's own ${own.toExponential(2)}`);
      expect(own).toBeGreaterThan(0);
      expect(near).toBeLessThanOrEqual(own + 1e-6);
    }
    p.dispose();
  });

  it('level matching: a feature carrying part of the input is brought to the input\'s level (within 3 dB over 1-s windows)', async () => {
    const p = await LivePipeline.create(CONFIG);
    p.settings = { solo: true, mode: 'solo', rectify: false };
    p.synth.delayFrames = 6;
    const x = multitone(8, 5);
    // The mask passes bins 40-119 at 0.3 (a quiet feature, well below the input's level).
    const y = run(p, x, (q) => storeMask(q, (k) => (k >= 40 && k < 120 ? 0.3 : 0)));
    const lag = (6 * 256 * RATE) / 11_025;
    const rmsDb = (a: Float32Array) => 10 * Math.log10(a.reduce((s, v) => s + v * v, 0) / a.length);
    for (let sec = 3; sec < 7; sec++) {
      const from = sec * RATE;
      const diff = rmsDb(y.subarray(from + lag, from + lag + RATE)) - rmsDb(x.subarray(from, from + RATE));
      console.log(`level matching, second ${sec}: solo - input ${diff.toFixed(2)} dB`);
      expect(Math.abs(diff)).toBeLessThanOrEqual(3);
    }
    p.dispose();
  });

  it('silence in gives silence out, and non-finite masks give no NaN or Inf', async () => {
    const p = await LivePipeline.create(CONFIG);
    p.settings = { solo: true, mode: 'solo', rectify: false };
    p.synth.delayFrames = 5;
    const silence = new Float32Array(RATE * 2);
    const y = run(p, silence, (q) => storeMask(q, (k) => (k % 3 === 0 ? 1e30 : k % 3 === 1 ? -5 : 0.5)));
    let peak = 0;
    for (const v of y) {
      expect(Number.isFinite(v)).toBe(true);
      peak = Math.max(peak, Math.abs(v));
    }
    expect(peak).toBeLessThan(1e-6);
    const x = multitone(1);
    const z = run(p, x, (q) => storeMask(q, (k) => (k % 2 ? NaN : Infinity)));
    for (const v of z) expect(Number.isFinite(v)).toBe(true);
    p.dispose();
  });

  it('mute with the mask of a band removes that band and keeps the rest', async () => {
    const p = await LivePipeline.create(CONFIG);
    p.settings = { solo: true, mode: 'mute', rectify: false };
    p.synth.delayFrames = 4;
    // Two tones: 500 Hz (bin 23) and 3000 Hz (bin 139); the mask covers bins 100-180.
    const n = RATE * 2;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = 0.1 * Math.sin((2 * Math.PI * 500 * i) / RATE) + 0.1 * Math.sin((2 * Math.PI * 3000 * i) / RATE);
    const y = run(p, x, (q) => storeMask(q, (k) => (k >= 100 && k <= 180 ? 2 : 0)));
    const tail = y.subarray(y.length - RATE / 2);
    const power = (hz: number) => {
      let re = 0, im = 0;
      for (let i = 0; i < tail.length; i++) {
        re += tail[i] * Math.cos((2 * Math.PI * hz * i) / RATE);
        im += tail[i] * Math.sin((2 * Math.PI * hz * i) / RATE);
      }
      return re * re + im * im;
    };
    const ratioDb = 10 * Math.log10(power(500) / Math.max(power(3000), 1e-30));
    console.log(`mute: 500 Hz kept over 3000 Hz removed by ${ratioDb.toFixed(1)} dB`);
    expect(ratioDb).toBeGreaterThan(40);
    p.dispose();
  });
});
