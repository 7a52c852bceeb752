/**
 * The normalisation layers of Choi's released networks (issue 8): per-input LayerNormalization
 * ('norm'), 1x1 DepthwiseConv2D and inference-time BatchNormalization along frequency, time or
 * channels ('affine'), with ELU. Fixture nets built and saved by tfjs-layers itself; the analyzer
 * against tfjs-layers' own predict, a plain-loop float64 reference written here, central finite
 * differences of that reference and its plain-loop gradient (saliency, guided backprop), its
 * frozen-statistics deconvnet (Analyzer and BatchedDeconv); and every refusal.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { Analyzer, METHODS } from '../../src/model/analyzer';
import type { Method, Selection } from '../../src/model/analyzer';
import { BatchedDeconv } from '../../src/model/features';
import { isWindowDependent } from '../../src/model/graph';
import { loadModel } from '../../src/model/load';
import { FIXTURE_A, fixtureHandler, makeFixture, mulberry32 } from '../fixtures/fixture-net/make';
import type { Fixture, FixtureLayer, FixtureSpec } from '../fixtures/fixture-net/make';

// ---------------------------------------------------------------- fixtures

/** Fixed window: batch norm along time on the input, along frequency mid-trunk and along channels. */
const NORM_FIXED: FixtureSpec = {
  id: 'fixture-norm-fixed',
  bins: 11,
  windowFrames: 12,
  api: 'functional',
  fixedFrames: true,
  layers: [
    { type: 'bn', name: 'bn_time', axis: 2 },
    { type: 'conv', name: 'conv1', filters: 4, kernel: [3, 3], padding: 'same', activation: 'linear' },
    { type: 'norm', name: 'norm1' },
    { type: 'depthwise', name: 'dw1', useBias: true },
    { type: 'act', name: 'elu1', activation: 'elu' },
    { type: 'pool', name: 'pool1', pool: [2, 2] },
    { type: 'bn', name: 'bn_freq', axis: 1, center: false },
    { type: 'conv', name: 'conv2', filters: 5, kernel: [3, 3], padding: 'valid', activation: 'elu' },
    { type: 'norm', name: 'norm2', epsilon: 1e-2 },
    { type: 'pool', name: 'pool2', pool: [1, 2] },
    { type: 'bn', name: 'bn_chan', axis: -1, scale: false },
    { type: 'gap', name: 'gap' },
    { type: 'dense', name: 'tags', units: 3, activation: 'sigmoid' },
  ],
  taps: ['norm1', 'pool1', 'norm2', 'bn_chan'],
  labels: ['p', 'q', 'r'],
  seed: 4242,
};

/** Any window length: the statistics of the norm layers span whatever window is analysed. */
const NORM_FREE: FixtureSpec = {
  id: 'fixture-norm-free',
  bins: 9,
  windowFrames: 10,
  api: 'functional',
  layers: [
    { type: 'conv', name: 'conv1', filters: 3, kernel: [3, 3], padding: 'same', activation: 'relu' },
    { type: 'norm', name: 'norm1' },
    { type: 'depthwise', name: 'dw1', useBias: false },
    { type: 'pool', name: 'pool1', pool: [2, 2] },
    { type: 'conv', name: 'conv2', filters: 4, kernel: [3, 3], padding: 'same', activation: 'linear' },
    { type: 'act', name: 'elu2', activation: 'elu' },
    { type: 'norm', name: 'norm2' },
    { type: 'pool', name: 'pool2', pool: [2, 2] },
    { type: 'bn', name: 'bn_chan', axis: 3 },
    { type: 'gap', name: 'gap' },
    { type: 'dense', name: 'hidden', units: 5, activation: 'relu' },
    { type: 'dense', name: 'tags', units: 2, activation: 'sigmoid' },
  ],
  taps: ['norm1', 'pool1', 'norm2', 'pool2', 'bn_chan'],
  labels: ['u', 'v'],
  seed: 78,
};

// ---------------------------------------------------------------- float64 reference

/** h x w x c map, index (i * w + j) * c + k. */
interface Map3 { h: number; w: number; c: number; d: Float64Array }

const map3 = (h: number, w: number, c: number): Map3 => ({ h, w, c, d: new Float64Array(h * w * c) });

interface RefLayer {
  spec: FixtureLayer;
  input: Map3;
  out: Map3;
  /** pool: index into `input` of each output cell's first maximum. */
  switches?: Int32Array;
  /** norm: 1 / sqrt(var + eps) per channel. */
  invStd?: Float64Array;
  /** affine: scale and shift along `axis` (1..3). */
  affine?: { axis: number; scale: Float64Array; shift: Float64Array };
}

interface RefForward {
  layers: RefLayer[];
  /** Input and output of every dense layer of the head. */
  head: { input: Float64Array; out: Float64Array }[];
  logits: Float64Array;
  probs: Float64Array;
}

