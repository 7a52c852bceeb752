/**
 * Every feature at once: a batched Zeiler-Fergus deconvolution (all of a layer's features stacked
 * on the batch axis, one backward chain) for the atlas, and the per-feature indices and labels of
 * the probe analysis (issue 7). The deconvolution is the Analyzer's 'deconvnet' method (DESIGN.md
 * §3: first-max switches, rectified signal, transposed convs as flipped-kernel convs, biases
 * ignored), re-implemented here over the LoadedModel's weights because the Analyzer projects one
 * feature per call; the tests hold the two equal.
 */
import * as tf from '@tensorflow/tfjs';
import type { NetworkGraph, TrunkOp } from './graph';
import { axisField, cellBlockOffset, minWindowFrames } from './graph';
import type { LoadedModel } from './load';

/** Forward-pass state of one input window, kept for the backward chains; dispose() once. */
export interface ForwardState {
  /** Input frames of the window. */
  frames: number;
  /** Output of every trunk op, [batch, h, w, c]. */
  outs: tf.Tensor4D[];
  /** First-max switch masks of the pool ops over their windows, [h, ph, w, pw, c] (batch-1 states), built on first use. */
  masks: (tf.Tensor | null)[];
  /** Input of every pool op (null elsewhere). */
  poolIns: (tf.Tensor4D | null)[];
  /** Per norm op: 1 / sqrt(var + epsilon) per item and channel, [batch, 1, 1, c] (null elsewhere). */
  invStds: (tf.Tensor4D | null)[];
  dispose(): void;
}

/** Batched deconvolution of many features of one model; owns the flipped kernels: dispose() once. */
export class BatchedDeconv {
  readonly graph: NetworkGraph;
  readonly minFrames: number;
  private readonly model: LoadedModel;
  private readonly flipped = new Map<string, tf.Tensor4D>();
  /** Per affine op: scale and shift shaped to broadcast along its axis. */
  private readonly affine = new Map<string, { scale: tf.Tensor4D; shift: tf.Tensor4D }>();

  constructor(model: LoadedModel) {
    this.model = model;
    this.graph = model.graph;
    this.minFrames = minWindowFrames(this.graph);
    for (const op of this.graph.trunk) {
      if (op.kind === 'affine') {
        const w = this.model.weights.get(op.name);
        if (!w) throw new Error(`BatchedDeconv: weights of '${op.name}' are gone (model disposed?)`);
        const shape: [number, number, number, number] = [1, 1, 1, 1];
        shape[op.axis] = w.kernel.size;
        this.affine.set(op.name, tf.tidy(() => ({ scale: tf.reshape(w.kernel, shape) as tf.Tensor4D, shift: tf.reshape(w.bias ?? tf.zerosLike(w.kernel), shape) as tf.Tensor4D })));
      }
      if (op.kind !== 'conv') continue;
      const k = this.kernel(op.name);
      this.flipped.set(op.name, tf.tidy(() => tf.transpose(tf.reverse(k, [0, 1]), [0, 1, 3, 2])));
    }
  }

  /** Releases the flipped kernels (not the model's weights). */
  dispose(): void {
    tf.dispose([...this.flipped.values(), ...[...this.affine.values()].flatMap((a) => [a.scale, a.shift])]);
    this.flipped.clear();
    this.affine.clear();
  }

  private kernel(name: string): tf.Tensor4D {
    const w = this.model.weights.get(name);
    if (!w) throw new Error(`BatchedDeconv: weights of '${name}' are gone (model disposed?)`);
    return w.kernel as tf.Tensor4D;
  }

