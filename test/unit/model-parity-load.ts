/**
 * Test helpers for the exported models: load a tfjs LayersModel from a folder in Node (no HTTP),
 * decode the parity fixtures written by training/export.py, and run every tap + the tags.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

/** One saved input and the trainer's outputs for it (test/fixtures/model-parity/<id>.json). */
export interface ParityCase {
  bins: number;
  frames: number;
  /** float16 little-endian input, [bins][frames] row-major. */
  inputFloat16Base64: string;
  tags: number[];
  taps: Record<string, { shape: number[]; mean: number; max: number }>;
  /** float32 little-endian pool5 activations, [H][W][C] row-major. */
  pool5Base64: string;
}

/** A parity fixture file. */
export interface ParityFixture {
  model: string;
  labels: string[];
  cases: ParityCase[];
}

interface WeightsGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

/** Loads models/<id>/model.json + shards with stock tf.loadLayersModel via tf.io.fromMemory. */
export async function loadLayersModelFromDir(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
    modelTopology: object;
    weightsManifest: WeightsGroup[];
  };
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(new Uint8Array(readFileSync(join(dir, p))));
  }
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    weightData.set(b, offset);
    offset += b.byteLength;
  }
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData: weightData.buffer }));
}

/** Decodes base64 float32 little-endian values. */
export function decodeFloat32Base64(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

/** Decodes base64 IEEE half floats (little-endian) to float32, exactly. */
export function decodeFloat16Base64(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  const out = new Float32Array(bytes.byteLength / 2);
  for (let i = 0; i < out.length; i++) {
    const h = (bytes[2 * i] ?? 0) | ((bytes[2 * i + 1] ?? 0) << 8);
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** Reads a parity fixture. */
export function readFixture(path: string): ParityFixture {
  return JSON.parse(readFileSync(path, 'utf8')) as ParityFixture;
}

/** Outputs of one case: every tap layer's activations [H, W, C] flattened, plus the tags. */
export interface CaseOutputs {
  taps: Record<string, { shape: number[]; values: Float32Array }>;
  tags: Float32Array;
}

/** Runs the model on one case's input, returning pool1..pool5 and the tags (disposes its tensors). */
export async function runCase(model: tf.LayersModel, c: ParityCase, tapNames: string[]): Promise<CaseOutputs> {
  const outputs = [...tapNames.map((n) => model.getLayer(n).output as tf.SymbolicTensor), model.outputs[0] as tf.SymbolicTensor];
  const multi = tf.model({ inputs: model.inputs, outputs });
  const x = tf.tensor4d(decodeFloat16Base64(c.inputFloat16Base64), [1, c.bins, c.frames, 1]);
  const ys = multi.predict(x) as tf.Tensor[];
  const taps: CaseOutputs['taps'] = {};
  for (let i = 0; i < tapNames.length; i++) {
    const y = ys[i] as tf.Tensor;
    taps[tapNames[i] as string] = { shape: y.shape.slice(1), values: (await y.data()) as Float32Array };
  }
  const tags = (await (ys[ys.length - 1] as tf.Tensor).data()) as Float32Array;
  x.dispose();
  ys.forEach((y) => y.dispose());
  return { taps, tags };
}
