/** Tensor hygiene: the tensor count stays constant over 1,000 analyses, and nothing is left after dispose. */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { Analyzer, disposeAnalysis, METHODS } from '../../src/model/analyzer';
import { loadModel } from '../../src/model/load';
import { FIXTURE_TINY, fixtureHandler, makeFixture } from '../fixtures/fixture-net/make';

describe.each(['cpu', 'wasm'])('tensor hygiene on %s', (backend) => {
  it('numTensors is constant over 1,000 analyses of every method, and back to the start after dispose', async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    const start = tf.memory().numTensors;
    const f = await makeFixture(FIXTURE_TINY);
    const m = await loadModel(fixtureHandler(f), f.manifest);
    const an = new Analyzer(m);
    const x = tf.randomUniform([1, FIXTURE_TINY.bins, 11, 1], 0, 2, 'float32', 3) as tf.Tensor4D;
    const counts: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const method = METHODS[i % METHODS.length];
      const sel = { layer: i % 2, feature: i % 2, method, label: i % 3 === 0 ? 1 : undefined };
      if (i % 2 === 0) await an.analyse(x, sel, { readTaps: i % 4 === 0 });
      else disposeAnalysis(an.analyseTensors(x, sel));
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    // A refused selection leaves nothing behind either.
    expect(() => an.analyseTensors(x, { layer: 5, feature: 0, method: 'deconvnet' })).toThrow(RangeError);
    expect(tf.memory().numTensors).toBe(counts[0]);
    x.dispose();
    an.dispose();
    m.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
