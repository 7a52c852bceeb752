import { describe, expect, it } from 'vitest';
import { DEMO_BARS, DEMO_BPM, DEMO_PARTS, DEMO_SECONDS, renderDemo, renderDemoStems } from '../../src/dsp/demo';

const RATES_HZ = [11025, 44100, 48000];
const DRUM_PARTS = DEMO_PARTS.filter((p) => p.label === 'drums').map((p) => p.name);

interface Render { mix: Float32Array; stems: Map<string, Float32Array>; }
const cache = new Map<number, Render>();
function render(sampleRateHz: number): Render {
  let r = cache.get(sampleRateHz);
  if (r === undefined) {
    r = { mix: renderDemo(sampleRateHz), stems: renderDemoStems(sampleRateHz) };
    cache.set(sampleRateHz, r);
  }
  return r;
}

function stem(r: Render, name: string): Float32Array {
  const s = r.stems.get(name);
  if (s === undefined) throw new Error(`missing stem ${name}`);
  return s;
}

function peakOf(x: Float32Array): number {
  let p = 0;
  for (let i = 0; i < x.length; i++) p = Math.max(p, Math.abs(x[i]));
  return p;
}

function rms(x: Float32Array, from: number, to: number): number {
  let e = 0;
  for (let i = from; i < to; i++) e += x[i] * x[i];
  return Math.sqrt(e / Math.max(1, to - from));
}

/** Fraction of a stem's energy between loHz and hiHz, from plain-loop Hann-windowed DFTs of its loudest frames. */
function bandFraction(x: Float32Array, sampleRateHz: number, loHz: number, hiHz: number): number {
  const frame = sampleRateHz >= 32000 ? 2048 : 512;
  // The 8 loudest non-overlapping frames.
  const energies: [number, number][] = [];
  for (let start = 0; start + frame <= x.length; start += frame) {
    let e = 0;
    for (let i = 0; i < frame; i++) e += x[start + i] ** 2;
    energies.push([e, start]);
  }
  energies.sort((a, b) => b[0] - a[0]);
  const cosT = new Float64Array(frame), sinT = new Float64Array(frame), win = new Float64Array(frame);
  for (let n = 0; n < frame; n++) {
    cosT[n] = Math.cos((2 * Math.PI * n) / frame);
    sinT[n] = Math.sin((2 * Math.PI * n) / frame);
    win[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / frame);
  }
  let inBand = 0, total = 0;
  const buf = new Float64Array(frame);
  for (const [, start] of energies.slice(0, 8)) {
    for (let n = 0; n < frame; n++) buf[n] = x[start + n] * win[n];
    for (let k = 1; k <= frame / 2; k++) {
      let re = 0, im = 0;
      for (let n = 0, idx = 0; n < frame; n++, idx = (idx + k) % frame) {
        re += buf[n] * cosT[idx];
        im -= buf[n] * sinT[idx];
      }
      const p = re * re + im * im;
      const fHz = (k * sampleRateHz) / frame;
      total += p;
      if (fHz >= loHz && fHz <= hiHz) inBand += p;
    }
  }
  return inBand / total;
}