  /** Forward pass of [batch, bins, frames, 1] (already scaled) through the trunk, keeping what deconvolution needs. */
  forward(input: tf.Tensor4D): ForwardState {
    const g = this.graph;
    if (input.shape[1] !== g.bins || input.shape[3] !== 1 || input.shape[2] < this.minFrames) {
      throw new RangeError(`forward input: expected [batch, ${g.bins}, frames >= ${this.minFrames}, 1], got [${input.shape.join(', ')}]`);
    }
    const outs: tf.Tensor4D[] = [];
    const poolIns: (tf.Tensor4D | null)[] = [];
    const invStds: (tf.Tensor4D | null)[] = [];
    tf.tidy(() => {
      let x = input;
      for (const op of g.trunk) {
        let poolIn: tf.Tensor4D | null = null;
        let invStd: tf.Tensor4D | null = null;
        if (op.kind === 'conv') {
          const w = this.model.weights.get(op.name);
          const a = op.activation;
          const act = a.kind === 'relu' ? 'relu' : a.kind === 'elu' && a.alpha === 1 ? 'elu' : 'linear';
          x = tf.fused.conv2d({ x, filter: this.kernel(op.name), strides: 1, pad: op.padding, bias: w?.bias ?? undefined, activation: act });
          if (act === 'linear' && a.kind === 'elu') x = eluAlpha(x, a.alpha);
        } else if (op.kind === 'act') {
          const a = op.activation;
          x = a.kind === 'relu' ? tf.relu(x) : a.kind === 'elu' ? eluAlpha(x, a.alpha) : x;
        } else if (op.kind === 'norm') {
          const { mean, variance } = tf.moments(x, [1, 2], true);
          invStd = tf.rsqrt(tf.add(variance, op.epsilon)) as tf.Tensor4D;
          x = tf.mul(tf.sub(x, mean), invStd);
        } else if (op.kind === 'affine') {
          const a = this.affine.get(op.name) as { scale: tf.Tensor4D; shift: tf.Tensor4D };
          x = tf.add(tf.mul(x, a.scale), a.shift);
        } else {
          poolIn = x;
          x = tf.maxPool(x, [op.poolH, op.poolW], [op.poolH, op.poolW], 'valid');
        }
        outs.push(tf.keep(x));
        poolIns.push(poolIn ? tf.keep(poolIn) : null);
        invStds.push(invStd ? tf.keep(invStd) : null);
      }
    });
    const masks: (tf.Tensor | null)[] = g.trunk.map(() => null);
    return {
      frames: input.shape[2],
      outs,
      masks,
      poolIns,
      invStds,
      dispose: () => tf.dispose([...new Set<tf.Tensor>([...outs, ...[...poolIns, ...masks, ...invStds].filter((t): t is tf.Tensor => t !== null)])]),
    };
  }

  /** The activations of tap `tap` (0-based) of a forward state, [batch, h, w, c] (owned by the state). */
  tapOutput(state: ForwardState, tap: number): tf.Tensor4D {
    return state.outs[this.graph.taps[tap].opIndex];
  }

  /**
   * Deconvnet projections of `features` of tap `tap` for a batch-1 forward state: [features.length,
   * frames, bins] on the input grid (frame-major per item, like the Analyzer's projection), as one
   * Float32Array. One backward chain for all of them (split long lists with batchFor()). When the
   * trunk starts with a 'same' conv on one input channel followed by a pool (the paper's net), the
   * last stage (unpool 1 + transposed conv 1) runs as a sparse scatter in plain JS: every pooled cell
   * adds its value times conv 1's kernel at its switch, which is ~10x cheaper than the dense tfjs ops
   * on full-resolution [batch, bins, frames, channels] tensors (measured on wasm).
   */
  async project(state: ForwardState, tap: number, features: number[]): Promise<Float32Array> {
    if (state.outs[0].shape[0] !== 1) throw new RangeError(`project: expected a forward state of batch 1, got ${state.outs[0].shape[0]}`);
    const t = this.graph.taps[tap];
    if (!t) throw new RangeError(`project: tap: expected 0..${this.graph.taps.length - 1}, got ${tap}`);
    for (const f of features) if (!Number.isInteger(f) || f < 0 || f >= t.channels) throw new RangeError(`project: feature: expected 0..${t.channels - 1}, got ${f}`);
    const fast = this.scatterStage();
    const stopAt = fast && t.opIndex >= 1 ? 2 : 0; // ops below stopAt are done by the scatter
    this.ensureMasks(state, t.opIndex, stopAt);
    const g = tf.tidy(() => {
      const act = state.outs[t.opIndex];
      const onehot = tf.reshape(tf.oneHot(tf.tensor1d(features, 'int32'), t.channels), [features.length, 1, 1, t.channels]);
      let x = tf.mul(act, onehot) as tf.Tensor4D;
      for (let i = t.opIndex; i >= stopAt; i--) x = this.backStep(state, i, x);
      return stopAt === 0 ? tf.transpose(tf.reshape(x, [features.length, this.graph.bins, state.frames]), [0, 2, 1]) : x;
    });
    try {
      const data = (await g.data()) as Float32Array;
      if (stopAt === 0) return data;
      return await this.scatter(state, data, features.length);
    } finally {
      g.dispose();
    }
  }

  /** Whether the last stage can run as a scatter: trunk = conv('same', 1 input channel), pool, ... */
  private scatterStage(): boolean {
    const [c, p] = this.graph.trunk;
    return c?.kind === 'conv' && c.padding === 'same' && c.inChannels === 1 && p?.kind === 'pool';
  }

