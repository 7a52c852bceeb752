/** The batched deconvolution (all features of a layer in one backward chain) equals the Analyzer's single-feature deconvnet. */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { Analyzer } from '../../src/model/analyzer';
import { BatchedDeconv } from '../../src/model/features';
import { loadModel } from '../../src/model/load';
import { FIXTURE_A, FIXTURE_B, fixtureHandler, makeFixture, mulberry32 } from '../fixtures/fixture-net/make';

describe('BatchedDeconv', () => {
  it.each([['cpu', FIXTURE_A, 40], ['wasm', FIXTURE_A, 37], ['wasm', FIXTURE_B, 45]] as const)('%s, %$: every feature of every tap equals Analyzer deconvnet', async (backend, spec, frames) => {
    expect(await tf.setBackend(backend)).toBe(true);
    const f = await makeFixture(spec);
    const m = await loadModel(fixtureHandler(f), f.manifest);
    const an = new Analyzer(m);
    const bd = new BatchedDeconv(m);
    const r = mulberry32(11);
    const x = tf.tensor4d(Float32Array.from({ length: spec.bins * frames }, () => 2 * r()), [1, spec.bins, frames, 1]);
    const before = tf.memory().numTensors;
    const state = bd.forward(x);
    try {
      for (let tap = 0; tap < m.graph.taps.length; tap++) {
        const c = m.graph.taps[tap].channels;
        const feats = Array.from({ length: c }, (_, i) => i);
        const all = await bd.project(state, tap, feats);
        expect(all.length).toBe(c * frames * spec.bins);
        for (const k of feats) {
          const ref = (await an.analyse(x, { layer: tap, feature: k, method: 'deconvnet' })).projection;
          let num = 0, den = 0;
          for (let i = 0; i < ref.length; i++) {
            num += (all[k * ref.length + i] - ref[i]) ** 2;
            den += ref[i] ** 2;
          }
          expect(Math.sqrt(num / Math.max(den, 1e-30))).toBeLessThanOrEqual(1e-5);
        }
      }
      // The taps of the batched forward equal the Analyzer's.
      const res = await an.analyse(x, { layer: 0, feature: 0, method: 'deconvnet' }, { readTaps: true });
      const tap0 = await bd.tapOutput(state, 0).data();
      const ref0 = res.taps?.[0] ?? new Float32Array(0);
      expect(tap0.length).toBe(ref0.length);
      expect(Math.max(...Array.from(tap0, (v, i) => Math.abs(v - ref0[i])))).toBeLessThanOrEqual(1e-5);
    } finally {
      state.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    bd.dispose();
    an.dispose();
    m.dispose();
  });
});