describe.each(RATES_HZ)('demo piece at %i Hz', (sampleRateHz) => {
  it('is DEMO_SECONDS long, finite, peaks between -6 and -0.5 dBFS and never clips', () => {
    const { mix } = render(sampleRateHz);
    expect(mix.length).toBe(Math.round(DEMO_SECONDS * sampleRateHz));
    expect(DEMO_SECONDS).toBeGreaterThanOrEqual(16);
    expect(DEMO_SECONDS).toBeLessThanOrEqual(24);
    for (let i = 0; i < mix.length; i++) {
      if (!Number.isFinite(mix[i])) throw new Error(`sample ${i} is ${mix[i]}`);
    }
    const peakDb = 20 * Math.log10(peakOf(mix));
    expect(peakDb).toBeGreaterThan(-6);
    expect(peakDb).toBeLessThan(-0.5);
  });

  it('has one stem per part, of the same length, summing to the mix', () => {
    const r = render(sampleRateHz);
    expect([...r.stems.keys()]).toEqual(DEMO_PARTS.map((p) => p.name));
    const sum = new Float64Array(r.mix.length);
    for (const s of r.stems.values()) {
      expect(s.length).toBe(r.mix.length);
      for (let i = 0; i < s.length; i++) sum[i] += s[i];
    }
    let maxErr = 0;
    for (let i = 0; i < sum.length; i++) maxErr = Math.max(maxErr, Math.abs(sum[i] - r.mix[i]));
    expect(maxErr).toBeLessThan(1e-6);
  });

  it('loops without a click: the jump across the wrap is no larger than the jumps around it', () => {
    const r = render(sampleRateHz);
    const half = Math.round(0.05 * sampleRateHz);
    for (const [name, x] of [['mix', r.mix] as const, ...r.stems.entries()]) {
      const n = x.length;
      let largest = 0;
      for (let i = n - half; i < n - 1; i++) largest = Math.max(largest, Math.abs(x[i + 1] - x[i]));
      for (let i = 0; i < half; i++) largest = Math.max(largest, Math.abs(x[i + 1] - x[i]));
      const wrapJump = Math.abs(x[0] - x[n - 1]);
      expect(wrapJump, `${name}: wrap jump ${wrapJump} vs ${largest}`).toBeLessThanOrEqual(largest);
    }
  });

  it('has every part present with its energy in the expected band', () => {
    const r = render(sampleRateHz);
    const mixRms = rms(r.mix, 0, r.mix.length);
    for (const part of DEMO_PARTS) {
      // Every part is audible: within 30 dB of the mix.
      expect(rms(stem(r, part.name), 0, r.mix.length), part.name).toBeGreaterThan(mixRms * 10 ** (-30 / 20));
    }
    const hatLoHz = Math.min(5000, 0.3 * sampleRateHz);
    const checks: [string, number, number, number][] = [
      ['kick', 0, 250, 0.85],
      ['bass', 0, 250, 0.7], // "mostly": a fingered bass has real overtones above 250 Hz
      ['snare', 1000, 20000, 0.3],
      ['hi-hat', hatLoHz, 24000, 0.9],
      ['piano', 100, 5000, 0.9],
      ['strings', 150, 5000, 0.9],
      ['sax', 300, 6000, 0.9],
    ];
    for (const [name, loHz, hiHz, atLeast] of checks) {
      const f = bandFraction(stem(r, name), sampleRateHz, loHz, hiHz);
      expect(f, `${name}: energy fraction in ${loHz}-${hiHz} Hz`).toBeGreaterThanOrEqual(atLeast);
    }
    // The snare also has a tuned body, not just noise.
    expect(bandFraction(stem(r, 'snare'), sampleRateHz, 120, 400)).toBeGreaterThan(0.05);
  });

  it('has a piano-only bar (bar 1) and a drums-only break (bar 7)', () => {
    const r = render(sampleRateHz);
    const barSamples = (4 * 60 * sampleRateHz) / DEMO_BPM;
    const mixRms = rms(r.mix, 0, r.mix.length);
    const secondHalf = (bar: number): [number, number] => [Math.round((bar + 0.5) * barSamples), Math.round((bar + 1) * barSamples)];
    for (const part of DEMO_PARTS) {
      const [a0, a1] = secondHalf(0);
      const pianoBar = rms(stem(r, part.name), a0, a1);
      if (part.name === 'piano') expect(pianoBar).toBeGreaterThan(mixRms * 0.1);
      else expect(pianoBar, `${part.name} in the piano bar`).toBeLessThan(mixRms * 1e-3);
      const [b0, b1] = secondHalf(6);
      const breakBar = rms(stem(r, part.name), b0, b1);
      if (DRUM_PARTS.includes(part.name)) expect(breakBar, `${part.name} in the break`).toBeGreaterThan(mixRms * 0.01);
      else expect(breakBar, `${part.name} in the break`).toBeLessThan(mixRms * 1e-3);
    }
  });

  it('puts every drum onset on the sixteenth-note grid (within 5 ms)', () => {
    const r = render(sampleRateHz);
    const drums = new Float32Array(r.mix.length);
    for (const name of DRUM_PARTS) {
      const s = stem(r, name);
      for (let i = 0; i < s.length; i++) drums[i] += s[i];
    }
    // Onset: a 2 ms block whose peak is 3x the peak of the preceding 25 ms (and not negligible).
    const block = Math.round(0.002 * sampleRateHz);
    const lookback = Math.round(0.025 * sampleRateHz);
    const floor = 0.02 * peakOf(drums);
    const n = drums.length;
    const onsets: number[] = [];
    let lastOnset = -Infinity;
    for (let start = 0; start < n; start += block) {
      let cur = 0;
      for (let i = start; i < start + block; i++) cur = Math.max(cur, Math.abs(drums[i % n]));
      let before = 0;
      for (let i = start - lookback; i < start; i++) before = Math.max(before, Math.abs(drums[(i + n) % n]));
      if (cur > floor && cur > 3 * before && start - lastOnset > 0.03 * sampleRateHz) {
        // Refine to the first sample above a tenth of the block peak.
        let at = start;
        while (Math.abs(drums[at % n]) < 0.1 * cur) at++;
        onsets.push(at);
        lastOnset = start;
      }
    }
    const sixteenthS = 60 / DEMO_BPM / 4;
    // Kicks and snares alone give 37 hits (see the score); at least those must be found.
    expect(onsets.length).toBeGreaterThanOrEqual(37);
    for (const at of onsets) {
      const tS = at / sampleRateHz;
      const offGridMs = 1000 * Math.abs(tS - Math.round(tS / sixteenthS) * sixteenthS);
      expect(offGridMs, `onset at ${tS.toFixed(4)} s`).toBeLessThanOrEqual(5);
    }
    expect(Math.round(DEMO_SECONDS / sixteenthS)).toBe(DEMO_BARS * 16);
  });
});

describe('demo determinism and contract', () => {
  it('renders identically twice', () => {
    const a = renderDemo(11025);
    const b = renderDemo(11025);
    expect(a.length).toBe(b.length);
    let same = true;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) { same = false; break; }
    expect(same).toBe(true);
  });

  it('labels every part with a GM family the model knows', () => {
    const names = new Set(DEMO_PARTS.map((p) => p.name));
    expect(names.size).toBe(DEMO_PARTS.length);
    expect(new Set(DEMO_PARTS.map((p) => p.label)).size).toBeGreaterThanOrEqual(4);
  });

  it('rejects an impossible sample rate', () => {
    expect(() => renderDemo(0)).toThrow(/expected sampleRateHz/);
    expect(() => renderDemo(Number.NaN)).toThrow(/expected sampleRateHz/);
  });
});