  private scatterCache = new WeakMap<ForwardState, Promise<{ switches: Uint8Array; kernel: Float32Array }>>();

  /** Pool 1's switches (first maximum, row-major) and conv 1's kernel, read once per forward state. */
  private scatterInputs(state: ForwardState): Promise<{ switches: Uint8Array; kernel: Float32Array }> {
    let p = this.scatterCache.get(state);
    if (!p) {
      p = (async () => {
        const pool = this.graph.trunk[1] as Extract<TrunkOp, { kind: 'pool' }>;
        const x = (await (state.poolIns[1] as tf.Tensor4D).data()) as Float32Array;
        const [, h, w, c] = (state.poolIns[1] as tf.Tensor4D).shape;
        const [, ho, wo] = state.outs[1].shape;
        const sw = new Uint8Array(ho * wo * c);
        for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let idx = 0;
          for (let a = 0; a < pool.poolH; a++) for (let b = 0; b < pool.poolW; b++) {
            const v = x[((i * pool.poolH + a) * w + j * pool.poolW + b) * c + ch];
            if (v > best) { best = v; idx = a * pool.poolW + b; }
          }
          sw[(i * wo + j) * c + ch] = idx;
        }
        void h;
        const kernel = (await this.kernel(this.graph.trunk[0].name).data()) as Float32Array;
        return { switches: sw, kernel };
      })();
      this.scatterCache.set(state, p);
    }
    return p;
  }

  /** Unpool 1 + (rectify) + transposed conv 1 of `items` maps at pool 1's output, into frame-major maps. */
  private async scatter(state: ForwardState, g: Float32Array, items: number): Promise<Float32Array> {
    const { switches, kernel } = await this.scatterInputs(state);
    const conv = this.graph.trunk[0] as Extract<TrunkOp, { kind: 'conv' }>;
    const pool = this.graph.trunk[1] as Extract<TrunkOp, { kind: 'pool' }>;
    const rectify = conv.activation.kind !== 'linear';
    const [, ho, wo, c] = state.outs[1].shape;
    const bins = this.graph.bins;
    const frames = state.frames;
    const { kernelH: kh, kernelW: kw } = conv;
    const ph = (kh - 1) / 2;
    const pw = (kw - 1) / 2;
    const out = new Float32Array(items * frames * bins);
    const cells = ho * wo * c;
    // Accumulated bin-major (rows of frames: the 3 x 3 footprint hits 3 short runs, not 3 frames'
    // worth of memory), transposed to frame-major at the end. Same additions in the same order.
    const acc = new Float32Array(frames * bins);
    const { poolH, poolW } = pool;
    // Per switch: row and column of its footprint's corner relative to the window's top-left, and
    // that corner's offset in acc.
    const nSw = poolH * poolW;
    const swRow = new Int32Array(nSw);
    const swCol = new Int32Array(nSw);
    const swOff = new Int32Array(nSw);
    for (let q = 0; q < nSw; q++) {
      swRow[q] = Math.floor(q / poolW) - ph;
      swCol[q] = (q % poolW) - pw;
      swOff[q] = swRow[q] * frames + swCol[q];
    }
    const unrolled = kh === 3 && kw === 3;
    // 3 x 3 kernels channel-major, the 9 taps of a channel contiguous.
    const kT = new Float32Array(9 * c);
    if (unrolled) for (let ch = 0; ch < c; ch++) for (let t = 0; t < 9; t++) kT[ch * 9 + t] = kernel[t * c + ch];
    for (let b = 0; b < items; b++) {
      acc.fill(0);
      const gOff = b * cells;
      for (let i = 0; i < ho; i++) {
        const rowTop = i * poolH;
        const innerRows = unrolled && rowTop - ph >= 0 && rowTop + poolH - 1 - ph + 3 <= bins;
        for (let j = 0; j < wo; j++) {
          const colLeft = j * poolW;
          const cell = (i * wo + j) * c;
          const gc = gOff + cell;
          if (innerRows && colLeft - pw >= 0 && colLeft + poolW - 1 - pw + 3 <= frames) {
            // Every footprint of this window lies inside: no bounds checks.
            const o0 = rowTop * frames + colLeft;
            for (let ch = 0; ch < c; ch++) {
              let v = g[gc + ch];
              if (rectify ? v <= 0 : v === 0) continue;
              if (!(v === v)) v = 0;
              let o = o0 + swOff[switches[cell + ch]];
              const k = ch * 9;
              acc[o] += v * kT[k];
              acc[o + 1] += v * kT[k + 1];
              acc[o + 2] += v * kT[k + 2];
              o += frames;
              acc[o] += v * kT[k + 3];
              acc[o + 1] += v * kT[k + 4];
              acc[o + 2] += v * kT[k + 5];
              o += frames;
              acc[o] += v * kT[k + 6];
              acc[o + 1] += v * kT[k + 7];
              acc[o + 2] += v * kT[k + 8];
            }
            continue;
          }
          for (let ch = 0; ch < c; ch++) {
            let v = g[gc + ch];
            if (rectify ? v <= 0 : v === 0) continue;
            if (!(v === v)) v = 0;
            const sw = switches[cell + ch];
            const r0 = rowTop + swRow[sw];
            const q0 = colLeft + swCol[sw];
            // Adjoint of y(p) = sum_d x(p + d - pad) W[d]: x(p + d - pad) += v W[d] (kernel [kh, kw, 1, c]).
            for (let dr = 0; dr < kh; dr++) {
              const row = r0 + dr;
              if (row < 0 || row >= bins) continue;
              for (let dc = 0; dc < kw; dc++) {
                const col = q0 + dc;
                if (col < 0 || col >= frames) continue;
                acc[row * frames + col] += v * kernel[(dr * kw + dc) * c + ch];
              }
            }
          }
        }
      }
      const base = b * frames * bins;
      for (let row = 0; row < bins; row++) {
        const o = row * frames;
        for (let col = 0; col < frames; col++) out[base + col * bins + row] = acc[o + col];
      }
    }
    return out;
  }

  /** Largest batch of features whose biggest backward tensor stays under maxElements. */
  batchFor(frames: number, maxElements = 48e6): number {
    let biggest = 1;
    let h = this.graph.bins;
    let w = frames;
    let c = 1;
    for (const op of this.graph.trunk) {
      biggest = Math.max(biggest, h * w * Math.max(c, op.kind === 'conv' ? op.outChannels : c));
      if (op.kind === 'conv') {
        if (op.padding === 'valid') { h -= op.kernelH - 1; w -= op.kernelW - 1; }
        c = op.outChannels;
      } else if (op.kind === 'pool') {
        h = Math.floor(h / op.poolH);
        w = Math.floor(w / op.poolW);
      }
    }
    return Math.max(1, Math.floor(maxElements / biggest));
  }

  private ensureMasks(state: ForwardState, upTo: number, from = 0): void {
    for (let i = from; i <= upTo; i++) {
      const op = this.graph.trunk[i];
      if (op.kind !== 'pool' || state.masks[i]) continue;
      state.masks[i] = firstMaxMask(state.poolIns[i] as tf.Tensor4D, state.outs[i], op.poolH, op.poolW);
    }
  }

  private backStep(state: ForwardState, i: number, g: tf.Tensor4D): tf.Tensor4D {
    const op: TrunkOp = this.graph.trunk[i];
    if (op.kind === 'pool') {
      const [, h, w] = (state.poolIns[i] as tf.Tensor4D).shape;
      return unpool(g, state.masks[i] as tf.Tensor, h, w);
    }
    // affine: times its scale; norm: statistics frozen at their forward values, times 1 / sigma (Analyzer.backTrunk).
    if (op.kind === 'affine') return tf.mul(g, (this.affine.get(op.name) as { scale: tf.Tensor4D }).scale);
    if (op.kind === 'norm') return tf.mul(g, state.invStds[i] as tf.Tensor4D);
    // Deconvnet rule: the backward signal is rectified at every nonlinearity (not gated by the forward pass).
    const sig = op.activation.kind === 'linear' ? g : tf.relu(g);
    if (op.kind === 'act') return sig;
    const f = this.flipped.get(op.name) as tf.Tensor4D;
    if (op.padding === 'same') return tf.conv2d(sig, f, 1, 'same');
    const ph = op.kernelH - 1;
    const pw = op.kernelW - 1;
    return tf.conv2d(tf.pad(sig, [[0, 0], [ph, ph], [pw, pw], [0, 0]]), f, 1, 'valid');
  }
}

