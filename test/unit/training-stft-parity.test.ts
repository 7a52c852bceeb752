/**
 * The training front end (training/frontend.py, numpy) and the browser's STFT (src/dsp/stft.ts)
 * give the same magnitudes on seeded fixture audio, and both match a plain float64 DFT.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const PY = '/usr/bin/python3';
const N_FFT = 512;
const HOP_SAMPLES = 256;
const SAMPLE_RATE_HZ = 11025;
const BINS = N_FFT / 2 + 1;

function skipReason(): string | null {
  if (!existsSync('src/dsp/stft.ts')) return 'src/dsp/stft.ts does not exist yet';
  if (!existsSync(PY)) return `${PY} not found (install the Debian package python3)`;
  const r = spawnSync(PY, ['-c', 'import numpy'], { encoding: 'utf8' });
  if (r.status !== 0) return `numpy not importable by ${PY} (install the Debian package python3-numpy)`;
  return null;
}
const reason = skipReason();
if (reason) console.warn(`training-stft-parity skipped: ${reason}`);

/** Seeded fixture: chords of sines with vibrato, a decaying click train, noise, a silent stretch. */
function fixtureAudio(lengthSamples: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const x = new Float32Array(lengthSamples);
  const freqsHz = [110, 277.2, 440, 1318.5, 3520].map((f) => f * (1 + 0.02 * rand()));
  for (let i = 0; i < lengthSamples; i++) {
    const t = i / SAMPLE_RATE_HZ;
    let v = 0;
    freqsHz.forEach((f, k) => {
      v += (0.2 / (k + 1)) * Math.sin(2 * Math.PI * f * t + 0.3 * Math.sin(2 * Math.PI * 5 * t) + k);
    });
    v += 0.05 * (rand() * 2 - 1);
    if (i % 2000 < 40) v += 0.5 * Math.exp(-(i % 2000) / 8);
    if (i > lengthSamples * 0.6 && i < lengthSamples * 0.7) v = 0;
    x[i] = v;
  }
  return x;
}

/** Plain float64 DFT magnitude of one frame (independent reference). */
function dftMag(x: Float32Array, start: number): Float64Array {
  const out = new Float64Array(BINS);
  for (let k = 0; k < BINS; k++) {
    let re = 0;
    let im = 0;
    for (let n = 0; n < N_FFT; n++) {
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / N_FFT);
      const v = w * (x[start + n] ?? 0);
      re += v * Math.cos((2 * Math.PI * k * n) / N_FFT);
      im -= v * Math.sin((2 * Math.PI * k * n) / N_FFT);
    }
    out[k] = Math.hypot(re, im);
  }
  return out;
}

describe.skipIf(reason !== null)('training front end vs browser STFT', () => {
  it('numpy and TypeScript magnitudes agree within 1e-4 of the maximum', async () => {
    const { stft } = await import('../../src/dsp/stft');
    const frames = 173 + 5;
    const x = fixtureAudio(N_FFT + (frames - 1) * HOP_SAMPLES + 100, 20240611);
    const ts = stft(x, { nFft: N_FFT, hopSamples: HOP_SAMPLES }).mag;
    const r = spawnSync(PY, ['training/frontend.py'], { input: Buffer.from(x.buffer, x.byteOffset, x.byteLength), maxBuffer: 64 << 20 });
    expect(r.status, r.stderr?.toString()).toBe(0);
    const py = new Float64Array(r.stdout.buffer.slice(r.stdout.byteOffset, r.stdout.byteOffset + r.stdout.byteLength));
    expect(ts.length).toBe(frames);
    expect(py.length).toBe(frames * BINS);
    let maxMag = 0;
    for (const v of py) maxMag = Math.max(maxMag, v);
    expect(maxMag).toBeGreaterThan(1);
    let maxErr = 0;
    for (let t = 0; t < frames; t++) {
      const f = ts[t] as Float32Array;
      expect(f.length).toBe(BINS);
      for (let k = 0; k < BINS; k++) maxErr = Math.max(maxErr, Math.abs((f[k] ?? NaN) - (py[t * BINS + k] ?? NaN)));
    }
    expect(maxErr / maxMag).toBeLessThanOrEqual(1e-4);
    // Both against an independent float64 DFT on a few frames (including the silent stretch).
    for (const t of [0, 1, 57, Math.floor(frames * 0.65), frames - 1]) {
      const ref = dftMag(x, t * HOP_SAMPLES);
      for (let k = 0; k < BINS; k++) {
        expect(Math.abs((py[t * BINS + k] ?? NaN) - (ref[k] ?? NaN))).toBeLessThanOrEqual(1e-6 * maxMag);
        expect(Math.abs(((ts[t] as Float32Array)[k] ?? NaN) - (ref[k] ?? NaN))).toBeLessThanOrEqual(1e-4 * maxMag);
      }
    }
  });
});