function convW(f: Fixture, name: string): { k: Float32Array; kh: number; kw: number; cin: number; cout: number; b: Float32Array } {
  const w = f.weights.get(name);
  if (!w) throw new Error(`no weights ${name}`);
  const s = w.kernelShape;
  return { k: w.kernel, kh: s[0], kw: s[1], cin: s[2], cout: s[3], b: w.bias };
}

function param(f: Fixture, layer: string, kind: string): Float32Array | undefined {
  return f.params?.get(layer)?.get(kind);
}

/** Scale and shift of a depthwise or batch-norm layer, computed in float64 from its raw weights. */
function affineOf(f: Fixture, l: Extract<FixtureLayer, { type: 'depthwise' | 'bn' }>, n: number): { axis: number; scale: Float64Array; shift: Float64Array } {
  const scale = new Float64Array(n);
  const shift = new Float64Array(n);
  if (l.type === 'depthwise') {
    const k = param(f, l.name, 'depthwise_kernel') as Float32Array;
    const b = param(f, l.name, 'bias');
    for (let i = 0; i < n; i++) {
      scale[i] = k[i];
      shift[i] = b ? b[i] : 0;
    }
    return { axis: 3, scale, shift };
  }
  const mean = param(f, l.name, 'moving_mean') as Float32Array;
  const variance = param(f, l.name, 'moving_variance') as Float32Array;
  const gamma = param(f, l.name, 'gamma');
  const beta = param(f, l.name, 'beta');
  const eps = l.epsilon ?? 1e-3;
  for (let i = 0; i < n; i++) {
    scale[i] = (gamma ? gamma[i] : 1) / Math.sqrt(variance[i] + eps);
    shift[i] = (beta ? beta[i] : 0) - mean[i] * scale[i];
  }
  return { axis: l.axis < 0 ? l.axis + 4 : l.axis, scale, shift };
}

const elu = (z: number): number => (z > 0 ? z : Math.expm1(z));

function refForward(f: Fixture, input: Map3): RefForward {
  const layers: RefLayer[] = [];
  let x = input;
  const specs = f.spec.layers;
  let at = 0;
  for (; at < specs.length; at++) {
    const l = specs[at];
    if (l.type === 'gap' || l.type === 'gmp' || l.type === 'flatten') break;
    const layer: RefLayer = { spec: l, input: x, out: x };
    if (l.type === 'conv') {
      const k = convW(f, l.name);
      const [oh, ow, ph, pw] = l.padding === 'same' ? [x.h, x.w, (k.kh - 1) / 2, (k.kw - 1) / 2] : [x.h - k.kh + 1, x.w - k.kw + 1, 0, 0];
      const y = map3(oh, ow, k.cout);
      for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) for (let o = 0; o < k.cout; o++) {
        let s = k.b[o];
        for (let di = 0; di < k.kh; di++) for (let dj = 0; dj < k.kw; dj++) {
          const r = i + di - ph;
          const q = j + dj - pw;
          if (r < 0 || r >= x.h || q < 0 || q >= x.w) continue;
          for (let ci = 0; ci < k.cin; ci++) s += x.d[(r * x.w + q) * x.c + ci] * k.k[((di * k.kw + dj) * k.cin + ci) * k.cout + o];
        }
        y.d[(i * ow + j) * k.cout + o] = l.activation === 'relu' ? Math.max(0, s) : l.activation === 'elu' ? elu(s) : s;
      }
      layer.out = y;
    } else if (l.type === 'act') {
      const y = map3(x.h, x.w, x.c);
      for (let p = 0; p < y.d.length; p++) y.d[p] = l.activation === 'relu' ? Math.max(0, x.d[p]) : elu(x.d[p]);
      layer.out = y;
    } else if (l.type === 'pool') {
      const [ph, pw] = l.pool;
      const oh = Math.floor(x.h / ph);
      const ow = Math.floor(x.w / pw);
      const y = map3(oh, ow, x.c);
      const sw = new Int32Array(oh * ow * x.c);
      for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) for (let c = 0; c < x.c; c++) {
        let best = -Infinity;
        let idx = -1;
        for (let r = 0; r < ph; r++) for (let s = 0; s < pw; s++) {
          const p = ((i * ph + r) * x.w + (j * pw + s)) * x.c + c;
          if (x.d[p] > best) {
            best = x.d[p];
            idx = p;
          }
        }
        y.d[(i * ow + j) * x.c + c] = best;
        sw[(i * ow + j) * x.c + c] = idx;
      }
      layer.out = y;
      layer.switches = sw;
    } else if (l.type === 'norm') {
      const eps = l.epsilon ?? 1e-3;
      const n = x.h * x.w;
      const y = map3(x.h, x.w, x.c);
      const invStd = new Float64Array(x.c);
      for (let c = 0; c < x.c; c++) {
        let m = 0;
        for (let p = 0; p < n; p++) m += x.d[p * x.c + c];
        m /= n;
        let v = 0;
        for (let p = 0; p < n; p++) v += (x.d[p * x.c + c] - m) ** 2;
        invStd[c] = 1 / Math.sqrt(v / n + eps);
        for (let p = 0; p < n; p++) y.d[p * x.c + c] = (x.d[p * x.c + c] - m) * invStd[c];
      }
      layer.out = y;
      layer.invStd = invStd;
    } else if (l.type === 'depthwise' || l.type === 'bn') {
      const axis = l.type === 'depthwise' ? 3 : l.axis < 0 ? l.axis + 4 : l.axis;
      const a = affineOf(f, l, [x.h, x.w, x.c][axis - 1]);
      const y = map3(x.h, x.w, x.c);
      for (let i = 0; i < x.h; i++) for (let j = 0; j < x.w; j++) for (let c = 0; c < x.c; c++) {
        const q = [i, j, c][axis - 1];
        const p = (i * x.w + j) * x.c + c;
        y.d[p] = x.d[p] * a.scale[q] + a.shift[q];
      }
      layer.out = y;
      layer.affine = a;
    } else {
      throw new Error(`reference: layer ${l.type} not in the trunk`);
    }
    layers.push(layer);
    x = layer.out;
  }
  const red = specs[at];
  if (red.type !== 'gap') throw new Error('reference: only GAP heads here');
  let v = new Float64Array(x.c);
  for (let p = 0; p < x.h * x.w; p++) for (let c = 0; c < x.c; c++) v[c] += x.d[p * x.c + c] / (x.h * x.w);
  const head: RefForward['head'] = [];
  for (const l of specs.slice(at + 1)) {
    if (l.type !== 'dense') throw new Error('reference: only dense layers in the head');
    const k = f.weights.get(l.name);
    if (!k) throw new Error(`no weights ${l.name}`);
    const z = new Float64Array(l.units);
    for (let o = 0; o < l.units; o++) {
      let s = k.bias[o];
      for (let i = 0; i < v.length; i++) s += v[i] * k.kernel[i * l.units + o];
      z[o] = l.activation === 'relu' ? Math.max(0, s) : s;
    }
    head.push({ input: v, out: z });
    v = z;
  }
  return { layers, head, logits: v, probs: v.map((z) => 1 / (1 + Math.exp(-z))) };
}

