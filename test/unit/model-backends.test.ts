/** cpu and wasm agree within 1e-3 of the map's largest value; chooseBackend picks, caps and explains. */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { Analyzer, METHODS } from '../../src/model/analyzer';
import type { AnalysisResult, Selection } from '../../src/model/analyzer';
import { chooseBackend, forceBackend } from '../../src/model/backend';
import { loadModel } from '../../src/model/load';
import { FIXTURE_A, FIXTURE_B, fixtureHandler, makeFixture, mulberry32 } from '../fixtures/fixture-net/make';

const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

describe('backends agree', () => {
  it.each([FIXTURE_A, FIXTURE_B])('$id: cpu vs wasm, every method and tap, within 1e-3 of the largest value', async (spec) => {
    await tf.setBackend('cpu');
    const f = await makeFixture(spec);
    const frames = 35;
    const r = mulberry32(21);
    const data = new Float32Array(spec.bins * frames).map(() => 2 * r());
    const sels: Selection[] = [];
    for (let layer = 0; layer < spec.taps.length; layer++) {
      for (const method of METHODS) sels.push({ layer, feature: 1, method }, { layer, feature: 0, method, label: 0 });
    }
    const results: Record<string, AnalysisResult[]> = {};
    for (const backend of ['cpu', 'wasm']) {
      expect(await tf.setBackend(backend)).toBe(true);
      const m = await loadModel(fixtureHandler(f), f.manifest);
      const an = new Analyzer(m);
      const x = tf.tensor4d(data, [1, spec.bins, frames, 1]);
      results[backend] = [];
      for (const s of sels) results[backend].push(await an.analyse(x, s, { readTaps: true }));
      x.dispose();
      an.dispose();
      m.dispose();
    }
    let worst = 0;
    sels.forEach((s, i) => {
      const a = results.cpu[i];
      const b = results.wasm[i];
      const pairs: [ArrayLike<number>, ArrayLike<number>][] = [[a.projection, b.projection], [a.thumbnails, b.thumbnails], [a.featureMap, b.featureMap], [a.predictions, b.predictions], ...(a.taps as Float32Array[]).map((t, k): [Float32Array, Float32Array] => [t, (b.taps as Float32Array[])[k]])];
      for (const [p, q] of pairs) {
        const scale = maxAbs(p);
        let d = 0;
        for (let k = 0; k < p.length; k++) d = Math.max(d, Math.abs(p[k] - q[k]));
        const rel = scale > 0 ? d / scale : d;
        worst = Math.max(worst, rel);
        expect(rel, `${JSON.stringify(s)}`).toBeLessThanOrEqual(1e-3);
      }
    });
    console.log(`backends ${spec.id}: worst cpu/wasm difference ${worst.toExponential(2)} of the largest value`);
  });
});

describe('chooseBackend', () => {
  it('times the available backends, picks the fastest and reports unavailable ones with their error', async () => {
    const choice = await chooseBackend(['no-such-backend', 'cpu', 'wasm'], async (name) => (name === 'cpu' ? 5 : 2), 10_000);
    expect(choice.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.timingsMs).toEqual({ cpu: 5, wasm: 2 });
    expect(choice.skipped['no-such-backend']).toMatch(/^unavailable: /);
    expect(choice.reason).toMatch(/^wasm: fastest in the start-up benchmark \(2\.0 ms; cpu 5\.0 ms\); not used: no-such-backend/);
  });

  it('stops trying once the time cap is spent, and reports it', async () => {
    const choice = await chooseBackend(['cpu', 'wasm'], async () => {
      await new Promise((res) => setTimeout(res, 30));
      return 30;
    }, 10);
    expect(choice.name).toBe('cpu');
    expect(Object.keys(choice.timingsMs)).toEqual(['cpu']);
    expect(choice.skipped.wasm).toMatch(/not tried: the 10 ms benchmark budget was spent/);
  });

  it('a benchmark that throws counts as unavailable; none usable is an error', async () => {
    const choice = await chooseBackend(['wasm', 'cpu'], async (name) => {
      if (name === 'wasm') throw new Error('boom');
      return 1;
    }, 1000);
    expect(choice.name).toBe('cpu');
    expect(choice.skipped.wasm).toBe('unavailable: boom');
    await expect(chooseBackend(['no-such-backend'], async () => 1, 1000)).rejects.toThrow(/expected at least one usable backend/);
    await expect(forceBackend('no-such-backend')).rejects.toThrow(/backend 'no-such-backend': expected it to start/);
    expect((await forceBackend('cpu')).reason).toBe('cpu: chosen by the user');
  });
});
