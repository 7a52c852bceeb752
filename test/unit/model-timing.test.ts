/**
 * Timing of one analyse() call (forward + projection + read-back) for a 257 x 173 input on the
 * paper's 5-block shape, 24 and 32 channels, on wasm in Node. Reported, loosely bounded: this
 * machine is shared, so the bound only catches gross regressions (a scalar-loop kernel).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { Analyzer, METHODS } from '../../src/model/analyzer';
import { loadModel } from '../../src/model/load';
import { fixtureHandler, makeFixture, paperSpec } from '../fixtures/fixture-net/make';

describe('analyse() timing on wasm, 257 x 173', () => {
  it.each([24, 32])('%i channels per block', async (channels) => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const f = await makeFixture(paperSpec(channels));
    const m = await loadModel(fixtureHandler(f), f.manifest);
    const an = new Analyzer(m);
    const x = tf.randomUniform([1, 257, 173, 1], 0, 2, 'float32', 1) as tf.Tensor4D;
    const rows: Record<string, string> = {};
    try {
      for (const method of METHODS) {
        for (const layer of [0, 4]) {
          const sel = { layer, feature: 0, method, label: method === 'gradcam' ? 0 : undefined };
          await an.analyse(x, sel);
          const ms: number[] = [];
          for (let i = 0; i < 7; i++) {
            const t0 = performance.now();
            await an.analyse(x, sel);
            ms.push(performance.now() - t0);
          }
          ms.sort((a, b) => a - b);
          rows[`${method} layer ${layer + 1}`] = `median ${ms[3].toFixed(1)} ms, min ${ms[0].toFixed(1)} ms`;
          expect(ms[3]).toBeLessThan(5000);
        }
      }
    } finally {
      x.dispose();
      an.dispose();
      m.dispose();
    }
    console.log(`analyse() wasm 257x173, ${channels} channels:`, rows);
  });
});