/** Deconvnet from one tap feature down to the input, every norm's statistics frozen at their forward values. */
function refDeconv(f: Fixture, fwd: RefForward, tapName: string, feature: number): Map3 {
  const top = fwd.layers.findIndex((l) => l.spec.name === tapName);
  const act = fwd.layers[top].out;
  let g = map3(act.h, act.w, act.c);
  for (let p = 0; p < act.h * act.w; p++) g.d[p * act.c + feature] = act.d[p * act.c + feature];
  for (let li = top; li >= 0; li--) {
    const layer = fwd.layers[li];
    const l = layer.spec;
    const x = layer.input;
    if (l.type === 'pool') {
      const up = map3(x.h, x.w, x.c);
      (layer.switches as Int32Array).forEach((src, p) => { up.d[src] += g.d[p]; });
      g = up;
    } else if (l.type === 'act' || l.type === 'conv') {
      const rectify = l.activation !== 'linear';
      if (rectify) g = { ...g, d: g.d.map((v) => Math.max(0, v)) };
      if (l.type === 'conv') {
        const k = convW(f, l.name);
        const [ph, pw] = l.padding === 'same' ? [(k.kh - 1) / 2, (k.kw - 1) / 2] : [0, 0];
        const back = map3(x.h, x.w, k.cin);
        for (let i = 0; i < g.h; i++) for (let j = 0; j < g.w; j++) for (let o = 0; o < k.cout; o++) {
          const v = g.d[(i * g.w + j) * g.c + o];
          if (v === 0) continue;
          for (let di = 0; di < k.kh; di++) for (let dj = 0; dj < k.kw; dj++) {
            const r = i + di - ph;
            const q = j + dj - pw;
            if (r < 0 || r >= x.h || q < 0 || q >= x.w) continue;
            for (let ci = 0; ci < k.cin; ci++) back.d[(r * x.w + q) * k.cin + ci] += v * k.k[((di * k.kw + dj) * k.cin + ci) * k.cout + o];
          }
        }
        g = back;
      }
    } else if (l.type === 'norm') {
      const inv = layer.invStd as Float64Array;
      g = { ...g, d: g.d.map((v, p) => v * inv[p % g.c]) };
    } else {
      const a = layer.affine as NonNullable<RefLayer['affine']>;
      g = { ...g, d: g.d.map((v, p) => { const c = p % g.c; const j = Math.floor(p / g.c) % g.w; const i = Math.floor(p / (g.c * g.w)); return v * a.scale[[i, j, c][a.axis - 1]]; }) };
    }
  }
  return g;
}