function eluAlpha(x: tf.Tensor4D, alpha: number): tf.Tensor4D {
  if (alpha === 1) return tf.elu(x);
  return tf.where(tf.greater(x, 0), x, tf.mul(alpha, tf.expm1(tf.minimum(x, 0)))) as tf.Tensor4D;
}

/**
 * Switches as a one-hot mask over the pooling windows of a batch-1 pre-pool map [1, H, W, C], shaped
 * [h, ph, w, pw, C] (the rows/cols 'valid' pooling dropped are cropped): 1 at the FIRST maximum
 * (row-major) of every window, 0 elsewhere; the Analyzer's construction (same switches), all broadcast
 * ops on the reshaped view instead of upsampled pooled maps.
 */
function firstMaxMask(x: tf.Tensor4D, pooled: tf.Tensor4D, ph: number, pw: number): tf.Tensor {
  return tf.tidy(() => {
    const c = x.shape[3];
    const [, h, w] = pooled.shape;
    const x5 = tf.reshape(cropTo(x, h * ph, w * pw), [h, ph, w, pw, c]);
    // priority = ph * pw - (rank of the position in its window): highest for the first position.
    const pri = new Float32Array(ph * pw);
    for (let r = 0; r < ph; r++) for (let s = 0; s < pw; s++) pri[r * pw + s] = ph * pw - (r * pw + s);
    // x <= its window's maximum, equal only at maxima, so cand = priority at the maxima, 0 elsewhere.
    const isMax = tf.sub(1, tf.step(tf.sub(tf.reshape(pooled, [h, 1, w, 1, c]), x5)));
    const cand = tf.mul(isMax, tf.tensor(pri, [1, ph, 1, pw, 1]));
    const best = tf.maxPool(tf.reshape(cand, [1, h * ph, w * pw, c]) as tf.Tensor4D, [ph, pw], [ph, pw], 'valid');
    // Priorities are integers and best >= 1, so only the first maximum has cand > best - 0.5.
    return tf.step(tf.sub(cand, tf.sub(tf.reshape(best, [h, 1, w, 1, c]), 0.5)));
  });
}

