/**
 * No shimmer (DESIGN.md §3): over 50 consecutive hop groups of 2 frames with the window rule, every
 * activation cell whose receptive field lies inside both windows keeps its value (by absolute time).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { Analyzer } from '../../src/model/analyzer';
import { totalTimeStrideFrames, windowStart } from '../../src/model/graph';
import { loadModel } from '../../src/model/load';
import { FIXTURE_A, FIXTURE_B, fixtureHandler, makeFixture, mulberry32 } from '../fixtures/fixture-net/make';

describe.each(['cpu', 'wasm'])('sliding window on %s', (backend) => {
  it.each([FIXTURE_A, FIXTURE_B])('$id: cells outside both edges\' fields change by <= 1e-5 of the layer max', async (spec) => {
    expect(await tf.setBackend(backend)).toBe(true);
    const f = await makeFixture(spec);
    const m = await loadModel(fixtureHandler(f), f.manifest);
    const an = new Analyzer(m);
    const hopGroup = 2;
    const updates = 50;
    const W = 40;
    const stride = totalTimeStrideFrames(m.graph);
    const n0 = W + 3;
    const total = n0 + hopGroup * updates;
    const r = mulberry32(11);
    const stream = new Float32Array(spec.bins * total).map(() => 2 * r()); // [bins][total]
    // Per tap: absolute cell key -> value from the previous update (clean cells only).
    let prev: Map<string, number>[] | null = null;
    let compared = 0;
    let worst = 0;
    try {
      for (let u = 0; u <= updates; u++) {
        const n = n0 + hopGroup * u;
        const S = windowStart(n, W, stride);
        const frames = n - S;
        const win = new Float32Array(spec.bins * frames);
        for (let b = 0; b < spec.bins; b++) win.set(stream.subarray(b * total + S, b * total + n), b * frames);
        const x = tf.tensor4d(win, [1, spec.bins, frames, 1]);
        const res = await an.analyse(x, { layer: 0, feature: 0, method: 'deconvnet' }, { readTaps: true });
        x.dispose();
        const cur = res.geometry.map((g, L) => {
          const a = (res.taps as Float32Array[])[L];
          const clean = new Map<string, number>();
          const layerMax = res.tapMaxima[L];
          for (let t = 0; t < g.width; t++) {
            const fieldStart = S + g.firstFieldStartFrame + t * g.timeStrideFrames;
            if (fieldStart < S || fieldStart + g.receptiveFieldFrames > n) continue;
            // The display column by absolute time (exact when S is a multiple of the tap's stride).
            const absCell = Math.floor(S / g.timeStrideFrames) + t;
            for (let i = 0; i < g.height; i++) for (let c = 0; c < g.channels; c++) {
              const v = a[(i * g.width + t) * g.channels + c];
              const key = `${absCell},${i},${c}`;
              clean.set(key, v);
              const before = prev?.[L].get(key);
              if (before !== undefined) {
                compared++;
                const dev = Math.abs(v - before) / Math.max(layerMax, 1e-30);
                worst = Math.max(worst, dev);
                expect(dev, `${g.name} cell ${absCell} update ${u}`).toBeLessThanOrEqual(1e-5);
              }
            }
          }
          return clean;
        });
        prev = cur;
      }
    } finally {
      an.dispose();
      m.dispose();
    }
    console.log(`shimmer ${backend} ${spec.id}: ${compared} cell comparisons, worst change ${worst.toExponential(2)} of the layer max`);
    expect(compared).toBeGreaterThan(1000);
  });
});