/**
 * Gradient of a label's logit w.r.t. the input (rule 'grad'), or guided backprop ('guided': the
 * signal is also rectified at every ReLU/ELU): plain loops, the exact instance-norm gradient.
 */
function refGradient(f: Fixture, fwd: RefForward, label: number, rule: 'grad' | 'guided'): Map3 {
  const specs = f.spec.layers.filter((l) => l.type === 'dense') as Extract<FixtureLayer, { type: 'dense' }>[];
  let gv = new Float64Array(fwd.logits.length);
  gv[label] = 1;
  for (let d = specs.length - 1; d >= 0; d--) {
    const l = specs[d];
    const { input, out } = fwd.head[d];
    if (l.activation === 'relu') gv = gv.map((v, o) => (rule === 'guided' ? Math.max(0, v) : v) * (out[o] > 0 ? 1 : 0));
    const k = f.weights.get(l.name) as { kernel: Float32Array };
    const gi = new Float64Array(input.length);
    for (let i = 0; i < input.length; i++) for (let o = 0; o < l.units; o++) gi[i] += gv[o] * k.kernel[i * l.units + o];
    gv = gi;
  }
  const last = fwd.layers[fwd.layers.length - 1].out;
  const g = map3(last.h, last.w, last.c);
  for (let p = 0; p < last.h * last.w; p++) for (let c = 0; c < last.c; c++) g.d[p * last.c + c] = gv[c] / (last.h * last.w);
  return refTrunkBack(f, fwd, g, fwd.layers.length - 1, rule);
}

/** The 'grad' / 'guided' chain from the output of trunk layer `top` (signal g0 there) down to the input. */
function refTrunkBack(f: Fixture, fwd: RefForward, g0: Map3, top: number, rule: 'grad' | 'guided'): Map3 {
  let g = g0;
  const dAct = (a: string, y: number): number => (a === 'relu' ? (y > 0 ? 1 : 0) : a === 'elu' ? (y > 0 ? 1 : y + 1) : 1);
  for (let li = top; li >= 0; li--) {
    const layer = fwd.layers[li];
    const l = layer.spec;
    const x = layer.input;
    if (l.type === 'pool') {
      const up = map3(x.h, x.w, x.c);
      (layer.switches as Int32Array).forEach((src, p) => { up.d[src] += g.d[p]; });
      g = up;
    } else if (l.type === 'act' || l.type === 'conv') {
      if (l.activation !== 'linear') {
        const y = layer.out;
        g = { ...g, d: g.d.map((v, p) => (rule === 'guided' ? Math.max(0, v) : v) * dAct(l.activation, y.d[p])) };
      }
      if (l.type === 'conv') {
        const k = convW(f, l.name);
        const [ph, pw] = l.padding === 'same' ? [(k.kh - 1) / 2, (k.kw - 1) / 2] : [0, 0];
        const back = map3(x.h, x.w, k.cin);
        for (let i = 0; i < g.h; i++) for (let j = 0; j < g.w; j++) for (let o = 0; o < k.cout; o++) {
          const v = g.d[(i * g.w + j) * g.c + o];
          for (let di = 0; di < k.kh; di++) for (let dj = 0; dj < k.kw; dj++) {
            const r = i + di - ph;
            const q = j + dj - pw;
            if (r < 0 || r >= x.h || q < 0 || q >= x.w) continue;
            for (let ci = 0; ci < k.cin; ci++) back.d[(r * x.w + q) * k.cin + ci] += v * k.k[((di * k.kw + dj) * k.cin + ci) * k.cout + o];
          }
        }
        g = back;
      }
    } else if (l.type === 'norm') {
      // g_x = (g - mean(g) - xhat * mean(g * xhat)) / sigma, means over height x width per channel.
      const inv = layer.invStd as Float64Array;
      const xhat = layer.out;
      const n = g.h * g.w;
      const out = map3(g.h, g.w, g.c);
      for (let c = 0; c < g.c; c++) {
        let mg = 0;
        let mgx = 0;
        for (let p = 0; p < n; p++) {
          mg += g.d[p * g.c + c] / n;
          mgx += (g.d[p * g.c + c] * xhat.d[p * g.c + c]) / n;
        }
        for (let p = 0; p < n; p++) out.d[p * g.c + c] = (g.d[p * g.c + c] - mg - xhat.d[p * g.c + c] * mgx) * inv[c];
      }
      g = out;
    } else {
      const a = layer.affine as NonNullable<RefLayer['affine']>;
      g = { ...g, d: g.d.map((v, p) => { const c = p % g.c; const j = Math.floor(p / g.c) % g.w; const i = Math.floor(p / (g.c * g.w)); return v * a.scale[[i, j, c][a.axis - 1]]; }) };
    }
  }
  return g;
}