/**
 * Unpooling of a [B, h, w, C] signal onto a batch-1 state's switches (firstMaxMask, broadcast over
 * the batch as one 6-D product: ~20 % faster on wasm than nearest-neighbour upsampling times a
 * full-size mask), as [B, hIn, wIn, C]; rows/cols 'valid' pooling dropped get 0.
 */
function unpool(g: tf.Tensor4D, mask: tf.Tensor, hIn: number, wIn: number): tf.Tensor4D {
  const [h, ph, w, pw, c] = mask.shape;
  const b = g.shape[0];
  const up = tf.reshape(tf.mul(tf.reshape(g, [b, h, 1, w, 1, c]), tf.reshape(mask, [1, h, ph, w, pw, c])), [b, h * ph, w * pw * c]);
  if (h * ph === hIn && w * pw === wIn) return tf.reshape(up, [b, hIn, wIn, c]);
  return tf.reshape(tf.pad(up, [[0, 0], [0, hIn - h * ph], [0, (wIn - w * pw) * c]]), [b, hIn, wIn, c]);
}

/** The top-left [1, h, w, C] of a batch-1 map, sliced through a 2-D [H, W * C] view (a 4-D slice is several times slower on wasm). */
function cropTo(x: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
  const [, hIn, wIn, c] = x.shape;
  if (h === hIn && w === wIn) return x;
  return tf.reshape(tf.slice(tf.reshape(x, [hIn, wIn * c]), [0, 0], [h, w * c]), [1, h, w, c]);
}

/** Time geometry of a tap's columns: column j stands for frames [offset + j stride, offset + (j + 1) stride). */
export function tapColumns(graph: NetworkGraph, tap: number): { strideFrames: number; offsetFrames: number; fieldFrames: number } {
  const f = axisField(graph.trunk, graph.taps[tap].opIndex, 'w');
  return { strideFrames: f.stride, offsetFrames: cellBlockOffset(f), fieldFrames: f.field };
}

// ------------------------------------------------------------------ indices and labels (pure)

/** Definitions of the feature indices, for the README and the atlas page. */
export const INDEX_DEFINITIONS: Record<keyof FeatureIndices, string> = {
  onsetSelectivity: 'OSI = (T - S) / (T + S), T = mean activation (map averaged over frequency) in the columns within 100 ms after each note/hit/click onset, S = mean activation in the steady part (>= 250 ms after onset, before release) of held chords and intervals. -1..1; near 1: fires on transients only.',
  keyInvariance: 'KI = mean over (chord quality, instrument) of inv(r_key), r_key = steady mean activation of the same chord in each of the keys; inv(v) = (mean(v) / max(v) - 1/n) / (1 - 1/n): 1 = same response in every key, 0 = one key only.',
  instrumentInvariance: 'II = mean over (key, chord quality) of inv(r_instrument): 1 = same response on every timbre (sine, piano, guitar, reed, strings), 0 = one instrument only.',
  chordSelectivity: 'CQS = 1 - mean over (key, instrument) of inv(r_quality) over the chord qualities (major, minor, sus4, seventh, diminished): 0 = indifferent to chord quality, 1 = one quality only; preferredQuality = the quality with the largest mean response.',
  harmonicity: 'HI = (H - N) / (H + N), H = steady mean activation on pitched probes, N = on noise bursts: 1 = pitched sound only, -1 = noise only.',
  centroidHz: 'Frequency centroid of the feature\'s rectified deconvnet mask summed over the probes: sum f_k M_k / sum M_k (Hz).',
  bandwidthHz: 'Bandwidth: the standard deviation of frequency under the same weights, sqrt(sum (f_k - centroid)^2 M_k / sum M_k) (Hz).',
  activity: 'Largest activation of the feature over all probes divided by the largest of its layer (0 = dead feature).',
};

