/**
 * `npx tsx scripts/bench-deconv.ts [--model DIR] [--runs N]`: forward pass vs deconvnet analysis of
 * one window of the default model on tfjs wasm in Node (issue 4), median of N (default 20) after a
 * warm-up, and the cost of the first-max switch masks alone. Window = manifest.inputShape[1].
 * Not run by CI; run it under `nice` on a shared machine and compare runs made back to back.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { parseArgs } from 'node:util';
import { Analyzer } from '../src/model/analyzer';
import { loadModelFromDir } from '../src/model/node-io';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'models/auralscope-cnn16-16-32-64-64' }, runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);

/** The Analyzer's private forward pass, reached for timing only. */
interface ForwardAccess { forward(x: tf.Tensor4D): { outs: tf.Tensor4D[] } }

function median(ms: number[]): number {
  const s = [...ms].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time(label: string, fn: () => Promise<void>): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  const m = median(ms);
  console.log(`${label.padEnd(34)} median ${m.toFixed(1).padStart(7)} ms  min ${Math.min(...ms).toFixed(1).padStart(7)} ms`);
  return m;
}

async function main(): Promise<void> {
  if (!(await tf.setBackend('wasm'))) throw new Error("backend 'wasm': expected it to start, got unavailable");
  const model = await loadModelFromDir(values.model as string);
  const an = new Analyzer(model);
  const [bins, frames] = model.manifest.inputShape;
  const x = tf.randomUniform([1, bins, frames, 1], 0, 3, 'float32', 1) as tf.Tensor4D;
  console.log(`${model.manifest.id}: ${bins} x ${frames}, ${model.graph.taps.length} taps, wasm, ${runs} runs`);
  const fwd = an as unknown as ForwardAccess;
  const forwardMs = await time('forward only', async () => {
    const last = tf.tidy(() => {
      const outs = fwd.forward(x).outs;
      return tf.stack(outs.map((o) => tf.sum(o)));
    });
    await last.data();
    last.dispose();
  });
  for (const layer of [0, model.graph.taps.length - 1]) {
    for (const method of ['deconvnet', 'saliency'] as const) {
      const ms = await time(`analyse ${method} tap ${layer + 1}`, async () => {
        await an.analyse(x, { layer, feature: 0, method });
      });
      console.log(`${''.padEnd(34)} = ${(ms / forwardMs).toFixed(2)} x forward`);
    }
  }
  x.dispose();
  an.dispose();
  model.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
