import { afterAll, describe, expect, it } from 'vitest';
import { snrDb } from '../../src/dsp/level';
import { StreamResampler } from '../../src/dsp/resample';
import { mulberry32 } from '../fixtures/fixture-net/make';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
const rng = mulberry32;

function sine(freqHz: number, rateHz: number, length: number, amplitude: number, delaySamples = 0): Float32Array {
  const x = new Float32Array(length);
  for (let i = 0; i < length; i++) x[i] = amplitude * Math.sin((2 * Math.PI * freqHz * (i - delaySamples)) / rateHz);
  return x;
}

/** Feeds x through r in chunks whose sizes come from nextChunk; returns the concatenated output. */
function run(r: StreamResampler, x: Float32Array, nextChunk: () => number): Float32Array {
  const parts: Float32Array[] = [];
  for (let i = 0; i < x.length; ) {
    const n = nextChunk();
    parts.push(r.process(x.subarray(i, i + n)));
    i += n;
  }
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const PAIRS: Array<[number, number]> = [
  [48_000, 11_025],
  [44_100, 11_025],
  [11_025, 48_000],
  [11_025, 44_100],
];
const report: string[] = [];
afterAll(() => console.log(report.join('\n')));

describe.each(PAIRS)('StreamResampler %i Hz -> %i Hz', (inRateHz, outRateHz) => {
  const lowRateHz = Math.min(inRateHz, outRateHz);

  it('passes sines below 0.45 x the lower rate at >= 60 dB SNR (aligned by the reported latency)', async () => {
    const worst: string[] = [];
    for (const rel of [0.01, 0.1, 0.2, 0.3, 0.4, 0.45]) {
      const f = rel * lowRateHz;
      const r = await StreamResampler.create(inRateHz, outRateHz);
      const y = run(r, sine(f, inRateHz, inRateHz, 0.5), () => 512);
      r.dispose();
      const ideal = sine(f, outRateHz, y.length, 0.5, r.latencySamples);
      const edge = Math.round(0.05 * outRateHz); // start-up and the held-back tail
      const snr = snrDb(ideal.subarray(edge, y.length - edge), y.subarray(edge, y.length - edge));
      expect(snr, `sine at ${rel} x ${lowRateHz} Hz`).toBeGreaterThanOrEqual(60);
      worst.push(`${rel}:${snr.toFixed(0)}`);
    }
    report.push(`${inRateHz}->${outRateHz} sine SNR dB by f/lowRate ${worst.join(' ')}`);
  });

  it('leaves nothing above the lower rate\'s Nyquist >= 80 dB down (downsampling: a sine above it; upsampling: images)', async () => {
    const levels: string[] = [];
    const edge = Math.round(0.05 * outRateHz);
    if (outRateHz < inRateHz) {
      for (const mult of [1.01, 1.05, 1.2, 1.5, 3]) {
        const f = (mult * outRateHz) / 2;
        if (f >= inRateHz / 2) continue;
        const r = await StreamResampler.create(inRateHz, outRateHz);
        const y = run(r, sine(f, inRateHz, inRateHz, 1), () => 1000);
        r.dispose();
        let energy = 0;
        for (let i = edge; i < y.length - edge; i++) energy += y[i] * y[i];
        const levelDb = 10 * Math.log10(energy / (y.length - 2 * edge) / 0.5); // relative to the input sine's power
        expect(levelDb, `sine at ${mult} x Nyquist`).toBeLessThanOrEqual(-80);
        levels.push(`${mult}:${levelDb.toFixed(0)}`);
      }
      report.push(`${inRateHz}->${outRateHz} stop-band dB by f/Nyquist ${levels.join(' ')}`);
    } else {
      // Everything in the output above the input's Nyquist is imaging; measure it with a float64 DFT probe.
      const f = 0.45 * inRateHz;
      const r = await StreamResampler.create(inRateHz, outRateHz);
      const y = run(r, sine(f, inRateHz, inRateHz, 1), () => 1000);
      r.dispose();
      const seg = y.subarray(edge, edge + 8192);
      for (const image of [inRateHz - f, inRateHz + f, 2 * inRateHz - f]) {
        if (image >= outRateHz / 2) continue;
        let sr = 0;
        let si = 0;
        for (let i = 0; i < seg.length; i++) {
          const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / seg.length);
          sr += w * seg[i] * Math.cos((2 * Math.PI * image * i) / outRateHz);
          si += w * seg[i] * Math.sin((2 * Math.PI * image * i) / outRateHz);
        }
        const amplitude = (2 * Math.hypot(sr, si)) / (0.5 * seg.length); // Hann's coherent gain is 0.5
        const levelDb = 20 * Math.log10(amplitude);
        expect(levelDb, `image at ${image.toFixed(0)} Hz`).toBeLessThanOrEqual(-80);
        levels.push(`${image.toFixed(0)}Hz:${levelDb.toFixed(0)}`);
      }
      report.push(`${inRateHz}->${outRateHz} images of a ${f.toFixed(0)} Hz sine, dB: ${levels.join(' ')}`);
    }
  });

  it('reports the latency of a measured impulse delay within 1 sample', async () => {
    const r = await StreamResampler.create(inRateHz, outRateHz);
    const x = new Float32Array(inRateHz);
    const at = 4321;
    x[at] = 1;
    const y = run(r, x, () => 256);
    r.dispose();
    let peak = 0;
    for (let i = 1; i < y.length; i++) if (Math.abs(y[i]) > Math.abs(y[peak])) peak = i;
    const [a, b, c] = [y[peak - 1], y[peak], y[peak + 1]];
    const measured = peak + (0.5 * (a - c)) / (a - 2 * b + c);
    const expected = (at * outRateHz) / inRateHz + r.latencySamples;
    expect(Math.abs(measured - expected)).toBeLessThanOrEqual(1);
    report.push(`${inRateHz}->${outRateHz} latency reported ${r.latencySamples}, measured ${(measured - (at * outRateHz) / inRateHz).toFixed(3)} output samples`);
  });

  it('gives the same samples whether streamed in random chunks or in one call, and after reset()', async () => {
    const random = rng(inRateHz ^ outRateHz);
    const x = new Float32Array(inRateHz);
    for (let i = 0; i < x.length; i++) x[i] = random() - 0.5;
    const one = await StreamResampler.create(inRateHz, outRateHz);
    const t0 = performance.now();
    const whole = one.process(x);
    const msPerSecond = performance.now() - t0;
    const chunked = await StreamResampler.create(inRateHz, outRateHz);
    chunked.process(x.subarray(0, 5000));
    chunked.reset();
    const pieces = run(chunked, x, () => 1 + Math.floor(random() * 700));
    one.dispose();
    chunked.dispose();
    expect(pieces.length).toBe(whole.length);
    expect(whole.length).toBeGreaterThan(0.95 * outRateHz);
    expect(pieces).toEqual(whole);
    report.push(`${inRateHz}->${outRateHz} one-shot ${msPerSecond.toFixed(1)} ms per second of input, ${outRateHz - whole.length} output samples held back`);
  });
});

describe('StreamResampler boundaries', () => {
  it('copies through at equal rates and rejects bad rates and use after dispose', async () => {
    const r = await StreamResampler.create(48_000, 48_000);
    const x = sine(1000, 48_000, 100, 0.5);
    expect(r.process(x)).toEqual(x);
    expect(r.latencySamples).toBe(0);
    r.dispose();
    expect(() => r.process(x)).toThrow(/disposed/);
    await expect(StreamResampler.create(0, 48_000)).rejects.toThrow(/expected inRateHz/);
    await expect(StreamResampler.create(48_000, 44_100.5)).rejects.toThrow(/expected outRateHz/);
  });
});