// ---------------------------------------------------------------- helpers

function randomInput(bins: number, frames: number, seed: number): Map3 {
  const rand = mulberry32(seed);
  const x = map3(bins, frames, 1);
  for (let p = 0; p < x.d.length; p++) x.d[p] = 3 * rand();
  return x;
}

const toTensor = (x: Map3): tf.Tensor4D => tf.tensor4d(Float32Array.from(x.d), [1, x.h, x.w, 1]);

/** ||a - b|| / ||b||. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  expect(den).toBeGreaterThan(0);
  return Math.sqrt(num / den);
}

/** The analyzer's [frames, bins] projection as a bins x frames map (the reference's layout). */
function projectionAsMap(p: Float32Array, bins: number, frames: number): Float64Array {
  const out = new Float64Array(bins * frames);
  for (let t = 0; t < frames; t++) for (let b = 0; b < bins; b++) out[b * frames + t] = p[t * bins + b];
  return out;
}

const fixtures = new Map<string, Fixture>();
beforeAll(async () => {
  await tf.setBackend('cpu');
  for (const spec of [NORM_FIXED, NORM_FREE]) fixtures.set(spec.id, await makeFixture(spec));
});

/** Fixture id and the window lengths analysed. */
const cases: [string, number[]][] = [[NORM_FIXED.id, [12]], [NORM_FREE.id, [10, 15]]];

/**
 * Fixtures whose numbers tfjs-layers' own predict gets right. Not NORM_FIXED: tfjs 4.22's batchNorm
 * kernels (cpu and wasm) index mean/variance/scale/offset cyclically over the flat tensor, i.e.
 * broadcast them along the LAST axis only, so its BatchNormalization along frequency or time
 * computes wrong values (checked by hand against the formula: off by ~1 on unit-scale data, while
 * the channel axis agrees to 2e-7). tfjs-layers still loads that model.json and runs it.
 */
const TFJS_JUDGES = new Set([NORM_FREE.id]);
const SPECS = new Map([NORM_FIXED, NORM_FREE].map((s) => [s.id, s]));

// ---------------------------------------------------------------- forward and backward

