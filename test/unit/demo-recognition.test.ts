/**
 * The built-in demo piece through the bundled default model (Node, tfjs-wasm, the live window rule's
 * window size): which of the demo's instruments the model recognises. Prints every tag's mean
 * probability; asserts what holds today (drums and bass), so a regression in the model, the front
 * end or the demo fails here.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { DEMO_PARTS, renderDemo } from '../../src/dsp/demo';
import { stft } from '../../src/dsp/stft';
import { loadModelFromDir } from '../../src/model/node-io';
import { Analyzer } from '../../src/model/analyzer';
import { inputTensor, scaleMagnitudes } from '../../src/model/input';

const index = existsSync('models/index.json') ? (JSON.parse(readFileSync('models/index.json', 'utf8')) as { default: string }) : null;
const dir = index ? `models/${index.default}` : '';
const skip = !index || !existsSync(`${dir}/manifest.json`) ? `no bundled default model (models/index.json -> ${index?.default ?? 'none'})` : null;
if (skip) console.warn(`[skip] demo recognition: ${skip}`);

describe.skipIf(!!skip)('the demo piece through the bundled model', () => {
  it('recognises the demo\'s drums and bass (mean p > 0.5 over 4-s windows) and ranks them above every absent instrument', async () => {
    await tf.setBackend('wasm');
    const model = await loadModelFromDir(dir);
    const analyzer = new Analyzer(model);
    const { sampleRateHz, nFft, hopSamples, scaling } = { ...model.manifest.frontEnd };
    const { mag } = stft(renderDemo(sampleRateHz), { nFft, hopSamples });
    const W = model.manifest.inputShape[1], bins = model.manifest.inputShape[0];
    const labels = model.manifest.labels;
    const sums = new Float64Array(labels.length);
    let windows = 0;
    for (let s = 0; s + W <= mag.length; s += 32) {
      const f = new Float32Array(W * bins);
      for (let j = 0; j < W; j++) f.set(mag[s + j], j * bins);
      const input = inputTensor(scaleMagnitudes(f, scaling), W, bins);
      const r = await analyzer.analyse(input, { layer: 0, feature: 0, method: 'deconvnet' });
      input.dispose();
      r.predictions.forEach((p, i) => (sums[i] += p));
      windows++;
    }
    analyzer.dispose();
    model.dispose();
    const mean = new Map(labels.map((l, i) => [l, sums[i] / windows]));
    const present = new Set(DEMO_PARTS.map((p) => p.label as string));
    console.log(`demo through ${index!.default} (${windows} windows): ` +
      [...mean].sort((a, b) => b[1] - a[1]).map(([l, p]) => `${l}${present.has(l) ? '*' : ''} ${p.toFixed(2)}`).join(', ') + '  (* = in the demo)');
    const recognised = [...present].filter((l) => (mean.get(l) ?? 0) > 0.5);
    console.log(`recognised (p > 0.5): ${recognised.join(', ') || 'none'} of ${[...present].join(', ')}`);
    const absentTop = Math.max(...[...mean].filter(([l]) => !present.has(l)).map(([, p]) => p));
    for (const l of ['drums', 'bass']) {
      expect(mean.get(l), l).toBeGreaterThan(0.5);
      expect(mean.get(l), l).toBeGreaterThan(absentTop);
    }
  });
});
