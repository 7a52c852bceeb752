/**
 * The auralisation against the plain-loop reference with a real mask: the bundled default model's
 * deconvolution of a WAV file the test writes (an excerpt of the demo piece), SNR >= 60 dB.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { renderDemo } from '../../src/dsp/demo';
import { auraliseOffline } from '../../src/dsp/auralise';
import { stft } from '../../src/dsp/stft';
import { decodeWav, encodeWav } from '../../src/dsp/wav';
import { snrDb } from '../../src/dsp/level';
import { loadModelFromDir } from '../../src/model/node-io';
import { Analyzer } from '../../src/model/analyzer';
import { inputTensor, scaleMagnitudes } from '../../src/model/input';
import { referenceAuralise } from './reference-auralise';

const index = existsSync('models/index.json') ? (JSON.parse(readFileSync('models/index.json', 'utf8')) as { default: string }) : null;
const dir = index ? `models/${index.default}` : '';
const skip = !index || !existsSync(`${dir}/manifest.json`) ? `no bundled default model (models/index.json -> ${index?.default ?? 'none'})` : null;
if (skip) console.warn(`[skip] auralisation with the bundled model: ${skip}`);

describe.skipIf(!!skip)('auralisation with the bundled model', () => {
  it('mask x STFT -> ISTFT equals the plain-loop reference (SNR >= 60 dB) for a layer-3 feature of a real file', async () => {
    await tf.setBackend('wasm');
    const model = await loadModelFromDir(dir);
    const { sampleRateHz, nFft, hopSamples, scaling } = model.manifest.frontEnd;
    const W = model.manifest.inputShape[1], bins = model.manifest.inputShape[0];
    // A real file: 16-bit WAV of a demo excerpt, written and read back.
    const n = nFft + (W - 1) * hopSamples;
    const path = join(mkdtempSync(join(tmpdir(), 'auralscope-')), 'excerpt.wav');
    writeFileSync(path, encodeWav([renderDemo(sampleRateHz).subarray(sampleRateHz * 4, sampleRateHz * 4 + n)], sampleRateHz, 'pcm16'));
    const x = decodeWav(new Uint8Array(readFileSync(path))).channels[0];
    const { mag } = stft(x, { nFft, hopSamples });
    expect(mag.length).toBe(W);
    const frames = new Float32Array(W * bins);
    mag.forEach((m, t) => frames.set(m, t * bins));
    const analyzer = new Analyzer(model);
    const input = inputTensor(scaleMagnitudes(frames, scaling), W, bins);
    // The layer-3 feature with the strongest projection of this excerpt.
    let mask: Float32Array = new Float32Array(0), best = -1, feature = -1;
    for (let k = 0; k < model.manifest.taps[2].channels; k += 4) {
      const r = await analyzer.analyse(input, { layer: 2, feature: k, method: 'deconvnet' });
      const e = r.projection.reduce((a, v) => a + v * v, 0);
      if (e > best) { best = e; mask = r.projection; feature = k; }
    }
    input.dispose();
    analyzer.dispose();
    model.dispose();
    expect(best).toBeGreaterThan(0);
    const y = auraliseOffline(x, mask, { nFft, hopSamples }, { mode: 'solo', rectify: false, maskScale: 0 });
    const ref = referenceAuralise(x, mask, nFft, hopSamples);
    // Away from the first and last nFft - hop samples, where the two normalise the edges differently.
    const from = nFft, to = x.length - nFft;
    const snr = snrDb(Float32Array.from(ref.subarray(from, to)), y.subarray(from, to));
    console.log(`bundled model, layer 3 feature ${feature}: auralisation vs plain-loop reference SNR ${snr.toFixed(1)} dB`);
    expect(snr).toBeGreaterThanOrEqual(60);
  }, 120_000);
});