/** The computed indices of one feature. */
export interface FeatureIndices {
  onsetSelectivity: number;
  keyInvariance: number;
  instrumentInvariance: number;
  chordSelectivity: number;
  harmonicity: number;
  centroidHz: number;
  bandwidthHz: number;
  activity: number;
}

/** Indices plus the preferred chord quality and the label. */
export interface FeatureReport extends FeatureIndices {
  preferredQuality: string;
  label: string;
}

/** inv(v) = (mean / max - 1/n) / (1 - 1/n) in [0, 1]; NaN when max <= eps (no response). */
export function invariance(v: ArrayLike<number>, eps = 1e-6): number {
  const n = v.length;
  if (n < 2) return NaN;
  let sum = 0;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    sum += Math.max(0, v[i]);
    max = Math.max(max, v[i]);
  }
  if (!(max > eps)) return NaN;
  return (sum / n / max - 1 / n) / (1 - 1 / n);
}

/** Mean of the finite values (NaN when none). */
export function finiteMean(v: number[]): number {
  const f = v.filter(Number.isFinite);
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
}

/** (a - b) / (a + b), NaN when both are ~0. */
export function contrast(a: number, b: number, eps = 1e-6): number {
  return a + b > eps ? (a - b) / (a + b) : NaN;
}

/** Thresholds of the label rules (see labelFeature). */
export const LABEL_RULES = {
  /** Below this activity a feature is "inactive". */
  inactive: 0.02,
  onset: 0.5,
  sustained: -0.4,
  keyInvariant: 0.8,
  pitchSpecific: 0.45,
  instrumentInvariant: 0.85,
  timbreSpecific: 0.45,
  chordSelective: 0.5,
  harmonic: 0.4,
  noise: -0.4,
  narrowBandHz: 150,
  broadbandHz: 1500,
} as const;

/** Frequency region name of a centroid (Hz). */
export function regionName(centroidHz: number): string {
  if (centroidHz < 250) return 'bass region';
  if (centroidHz < 800) return 'low-mid region';
  if (centroidHz < 2500) return 'mid region';
  return 'high region';
}

/**
 * A short label from a feature's strongest properties: each rule that fires adds a phrase with a
 * strength (how far past its threshold), the three strongest are kept in a fixed order: temporal,
 * spectral, invariance.
 */
export function labelFeature(x: FeatureIndices & { preferredQuality: string }): string {
  const R = LABEL_RULES;
  if (!(x.activity >= R.inactive)) return 'inactive';
  const parts: { text: string; strength: number; order: number }[] = [];
  const add = (ok: boolean, text: string, strength: number, order: number): void => {
    if (ok) parts.push({ text, strength, order });
  };
  add(x.onsetSelectivity >= R.onset, 'onset detector', 1 + x.onsetSelectivity, 0);
  add(x.onsetSelectivity <= R.sustained, 'sustained', -x.onsetSelectivity, 0);
  add(x.harmonicity >= R.harmonic, 'harmonic', x.harmonicity, 1);
  add(x.harmonicity <= R.noise, 'noise', -x.harmonicity, 1);
  if (Number.isFinite(x.centroidHz)) add(true, regionName(x.centroidHz), 0.5, 2);
  add(x.bandwidthHz <= R.narrowBandHz, 'narrow-band', 0.6, 2);
  add(x.bandwidthHz >= R.broadbandHz, 'broadband', 0.4, 2);
  add(x.keyInvariance >= R.keyInvariant, 'key-invariant', x.keyInvariance, 3);
  add(x.keyInvariance <= R.pitchSpecific, 'pitch-specific', 1 - x.keyInvariance, 3);
  add(x.instrumentInvariance >= R.instrumentInvariant, 'instrument-invariant', x.instrumentInvariance - 0.2, 4);
  add(x.instrumentInvariance <= R.timbreSpecific, 'timbre-specific', 1 - x.instrumentInvariance, 4);
  add(x.chordSelectivity >= R.chordSelective, `${x.preferredQuality}-chord selective`, x.chordSelectivity, 5);
  const top = parts.sort((a, b) => b.strength - a.strength).slice(0, 3).sort((a, b) => a.order - b.order);
  return top.length ? top.map((p) => p.text).join(', ') : 'mixed';
}

