/**
 * The built-in demo piece through the bundled default model (Node, tfjs-wasm, the live window rule's
 * window size): which of the demo's instruments the model recognises. Prints every tag's mean
 * probability over the 4-s windows (stride 32 frames) and asserts what holds today, so a regression
 * in the model, the front end or the demo's synthesis fails here:
 *  - in the whole mix, drums, bass, strings and reed (the sax): each mean p > 0.5 and above every
 *    tag of an instrument absent from the demo. The piano is not recognised in the mix (printed).
 *  - the piano stem alone (all windows): piano, mean p > 0.5 and above every absent tag.
 *  - the sax stem alone, over the windows that lie inside bars 4-6: reed, mean p > 0.5 and above
 *    every absent tag (pipe, the flute family, included). */
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_BPM, DEMO_PARTS, renderDemo, renderDemoStems } from '../../src/dsp/demo';
import { stft } from '../../src/dsp/stft';
import { loadModelFromDir } from '../../src/model/node-io';
import { Analyzer } from '../../src/model/analyzer';
import type { LoadedModel } from '../../src/model/load';
import { inputTensor, scaleMagnitudes } from '../../src/model/input';

const index = existsSync('models/index.json') ? (JSON.parse(readFileSync('models/index.json', 'utf8')) as { default: string }) : null;
const dir = index ? `models/${index.default}` : '';
const skip = !index || !existsSync(`${dir}/manifest.json`) ? `no bundled default model (models/index.json -> ${index?.default ?? 'none'})` : null;
if (skip) console.warn(`[skip] demo recognition: ${skip}`);

const present = new Set(DEMO_PARTS.map((p) => p.label as string));
const BAR_S = (4 * 60) / DEMO_BPM;

describe.skipIf(!!skip)('the demo piece through the bundled model', () => {
  let model: LoadedModel;
  let analyzer: Analyzer;
  beforeAll(async () => {
    await tf.setBackend('wasm');
    model = await loadModelFromDir(dir);
    analyzer = new Analyzer(model);
  });
  afterAll(() => {
    analyzer?.dispose();
    model?.dispose();
  });

  /** Mean probability per tag over the model windows (stride 32 frames) lying inside [fromS, toS]. */
  async function meanTags(x: Float32Array, fromS = 0, toS = Infinity): Promise<Map<string, number>> {
    const { sampleRateHz, nFft, hopSamples, scaling } = { ...model.manifest.frontEnd };
    const { mag } = stft(x, { nFft, hopSamples });
    const W = model.manifest.inputShape[1], bins = model.manifest.inputShape[0];
    const labels = model.manifest.labels;
    const firstFrame = Math.ceil((fromS * sampleRateHz) / hopSamples);
    const endFrame = Math.min(mag.length, Math.floor((toS * sampleRateHz - nFft) / hopSamples) + 1);
    const sums = new Float64Array(labels.length);
    let windows = 0;
    for (let s = firstFrame; s + W <= endFrame; s += 32) {
      const f = new Float32Array(W * bins);
      for (let j = 0; j < W; j++) f.set(mag[s + j], j * bins);
      const input = inputTensor(scaleMagnitudes(f, scaling), W, bins);
      const r = await analyzer.analyse(input, { layer: 0, feature: 0, method: 'deconvnet' });
      input.dispose();
      r.predictions.forEach((p, i) => (sums[i] += p));
      windows++;
    }
    expect(windows, 'windows analysed').toBeGreaterThan(0);
    return new Map(labels.map((l, i) => [l, sums[i] / windows]));
  }

  function report(what: string, mean: Map<string, number>): void {
    console.log(`${what} through ${index!.default}: ` +
      [...mean].sort((a, b) => b[1] - a[1]).map(([l, p]) => `${l}${present.has(l) ? '*' : ''} ${p.toFixed(2)}`).join(', ') + '  (* = in the demo)');
  }

  function expectRecognised(mean: Map<string, number>, tags: readonly string[]): void {
    const absentTop = Math.max(...[...mean].filter(([l]) => !present.has(l)).map(([, p]) => p));
    for (const l of tags) {
      expect(mean.get(l), l).toBeGreaterThan(0.5);
      expect(mean.get(l), `${l} vs the top absent tag`).toBeGreaterThan(absentTop);
    }
  }

  it('recognises the demo\'s drums, bass, strings and sax (reed) in the mix (mean p > 0.5 over 4-s windows) and ranks them above every absent instrument', async () => {
    const mean = await meanTags(renderDemo(model.manifest.frontEnd.sampleRateHz));
    report('demo mix', mean);
    const recognised = [...present].filter((l) => (mean.get(l) ?? 0) > 0.5);
    console.log(`recognised in the mix (p > 0.5): ${recognised.join(', ') || 'none'} of ${[...present].join(', ')}`);
    expectRecognised(mean, ['drums', 'bass', 'strings', 'reed']);
  });

  it('recognises the piano stem alone as piano, and the sax stem (inside its bars) as reed, above every absent instrument', async () => {
    const stems = renderDemoStems(model.manifest.frontEnd.sampleRateHz);
    const piano = await meanTags(stems.get('piano')!);
    report('piano stem', piano);
    // The sax plays bars 3-6 and 8: the windows wholly inside bars 4-6.
    const sax = await meanTags(stems.get('sax')!, 3 * BAR_S, 6 * BAR_S);
    report('sax stem, bars 4-6', sax);
    expectRecognised(piano, ['piano']);
    expectRecognised(sax, ['reed']);
  });
});