describe.each(['cpu', 'wasm'])('normalisation layers on %s', (backend) => {
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
  });

  it.each(cases)('%s: every tap and the predictions equal the float64 reference and (where right) tfjs-layers predict', async (id, frameList) => {
    const f = fixtures.get(id) as Fixture;
    const spec = SPECS.get(id) as FixtureSpec;
    const model = await loadModel(fixtureHandler(f), f.manifest);
    const analyzer = new Analyzer(model);
    // tfjs-layers reads the same model.json itself: it must stay a stock tfjs model.
    const keras = await tf.loadLayersModel(fixtureHandler(f));
    const probe = tf.model({ inputs: keras.inputs, outputs: [...spec.taps.map((t) => keras.getLayer(t).output as tf.SymbolicTensor), keras.outputs[0]] });
    try {
      for (const frames of frameList) {
        const x = randomInput(spec.bins, frames, 1000 + frames);
        const ref = refForward(f, x);
        const input = toTensor(x);
        const res = await analyzer.analyse(input, { layer: 0, feature: 0, method: 'deconvnet' }, { readTaps: true });
        const theirs = probe.predict(input) as tf.Tensor[];
        const theirData = await Promise.all(theirs.map((t) => t.data()));
        tf.dispose([input, ...theirs]);
        spec.taps.forEach((t, i) => {
          const refOut = ref.layers.find((l) => l.spec.name === t)?.out as Map3;
          const ours = (res.taps as Float32Array[])[i];
          expect(relErr(ours, refOut.d), `${t} vs reference, ${frames} frames`).toBeLessThan(1e-4);
          if (TFJS_JUDGES.has(id)) expect(relErr(ours, theirData[i]), `${t} vs tfjs-layers, ${frames} frames`).toBeLessThan(1e-4);
        });
        expect(relErr(res.predictions, ref.probs)).toBeLessThan(1e-4);
        const theirProbs = theirData[spec.taps.length];
        if (TFJS_JUDGES.has(id)) expect(relErr(res.predictions, theirProbs)).toBeLessThan(1e-5);
        else expect(theirProbs.every((p) => p > 0 && p < 1)).toBe(true); // loaded and ran
      }
    } finally {
      keras.dispose();
      analyzer.dispose();
      model.dispose();
    }
  });

  it.each(cases)('%s: saliency of a label logit equals central differences of the float64 reference', async (id, frameList) => {
    const f = fixtures.get(id) as Fixture;
    const spec = SPECS.get(id) as FixtureSpec;
    const model = await loadModel(fixtureHandler(f), f.manifest, { warmUp: false });
    const analyzer = new Analyzer(model);
    try {
      for (const frames of frameList) {
        const x = randomInput(spec.bins, frames, 2000 + frames);
        const rand = mulberry32(frames);
        for (let label = 0; label < spec.labels.length && label < 2; label++) {
          const input = toTensor(x);
          const res = await analyzer.analyse(input, { layer: 0, feature: 0, method: 'saliency', label });
          input.dispose();
          expect(res.labelUsed).toBe(label);
          const ours = projectionAsMap(res.projection, spec.bins, frames);
          const got: number[] = [];
          const want: number[] = [];
          const h = 1e-5;
          for (let n = 0; n < 8; n++) {
            const p = Math.floor(rand() * x.d.length);
            const v = x.d[p];
            x.d[p] = v + h;
            const up = refForward(f, x).logits[label];
            x.d[p] = v - h;
            const down = refForward(f, x).logits[label];
            x.d[p] = v;
            got.push(ours[p]);
            want.push((up - down) / (2 * h));
          }
          expect(relErr(got, want), `label ${label}, ${frames} frames: ${got} vs ${want}`).toBeLessThan(1e-4);
        }
      }
    } finally {
      analyzer.dispose();
      model.dispose();
    }
  });

  it.each(cases)('%s: saliency and guided backprop of a label equal the plain-loop gradient (exact instance-norm gradient)', async (id, frameList) => {
    const f = fixtures.get(id) as Fixture;
    const spec = SPECS.get(id) as FixtureSpec;
    const model = await loadModel(fixtureHandler(f), f.manifest, { warmUp: false });
    const analyzer = new Analyzer(model);
    try {
      for (const frames of frameList) {
        const x = randomInput(spec.bins, frames, 4000 + frames);
        const ref = refForward(f, x);
        const input = toTensor(x);
        for (let label = 0; label < spec.labels.length; label++) {
          for (const method of ['saliency', 'guided'] as const) {
            const res = await analyzer.analyse(input, { layer: 0, feature: 0, method, label });
            const want = refGradient(f, ref, label, method === 'guided' ? 'guided' : 'grad').d;
            const what = `${method} label ${label}, ${frames} frames`;
            if (want.every((v) => v === 0)) {
              expect(Math.max(...res.projection.map(Math.abs)), what).toBeLessThan(1e-6);
              continue;
            }
            expect(relErr(projectionAsMap(res.projection, spec.bins, frames), want), what).toBeLessThan(1e-4);
          }
        }
        input.dispose();
      }
    } finally {
      analyzer.dispose();
      model.dispose();
    }
  });

  it.each(cases)('%s: saliency and guided backprop of a feature (its summed map) equal the plain-loop gradient', async (id, frameList) => {
    const f = fixtures.get(id) as Fixture;
    const spec = SPECS.get(id) as FixtureSpec;
    const model = await loadModel(fixtureHandler(f), f.manifest, { warmUp: false });
    const analyzer = new Analyzer(model);
    let nonZero = 0;
    try {
      for (const frames of frameList) {
        const x = randomInput(spec.bins, frames, 5000 + frames);
        const ref = refForward(f, x);
        const input = toTensor(x);
        for (let tap = 0; tap < spec.taps.length; tap++) {
          const top = ref.layers.findIndex((l) => l.spec.name === spec.taps[tap]);
          const out = ref.layers[top].out;
          const feature = out.c - 1;
          const g0 = map3(out.h, out.w, out.c);
          for (let p = 0; p < out.h * out.w; p++) g0.d[p * out.c + feature] = 1;
          for (const method of ['saliency', 'guided'] as const) {
            const res = await analyzer.analyse(input, { layer: tap, feature, method });
            const want = refTrunkBack(f, ref, g0, top, method === 'guided' ? 'guided' : 'grad').d;
            const what = `${method} ${spec.taps[tap]} feature ${feature}, ${frames} frames`;
            if (want.every((v) => Math.abs(v) < 1e-9)) {
              // Zero: every path rectified away, or a norm tap, whose summed map is constant (0), so
              // the float32 chain leaves only rounding noise.
              expect(Math.max(...res.projection.map(Math.abs)), what).toBeLessThan(1e-3);
              continue;
            }
            nonZero++;
            expect(relErr(projectionAsMap(res.projection, spec.bins, frames), want), what).toBeLessThan(1e-4);
          }
        }
        input.dispose();
      }
      expect(nonZero).toBeGreaterThan(0);
    } finally {
      analyzer.dispose();
      model.dispose();
    }
  });

  it.each(cases)('%s: deconvnet through the norm layers equals the frozen-statistics reference (Analyzer and BatchedDeconv)', async (id, frameList) => {
    const f = fixtures.get(id) as Fixture;
    const spec = SPECS.get(id) as FixtureSpec;
    const model = await loadModel(fixtureHandler(f), f.manifest, { warmUp: false });
    const analyzer = new Analyzer(model);
    const batched = new BatchedDeconv(model);
    let cases = 0;
    let nonZero = 0;
    try {
      for (const frames of frameList) {
        const x = randomInput(spec.bins, frames, 3000 + frames);
        const ref = refForward(f, x);
        const input = toTensor(x);
        const state = batched.forward(input);
        for (let tap = 0; tap < spec.taps.length; tap++) {
          const channels = f.manifest.taps[tap].channels;
          const features = [0, channels - 1];
          const all = await batched.project(state, tap, features);
          for (const [n, feature] of features.entries()) {
            const want = refDeconv(f, ref, spec.taps[tap], feature).d;
            const res = await analyzer.analyse(input, { layer: tap, feature, method: 'deconvnet' });
            const one = all.subarray(n * frames * spec.bins, (n + 1) * frames * spec.bins);
            const what = `${spec.taps[tap]} feature ${feature}, ${frames} frames`;
            cases++;
            if (want.every((v) => v === 0)) {
              // Every path rectified away: both must be (numerically) zero too.
              expect(Math.max(...res.projection.map(Math.abs), ...one.map(Math.abs)), what).toBeLessThan(1e-5);
              continue;
            }
            nonZero++;
            expect(relErr(projectionAsMap(res.projection, spec.bins, frames), want), what).toBeLessThan(1e-4);
            expect(relErr(projectionAsMap(one, spec.bins, frames), want), `BatchedDeconv ${what}`).toBeLessThan(1e-4);
          }
        }
        state.dispose();
        input.dispose();
      }
      expect(nonZero, `non-zero projections among ${cases}`).toBeGreaterThanOrEqual(0.75 * cases);
    } finally {
      batched.dispose();
      analyzer.dispose();
      model.dispose();
    }
  });
});