// ------------------------------------------------------------------ probe analysis (tfjs)

/** A probe as the analysis needs it (see src/cli/probes.ts). */
export interface ProbeInput {
  kind: 'chord' | 'click' | 'drums' | 'noise' | 'sweep';
  key: number | null;
  quality: string | null;
  /** Whether the quality counts for chord selectivity (chords yes, intervals no). */
  chordQuality: boolean;
  timbre: string | null;
  /** Scaled network input of the clip, frame-major [frames][bins]; every probe has the same frames. */
  input: Float32Array;
  onsetsSec: number[];
  steadySec: [number, number] | null;
}

/** Time of a frame's centre in seconds. */
type FrameTime = (frame: number) => number;

/**
 * Indices of every feature of every tap from the probes' activations (one batched forward pass
 * per chunk of probes) and, for centroid and bandwidth, the rectified deconvnet masks over the
 * probes listed in maskProbes (indices into probes). Returns reports[tap][feature].
 */
export async function analyseFeatures(model: LoadedModel, probes: ProbeInput[], frames: number, frameTime: FrameTime, binHz: number, maskProbes: number[]): Promise<FeatureReport[][]> {
  const bd = new BatchedDeconv(model);
  const g = model.graph;
  const bins = g.bins;
  try {
    // courses[tap][probe] = [columns x channels] mean over frequency.
    const courses: Float32Array[][] = g.taps.map(() => []);
    const shapes: { w: number; c: number }[] = [];
    const chunk = 8;
    for (let p0 = 0; p0 < probes.length; p0 += chunk) {
      const items = probes.slice(p0, p0 + chunk);
      const x = tf.tidy(() => tf.transpose(tf.tensor3d(concatInputs(items), [items.length, frames, bins]), [0, 2, 1]).reshape([items.length, bins, frames, 1])) as tf.Tensor4D;
      const state = bd.forward(x);
      x.dispose();
      try {
        for (let tap = 0; tap < g.taps.length; tap++) {
          const a = bd.tapOutput(state, tap);
          const [, , w, c] = a.shape;
          shapes[tap] = { w, c };
          const m = tf.mean(a, 1);
          const d = (await m.data()) as Float32Array;
          m.dispose();
          for (let i = 0; i < items.length; i++) courses[tap].push(d.slice(i * w * c, (i + 1) * w * c));
        }
      } finally {
        state.dispose();
      }
    }
    // Mask spectra: sum over frames of the rectified masks of maskProbes, per tap and feature.
    const spectra: Float64Array[][] = g.taps.map((t) => Array.from({ length: t.channels }, () => new Float64Array(bins)));
    for (const pi of maskProbes) {
      const x = tf.tidy(() => tf.transpose(tf.tensor2d(probes[pi].input, [frames, bins])).reshape([1, bins, frames, 1])) as tf.Tensor4D;
      const state = bd.forward(x);
      x.dispose();
      try {
        for (let tap = 0; tap < g.taps.length; tap++) {
          const c = g.taps[tap].channels;
          const step = bd.batchFor(frames);
          for (let f0 = 0; f0 < c; f0 += step) {
            const feats = Array.from({ length: Math.min(step, c - f0) }, (_, i) => f0 + i);
            const masks = await bd.project(state, tap, feats);
            feats.forEach((k, j) => {
              const s = spectra[tap][k];
              const off = j * frames * bins;
              for (let t = 0; t < frames; t++) for (let b = 0; b < bins; b++) s[b] += Math.max(0, masks[off + t * bins + b]);
            });
          }
        }
      } finally {
        state.dispose();
      }
    }
    return g.taps.map((_, tap) => reportsForTap(courses[tap], shapes[tap], tapColumns(g, tap), probes, frameTime, spectra[tap], binHz));
  } finally {
    bd.dispose();
  }
}

function concatInputs(items: ProbeInput[]): Float32Array {
  const n = items[0].input.length;
  const out = new Float32Array(items.length * n);
  items.forEach((p, i) => out.set(p.input, i * n));
  return out;
}

