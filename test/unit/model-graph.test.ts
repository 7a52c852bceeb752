/** Layer-graph geometry: output sizes, strides, receptive fields (also measured), the window rule. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Analyzer } from '../../src/model/analyzer';
import { minWindowFrames, tapGeometry, totalTimeStrideFrames, windowStart } from '../../src/model/graph';
import { loadModel } from '../../src/model/load';
import { FIXTURE_A, FIXTURE_B, fixtureHandler, makeFixture, mulberry32, paperSpec } from '../fixtures/fixture-net/make';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('graph geometry', () => {
  it("gives the paper network's sizes, strides and receptive fields (94 frames at layer 5)", async () => {
    const f = await makeFixture(paperSpec(4));
    const m = await loadModel(fixtureHandler(f), f.manifest, { warmUp: false });
    try {
      const g = tapGeometry(m.graph, 173);
      expect(g.map((t) => [t.height, t.width])).toEqual([[128, 86], [64, 43], [32, 21], [16, 10], [8, 5]]);
      expect(g.map((t) => t.timeStrideFrames)).toEqual([2, 4, 8, 16, 32]);
      expect(g.map((t) => t.receptiveFieldFrames)).toEqual([4, 10, 22, 46, 94]);
      expect(g.map((t) => t.firstFieldStartFrame)).toEqual([-1, -3, -7, -15, -31]);
      expect(totalTimeStrideFrames(m.graph)).toBe(32);
      expect(minWindowFrames(m.graph)).toBe(32);
    } finally {
      m.dispose();
    }
  });

  it('handles valid convolutions and non-square pools (fixture B)', async () => {
    const f = await makeFixture(FIXTURE_B);
    const m = await loadModel(fixtureHandler(f), f.manifest, { warmUp: false });
    try {
      const g = tapGeometry(m.graph, 31);
      // conv1 3x5 valid: 17 x 27; pool 3x3: 5 x 9; conv2 same; pool 2x4: 2 x 2.
      expect(g.map((t) => [t.height, t.width, t.channels])).toEqual([[17, 27, 5], [5, 9, 5], [2, 2, 6]]);
      expect(g.map((t) => [t.timeStrideFrames, t.receptiveFieldFrames, t.firstFieldStartFrame])).toEqual([[1, 5, 0], [3, 7, 0], [12, 7 + 2 * 3 + 3 * 3, -3]]);
      expect(g.map((t) => [t.freqStrideBins, t.receptiveFieldBins])).toEqual([[1, 3], [3, 5], [6, 5 + 2 * 3 + 1 * 3]]);
      expect(minWindowFrames(m.graph)).toBe(16);
    } finally {
      m.dispose();
    }
  });

  it('window rule: S = stride * floor((n - W) / stride), length W .. W + stride - 1', () => {
    expect(windowStart(173, 173, 32)).toBe(0);
    expect(windowStart(204, 173, 32)).toBe(0);
    expect(windowStart(205, 173, 32)).toBe(32);
    for (let n = 40; n < 200; n++) {
      const s = windowStart(n, 40, 8);
      expect(s % 8).toBe(0);
      expect(n - s).toBeGreaterThanOrEqual(40);
      expect(n - s).toBeLessThanOrEqual(47);
    }
    expect(() => windowStart(10, 40, 8)).toThrow(/expected at least windowFrames \(40\), got 10/);
    expect(() => windowStart(50, 40, 0)).toThrow(/expected a positive integer, got 0/);
  });

  it.each([FIXTURE_A, FIXTURE_B])('$id: a change at frame f only moves cells whose computed field holds f', async (spec) => {
    const f = await makeFixture(spec);
    const m = await loadModel(fixtureHandler(f), f.manifest, { warmUp: false });
    const an = new Analyzer(m);
    const frames = 41;
    const r = mulberry32(3);
    const base = new Float32Array(spec.bins * frames).map(() => 2 * r());
    try {
      const baseIn = tf.tensor4d(base, [1, spec.bins, frames, 1]);
      const ref = await an.analyse(baseIn, { layer: 0, feature: 0, method: 'deconvnet' }, { readTaps: true });
      baseIn.dispose();
      let moved = 0;
      for (const changed of [0, 7, 20, 33, 40]) {
        const pert = base.slice();
        for (let b = 0; b < spec.bins; b++) pert[b * frames + changed] += 1 + r();
        const x = tf.tensor4d(pert, [1, spec.bins, frames, 1]);
        const res = await an.analyse(x, { layer: 0, feature: 0, method: 'deconvnet' }, { readTaps: true });
        x.dispose();
        res.geometry.forEach((g, L) => {
          const a = (res.taps as Float32Array[])[L];
          const b = (ref.taps as Float32Array[])[L];
          for (let i = 0; i < g.height; i++) for (let t = 0; t < g.width; t++) for (let c = 0; c < g.channels; c++) {
            const k = (i * g.width + t) * g.channels + c;
            if (a[k] === b[k]) continue;
            moved++;
            const start = g.firstFieldStartFrame + t * g.timeStrideFrames;
            expect(changed, `${g.name} cell ${t}`).toBeGreaterThanOrEqual(start);
            expect(changed, `${g.name} cell ${t}`).toBeLessThan(start + g.receptiveFieldFrames);
          }
        });
      }
      expect(moved).toBeGreaterThan(0);
    } finally {
      an.dispose();
      m.dispose();
    }
  });
});
