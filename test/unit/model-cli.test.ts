/** The explain CLI on a fixture network and WAV files the test writes. */
import * as tf from '@tensorflow/tfjs';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { explain, parseExplainArgs, runExplain } from '../../src/cli/explain';
import type { ExplainOutput } from '../../src/cli/explain';
import { encodeWav } from '../../src/dsp/wav';
import { FIXTURE_A, makeFixture, mulberry32, writeFixture } from '../fixtures/fixture-net/make';

let dir = '';
let modelDir = '';
let wav8k = '';
let wav16kStereo = '';
let samples8k = new Float32Array(0);
const RATE = 8000; // the fixture's analysis rate; nFft 32, hop 16, 17 bins

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'auralscope-cli-'));
  modelDir = join(dir, 'model');
  // Window W = 48 >= 2 x RF(pool3) - 1, so every frame settles away from both window edges.
  await writeFixture(await makeFixture({ ...FIXTURE_A, windowFrames: 48 }), modelDir);
  const r = mulberry32(4);
  const n = Math.round(1.5 * RATE);
  const x = new Float32Array(n).map((_, i) => 0.4 * Math.sin((2 * Math.PI * 700 * i) / RATE) * (1 + Math.sin(i / 900)) + 0.1 * (r() - 0.5));
  samples8k = x;
  wav8k = join(dir, 'a.wav');
  await writeFile(wav8k, encodeWav([x], RATE, 'float32'));
  const m = Math.round(1.0 * 16000);
  const left = new Float32Array(m).map((_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 16000));
  wav16kStereo = join(dir, 'b.wav');
  await writeFile(wav16kStereo, encodeWav([left, left.map((v) => v * 0.5)], 16000, 'pcm16'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<ExplainOutput> {
  return explain(parseExplainArgs(args));
}

/** |DFT| of one frame with the periodic Hann window, plain loops in float64. */
function dftFrame(x: Float32Array, start: number, nFft: number): number[] {
  const out: number[] = [];
  for (let k = 0; k <= nFft / 2; k++) {
    let re = 0, im = 0;
    for (let i = 0; i < nFft; i++) {
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / nFft);
      re += w * x[start + i] * Math.cos((2 * Math.PI * k * i) / nFft);
      im -= w * x[start + i] * Math.sin((2 * Math.PI * k * i) / nFft);
    }
    out.push(Math.hypot(re, im));
  }
  return out;
}

describe('cli explain', () => {
  it('writes spectrogram, input, map, layers and per-window predictions; live windows agree with --whole', async () => {
    const out = join(dir, 'live.json');
    const live = await run([wav8k, '--layer', '3', '--feature', '1', '--method', 'deconvnet', '--model', modelDir, '--out', out, '--backend', 'cpu']);
    const whole = await run([wav8k, '--layer', '3', '--feature', '1', '--method', 'deconvnet', '--model', modelDir, '--out', join(dir, 'whole.json'), '--whole', '--backend', 'cpu']);
    const onDisk = JSON.parse(await readFile(out, 'utf8')) as ExplainOutput;
    expect(onDisk.frames).toBe(live.frames);
    expect([live.sampleRateHz, live.nFft, live.hopSamples, live.bins]).toEqual([RATE, 32, 16, 17]);
    expect(live.frames).toBe(Math.floor((1.5 * RATE - 32) / 16) + 1);
    for (const k of ['spectrogram', 'input', 'map'] as const) {
      expect(live[k].length).toBe(live.frames);
      expect(live[k][0].length).toBe(17);
    }
    expect([live.layer, live.layerName, live.feature, live.method]).toEqual([3, 'pool3', 1, 'deconvnet']);
    expect(live.layers.map((l) => [l.name, l.channels])).toEqual([['pool1', 4], ['pool2', 6], ['pool3', 8]]);
    // Live rule: hop groups of 2 from W = 48, plus the final frame count.
    expect(live.predictions.length).toBe(Math.ceil((live.frames - 48) / 2) + 1);
    expect(live.predictions[0]).toMatchObject({ startFrame: 0, endFrame: 48 });
    expect(live.predictions.every((p) => p.startFrame % 8 === 0 && p.endFrame - p.startFrame >= 48 && p.endFrame - p.startFrame < 56)).toBe(true);
    expect(live.predictions[0].predictions.map((p) => p.label)).toEqual(['alpha', 'beta', 'gamma']);
    expect(whole.predictions.length).toBe(1);
    // Spectrogram: an independent DFT of the samples written (float32 WAV: lossless); input: log(1 + |X|).
    const samples = samples8k;
    for (const t of [0, 100, live.frames - 1]) {
      const ref = dftFrame(samples, t * 16, 32);
      ref.forEach((v, k) => expect(live.spectrogram[t][k]).toBeCloseTo(v, 4));
      live.input[t].forEach((v, k) => expect(v).toBeCloseTo(Math.log1p(live.spectrogram[t][k]), 5));
    }
    // Anchored windows + settled frames: the live map equals the whole-file map.
    let maxAbs = 0, maxDiff = 0;
    for (let t = 0; t < live.frames; t++) for (let k = 0; k < 17; k++) {
      maxAbs = Math.max(maxAbs, Math.abs(whole.map[t][k]));
      maxDiff = Math.max(maxDiff, Math.abs(live.map[t][k] - whole.map[t][k]));
    }
    expect(maxAbs).toBeGreaterThan(0);
    expect(maxDiff / maxAbs).toBeLessThanOrEqual(1e-4);
  });

  it('downmixes and resamples any-rate multichannel PCM; gradcam uses the given label', async () => {
    const res = await run([wav16kStereo, '--layer', '2', '--feature', '0', '--method', 'gradcam', '--label', 'beta', '--model', modelDir, '--out', join(dir, 'b.json'), '--hop-group', '8']);
    expect(res.sourceSampleRateHz).toBe(16000);
    expect(res.sourceChannels).toBe(2);
    expect(res.frames).toBe(Math.floor((RATE - 32) / 16) + 1);
    // 1 kHz at 8 kHz with nFft 32: bin 4 is the peak in the middle of the file.
    const mid = res.spectrogram[Math.floor(res.frames / 2)];
    expect(mid.indexOf(Math.max(...mid))).toBe(4);
    expect(res.predictions.every((p) => p.labelUsed === 'beta')).toBe(true);
    expect(res.backend).toBe('wasm');
  });

  it('refuses bad arguments with the reason and the usage', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await runExplain([wav8k, '--layer', '1', '--feature', '0', '--method', 'lrp', '--out', 'x.json'])).toBe(2);
      expect(err.mock.calls.at(-1)?.[0]).toMatch(/--method: expected one of deconvnet, saliency, guided, gradcam, got 'lrp'[\s\S]*usage:/);
      expect(await runExplain([wav8k, '--layer', '4', '--feature', '0', '--method', 'saliency', '--model', modelDir, '--out', join(dir, 'x.json')])).toBe(2);
      expect(err.mock.calls.at(-1)?.[0]).toMatch(/--layer: expected 1\.\.3 \(Layer 1, Layer 2, Layer 3\), got 4/);
      expect(await runExplain([wav8k, '--layer', '1', '--feature', '0', '--method', 'saliency', '--label', 'delta', '--model', modelDir, '--out', join(dir, 'x.json')])).toBe(2);
      expect(err.mock.calls.at(-1)?.[0]).toMatch(/--label: expected one of alpha, beta, gamma, got 'delta'/);
      expect(await runExplain([wav8k, '--layer', '1', '--feature', '9', '--method', 'saliency', '--model', modelDir, '--out', join(dir, 'x.json')])).toBe(1);
      expect(err.mock.calls.at(-1)?.[0]).toMatch(/selection\.feature: expected an integer in 0\.\.3/);
    } finally {
      err.mockRestore();
    }
  });

  it('runs as `tsx src/cli/main.ts explain ...`', async () => {
    const out = join(dir, 'spawned.json');
    const { stderr } = await promisify(execFile)('npx', ['tsx', 'src/cli/main.ts', 'explain', wav8k, '--layer', '1', '--feature', '2', '--method', 'guided', '--model', modelDir, '--whole', '--out', out], { cwd: process.cwd() });
    expect(stderr).toMatch(/wrote .*spawned\.json/);
    const res = JSON.parse(await readFile(out, 'utf8')) as ExplainOutput;
    expect([res.method, res.layer, res.whole]).toEqual(['guided', 1, true]);
  });
});