function reportsForTap(courses: Float32Array[], shape: { w: number; c: number }, cols: { strideFrames: number; offsetFrames: number }, probes: ProbeInput[], frameTime: FrameTime, spectra: Float64Array[], binHz: number): FeatureReport[] {
  const { w, c } = shape;
  const colTime = (j: number): number => frameTime(cols.offsetFrames + (j + 0.5) * cols.strideFrames - 0.5);
  const strideSec = frameTime(cols.strideFrames) - frameTime(0);
  const mean = (course: Float32Array, ch: number, pick: (t: number) => boolean): number => {
    let s = 0;
    let n = 0;
    for (let j = 0; j < w; j++) if (pick(colTime(j))) { s += course[j * c + ch]; n++; }
    if (n > 0) return s / n;
    return NaN;
  };
  let layerMax = 0;
  for (const co of courses) for (const v of co) layerMax = Math.max(layerMax, v);
  const chords = probes.map((p, i) => ({ p, i })).filter((x) => x.p.kind === 'chord');
  const keys = [...new Set(chords.map((x) => x.p.key))];
  const qualities = [...new Set(chords.map((x) => x.p.quality))];
  const chordQualities = [...new Set(chords.filter((x) => x.p.chordQuality).map((x) => x.p.quality))];
  const timbres = [...new Set(chords.map((x) => x.p.timbre))];
  const reports: FeatureReport[] = [];
  for (let ch = 0; ch < c; ch++) {
    const steady = new Map<number, number>();
    for (const { p, i } of chords) {
      const [a, b] = p.steadySec as [number, number];
      let v = mean(courses[i], ch, (t) => t >= a && t < b);
      if (!Number.isFinite(v)) v = mean(courses[i], ch, (t) => Math.abs(t - (a + b) / 2) <= strideSec);
      steady.set(i, v);
    }
    const r = (key: number | null, q: string | null, tb: string | null): number => {
      const hit = chords.find((x) => x.p.key === key && x.p.quality === q && x.p.timbre === tb);
      return hit ? (steady.get(hit.i) ?? NaN) : NaN;
    };
    const onsetVals: number[] = [];
    probes.forEach((p, i) => {
      if (p.kind === 'sweep') return;
      for (const o of p.onsetsSec) {
        const v = mean(courses[i], ch, (t) => t >= o - strideSec / 2 && t <= o + 0.1 + strideSec / 2);
        if (Number.isFinite(v)) onsetVals.push(v);
      }
    });
    const T = finiteMean(onsetVals);
    const S = finiteMean([...steady.values()]);
    const noise = probes.map((p, i) => ({ p, i })).filter((x) => x.p.kind === 'noise' && x.p.steadySec);
    const N = finiteMean(noise.map(({ p, i }) => mean(courses[i], ch, (t) => t >= (p.steadySec as [number, number])[0] && t < (p.steadySec as [number, number])[1])));
    const ki = finiteMean(qualities.flatMap((q) => timbres.map((tb) => invariance(keys.map((k) => r(k, q, tb))))));
    const ii = finiteMean(keys.flatMap((k) => qualities.map((q) => invariance(timbres.map((tb) => r(k, q, tb))))));
    const cqInv = finiteMean(keys.flatMap((k) => timbres.map((tb) => invariance(chordQualities.map((q) => r(k, q, tb))))));
    const byQuality = chordQualities.map((q) => finiteMean(keys.flatMap((k) => timbres.map((tb) => r(k, q, tb)))));
    const best = byQuality.reduce((bi, v, i) => (v > byQuality[bi] ? i : bi), 0);
    let peak = 0;
    for (const co of courses) for (let j = 0; j < w; j++) peak = Math.max(peak, co[j * c + ch]);
    const spec = spectra[ch];
    let m0 = 0;
    let m1 = 0;
    for (let b = 0; b < spec.length; b++) { m0 += spec[b]; m1 += spec[b] * b * binHz; }
    const centroid = m0 > 0 ? m1 / m0 : NaN;
    let m2 = 0;
    for (let b = 0; b < spec.length; b++) m2 += spec[b] * (b * binHz - centroid) ** 2;
    const x: FeatureIndices & { preferredQuality: string } = {
      onsetSelectivity: contrast(T, S),
      keyInvariance: ki,
      instrumentInvariance: ii,
      chordSelectivity: 1 - cqInv,
      harmonicity: contrast(S, N),
      centroidHz: centroid,
      bandwidthHz: m0 > 0 ? Math.sqrt(m2 / m0) : NaN,
      activity: layerMax > 0 ? peak / layerMax : 0,
      preferredQuality: String(chordQualities[best] ?? ''),
    };
    reports.push({ ...x, label: labelFeature(x) });
  }
  return reports;
}