describe('tensor hygiene with the new ops', () => {
  it('numTensors is constant over analyses of every method and back to the start after dispose', async () => {
    await tf.setBackend('cpu');
    const f = fixtures.get(NORM_FIXED.id) as Fixture;
    const start = tf.memory().numTensors;
    const model = await loadModel(fixtureHandler(f), f.manifest);
    const analyzer = new Analyzer(model);
    const batched = new BatchedDeconv(model);
    const input = toTensor(randomInput(NORM_FIXED.bins, NORM_FIXED.windowFrames, 5));
    const sel = (method: Method, i: number): Selection => ({ layer: i % NORM_FIXED.taps.length, feature: 0, method, label: i % 2 ? 1 : undefined });
    for (const method of METHODS) await analyzer.analyse(input, sel(method, 0));
    const state0 = batched.forward(input);
    await batched.project(state0, 1, [0, 1]);
    state0.dispose();
    const steady = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) for (const method of METHODS) await analyzer.analyse(input, sel(method, i));
    const state = batched.forward(input);
    await batched.project(state, 2, [0, 1, 2]);
    state.dispose();
    expect(tf.memory().numTensors).toBe(steady);
    input.dispose();
    batched.dispose();
    analyzer.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('isWindowDependent', () => {
  it('is true with a norm layer and false without', async () => {
    await tf.setBackend('cpu');
    const norm = await loadModel(fixtureHandler(fixtures.get(NORM_FREE.id) as Fixture), (fixtures.get(NORM_FREE.id) as Fixture).manifest, { warmUp: false });
    const a = await makeFixture(FIXTURE_A);
    const plain = await loadModel(fixtureHandler(a), a.manifest, { warmUp: false });
    expect(isWindowDependent(norm.graph)).toBe(true);
    expect(isWindowDependent(plain.graph)).toBe(false);
    expect(norm.graph.trunk.map((op) => op.kind)).toEqual(['conv', 'norm', 'affine', 'pool', 'conv', 'act', 'norm', 'pool', 'affine']);
    norm.dispose();
    plain.dispose();
  });
});

// ---------------------------------------------------------------- refusals

type Json = Record<string, unknown>;
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** Builds a variant of NORM_FREE / NORM_FIXED with one layer replaced, optionally edits its JSON, and returns the load error. */
async function refusal(base: FixtureSpec, replace: FixtureLayer, edit?: (layers: Json[], manifest: Json) => void): Promise<string> {
  await tf.setBackend('cpu');
  const spec = { ...base, layers: base.layers.map((l) => (l.name === replace.name ? replace : l)) };
  const f = await makeFixture(spec);
  const top = clone(f.modelJson.modelTopology) as Json;
  const manifest = clone(f.manifest) as unknown as Json;
  edit?.((top.config as Json).layers as Json[], manifest);
  const n = tf.memory().numTensors;
  try {
    await loadModel(tf.io.fromMemory({ modelTopology: top, weightSpecs: f.modelJson.weightsManifest[0].weights, weightData: f.weightsBin.slice(0) }), manifest);
  } catch (e) {
    expect(tf.memory().numTensors).toBe(n); // a refused model leaves no tensors behind
    return (e as Error).message;
  }
  throw new Error('expected the model to be refused');
}

describe('refusals name the layer, what was expected and what was found', () => {
  it.each<[string, FixtureSpec, FixtureLayer, string]>([
    ['LayerNormalization over channels', NORM_FREE, { type: 'norm', name: 'norm1', axis: -1 },
      "layer 'norm1' (LayerNormalization).axis: expected [1, 2] (or [-3, -2]: per-input normalisation over frequency x time), got [3]"],
    ['LayerNormalization over frequency only', NORM_FREE, { type: 'norm', name: 'norm1', axis: [1] },
      "layer 'norm1' (LayerNormalization).axis: expected [1, 2] (or [-3, -2]: per-input normalisation over frequency x time), got [1]"],
    ['LayerNormalization with a learnt scale', NORM_FIXED, { type: 'norm', name: 'norm1', scale: true },
      "layer 'norm1' (LayerNormalization): expected center false and scale false (plain per-input normalisation), got center false, scale true"],
    ['LayerNormalization with a learnt offset', NORM_FIXED, { type: 'norm', name: 'norm1', center: true },
      "layer 'norm1' (LayerNormalization): expected center false and scale false (plain per-input normalisation), got center true, scale false"],
    ['a 3x3 DepthwiseConv2D', NORM_FREE, { type: 'depthwise', name: 'dw1', useBias: true, kernel: [3, 3] },
      "layer 'dw1' (DepthwiseConv2D).kernel_size: expected [1, 1] (a per-channel scale and shift), got [3, 3]"],
    ['a DepthwiseConv2D with depth multiplier 2', NORM_FREE, { type: 'depthwise', name: 'dw1', useBias: true, depthMultiplier: 2 },
      "layer 'dw1' (DepthwiseConv2D).depth_multiplier: expected 1, got 2"],
    ['a strided DepthwiseConv2D', NORM_FREE, { type: 'depthwise', name: 'dw1', useBias: true, strides: 2 },
      "layer 'dw1' (DepthwiseConv2D).strides: expected [1, 1], got [2, 2]"],
  ])('%s', async (_what, base, layer, message) => {
    expect(await refusal(base, layer)).toBe(message);
  });

  it('a DepthwiseConv2D with an activation', async () => {
    const msg = await refusal(NORM_FREE, { type: 'depthwise', name: 'dw1', useBias: true }, (layers) => {
      (layers.find((l) => l.name === 'dw1')?.config as Json).activation = 'relu';
    });
    expect(msg).toBe("layer 'dw1' (DepthwiseConv2D).activation: expected 'linear' (put the nonlinearity in its own layer), got \"relu\"");
  });

  it('BatchNormalization over the batch axis', async () => {
    const msg = await refusal(NORM_FIXED, NORM_FIXED.layers[0], (layers) => {
      (layers.find((l) => l.name === 'bn_time')?.config as Json).axis = 0;
    });
    expect(msg).toBe("layer 'bn_time' (BatchNormalization).axis: expected one of 1 (frequency), 2 (time), 3 or -1 (channels), got 0");
  });

  it('BatchNormalization along time in a model of any window length', async () => {
    const msg = await refusal(NORM_FIXED, NORM_FIXED.layers[0], (layers) => {
      ((layers[0].config as Json).batch_input_shape as unknown[])[2] = null;
    });
    expect(msg).toBe("layer 'bn_time' (BatchNormalization).axis: expected axis 2 (time) only with a fixed input frame count, got a model input of any length (batch_input_shape [null, 11, null, 1])");
  });

  it('BatchNormalization along time whose length is not the fixed frame count', async () => {
    const msg = await refusal(NORM_FIXED, NORM_FIXED.layers[0], (layers, manifest) => {
      ((layers[0].config as Json).batch_input_shape as unknown[])[2] = 10;
      (manifest.inputShape as number[])[1] = 10;
    });
    expect(msg).toBe("weights 'bn_time/moving_mean': expected shape [10] (the model's fixed input frame count), got [12]");
  });

  it('BatchNormalization along frequency whose length is not the height there', async () => {
    // bn_freq sits after a 2x2 pool of 11 bins (5 rows); moving its weights' expectation to 7 bins (3 rows) must fail.
    const msg = await refusal(NORM_FIXED, NORM_FIXED.layers[6], (layers, manifest) => {
      (layers[0].config as Json).batch_input_shape = [null, 7, 12, 1];
      manifest.inputShape = [7, 12, 1];
      (manifest.frontEnd as Json).nFft = 12;
      (manifest.frontEnd as Json).hopSamples = 6;
    });
    expect(msg).toBe("weights 'bn_freq/moving_mean': expected shape [3] (frequency rows at this layer), got [5]");
  });
});
