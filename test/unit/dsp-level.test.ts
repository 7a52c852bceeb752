import { describe, expect, it } from 'vitest';
import { alignByCrossCorrelation, peakDb, rmsDb, snrDb } from '../../src/dsp/level';

describe('level helpers', () => {
  it('peakDb and rmsDb of a full-scale sine, half-scale DC and silence', () => {
    const s = new Float32Array(4800);
    for (let i = 0; i < s.length; i++) s[i] = Math.sin((2 * Math.PI * 100 * i) / 48_000);
    expect(peakDb(s)).toBeCloseTo(0, 4);
    expect(rmsDb(s)).toBeCloseTo(10 * Math.log10(0.5), 3);
    expect(peakDb(new Float32Array(10).fill(-0.5))).toBeCloseTo(-6.0206, 3);
    expect(rmsDb(new Float32Array(10))).toBe(-Infinity);
  });

  it('snrDb: 1 % error is 40 dB, identical is Infinity', () => {
    const ref = Float32Array.from({ length: 1000 }, (_, i) => Math.cos(i));
    expect(snrDb(ref, ref.map((v) => v * 1.01))).toBeCloseTo(40, 4);
    expect(snrDb(ref, ref)).toBe(Infinity);
  });

  it.each([0, 37, -12])('alignByCrossCorrelation finds test = reference delayed by %i', (lag) => {
    let a = 12345;
    const ref = Float32Array.from({ length: 3000 }, () => ((a = (a * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5);
    const test = new Float32Array(3000);
    for (let i = 0; i < test.length; i++) test[i] = 0.3 * (ref[i - lag] ?? 0);
    const { lagSamples, correlation } = alignByCrossCorrelation(ref, test, 100);
    expect(lagSamples).toBe(lag);
    expect(correlation).toBeGreaterThan(0.999);
  });
});
