/**
 * The analysis: one forward pass over the model's weights with explicit max-pool switches, then
 * one backward projection of the selection onto the input grid (DESIGN.md §3). All four methods
 * share one hand-written backward chain (no tf.grad: tfjs-wasm lacks several gradient kernels).
 */
import * as tf from '@tensorflow/tfjs';
import type { HiddenActivation, NetworkGraph, TapGeometry } from './graph';
import { axisField, cellBlockOffset, minWindowFrames, tapGeometry } from './graph';
import type { LoadedModel } from './load';

/** Projection methods. */
export type Method = 'deconvnet' | 'saliency' | 'guided' | 'gradcam';

/** Every method, in the order the UI and frames index them. */
export const METHODS: readonly Method[] = ['deconvnet', 'saliency', 'guided', 'gradcam'];

/** What to project: a feature of a tap layer, or (saliency, guided, gradcam) a label's score. */
export interface Selection {
  /** 0-based tap index. */
  layer: number;
  /** Channel of that tap. */
  feature: number;
  method: Method;
  /**
   * Label index. saliency/guided: project this label's logit instead of the feature's summed map.
   * gradcam: the label explained (default: the top-scoring label). deconvnet: ignored.
   */
  label?: number;
}

/** Analyzer settings. */
export interface AnalyzerOptions {
  /** Thumbnail height in cells (default 24, range 1..256), independent of the layer's size. */
  thumbHeight?: number;
  /** Thumbnail width in cells (default 32, range 1..256). */
  thumbWidth?: number;
}

/** Result tensors of one analysis; the caller owns them (dispose with disposeAnalysis). */
export interface AnalysisTensors {
  /** Every tap's activations, [1, height, width, channels]. */
  taps: tf.Tensor4D[];
  /** Largest activation of each tap, [taps]. */
  tapMaxima: tf.Tensor1D;
  /** Selected layer's features downsampled (bilinear) to [channels, thumbHeight, thumbWidth]. */
  thumbnails: tf.Tensor3D;
  /** Selected feature at full resolution, [height, width]. */
  featureMap: tf.Tensor2D;
  /** The projection on the input grid, frame-major [frames, bins]. */
  projection: tf.Tensor2D;
  /** One probability per label, [labels]. */
  predictions: tf.Tensor1D;
  /** Label the method used (int32 [1]), -1 when none. */
  labelUsed: tf.Tensor1D;
}

/** Result of one analysis read back to the CPU. */
export interface AnalysisResult {
  /** Geometry of every tap for this window. */
  geometry: TapGeometry[];
  /** Every tap's activations, [height, width, channels] row-major; only with readTaps. */
  taps: Float32Array[] | null;
  tapMaxima: Float32Array;
  /** [channels, thumbHeight, thumbWidth]. */
  thumbnails: Float32Array;
  thumbHeight: number;
  thumbWidth: number;
  /** Selected feature, [height, width] row-major (frequency rows, time columns). */
  featureMap: Float32Array;
  /** Projection, [frames, bins] frame-major. */
  projection: Float32Array;
  bins: number;
  frames: number;
  predictions: Float32Array;
  /** Label the method used, or -1. */
  labelUsed: number;
}

/** Disposes every tensor of an AnalysisTensors. */
export function disposeAnalysis(a: AnalysisTensors): void {
  tf.dispose([...a.taps, a.tapMaxima, a.thumbnails, a.featureMap, a.projection, a.predictions, a.labelUsed]);
}

type Rule = 'deconv' | 'grad' | 'guided';

interface Forward {
  /** Output of every trunk op. */
  outs: tf.Tensor4D[];
  /** Switch masks over each pool op's whole windows, [h, ph, w, pw, C] (1 at each window's first maximum), built
   * only when a backward chain crosses that pool (Grad-CAM at a deep layer never needs layer 1's). */
  masks: (tf.Tensor | null)[];
  /** Input of each pool op (null for other ops). */
  poolIns: (tf.Tensor4D | null)[];
  /** Per norm op: 1 / sqrt(var + epsilon) of its input, [1, 1, 1, C] (null for other ops). */
  invStds: (tf.Tensor4D | null)[];
  /** Input shape of every trunk op. */
  inShapes: number[][];
  /** Output of every head op (index i: output of head[i]), and the head's input vector. */
  headOuts: tf.Tensor2D[];
  headIn: tf.Tensor2D;
  logits: tf.Tensor2D;
  probs: tf.Tensor2D;
}

/** Runs analyses of one LoadedModel; owns derived tensors (flipped kernels): dispose() once. */
export class Analyzer {
  /** The network being analysed. */
  readonly graph: NetworkGraph;
  /** Smallest window in frames that leaves every layer non-empty. */
  readonly minFrames: number;
  private readonly thumbH: number;
  private readonly thumbW: number;
  private readonly model: LoadedModel;
  /** Per conv op: kernel rotated 180 degrees with in/out channels swapped. */
  private readonly flipped = new Map<string, tf.Tensor4D>();
  /** Per affine op: scale and shift shaped to broadcast along its axis of [1, H, W, C]. */
  private readonly affine = new Map<string, { scale: tf.Tensor4D; shift: tf.Tensor4D }>();
  private disposed = false;

  constructor(model: LoadedModel, options: AnalyzerOptions = {}) {
    this.model = model;
    this.graph = model.graph;
    this.minFrames = minWindowFrames(this.graph);
    const th = options.thumbHeight ?? 24;
    const tw = options.thumbWidth ?? 32;
    for (const [k, v] of [['thumbHeight', th], ['thumbWidth', tw]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > 256) throw new RangeError(`AnalyzerOptions.${k}: expected an integer in 1..256, got ${v}`);
    }
    this.thumbH = th;
    this.thumbW = tw;
    for (const op of this.graph.trunk) {
      if (op.kind === 'affine') {
        const { kernel, bias } = this.weights(op.name);
        const shape: [number, number, number, number] = [1, 1, 1, 1];
        shape[op.axis] = kernel.size;
        this.affine.set(op.name, tf.tidy(() => ({ scale: tf.reshape(kernel, shape) as tf.Tensor4D, shift: tf.reshape(bias ?? tf.zerosLike(kernel), shape) as tf.Tensor4D })));
      }
      if (op.kind !== 'conv') continue;
      const k = this.weights(op.name).kernel as tf.Tensor4D;
      this.flipped.set(op.name, tf.tidy(() => tf.transpose(tf.reverse(k, [0, 1]), [0, 1, 3, 2])));
    }
  }

  /** Releases the derived tensors (not the model's weights: the LoadedModel owns those). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([...this.flipped.values(), ...[...this.affine.values()].flatMap((a) => [a.scale, a.shift])]);
    this.flipped.clear();
    this.affine.clear();
  }

  /** Throws a RangeError when the selection does not fit the model. */
  checkSelection(sel: Selection): void {
    const taps = this.graph.taps;
    if (!Number.isInteger(sel.layer) || sel.layer < 0 || sel.layer >= taps.length) {
      throw new RangeError(`selection.layer: expected an integer in 0..${taps.length - 1}, got ${sel.layer}`);
    }
    const c = taps[sel.layer].channels;
    if (!Number.isInteger(sel.feature) || sel.feature < 0 || sel.feature >= c) {
      throw new RangeError(`selection.feature: expected an integer in 0..${c - 1} (channels of '${taps[sel.layer].name}'), got ${sel.feature}`);
    }
    if (!METHODS.includes(sel.method)) throw new RangeError(`selection.method: expected one of ${METHODS.join(', ')}, got ${String(sel.method)}`);
    const n = this.graph.outputUnits;
    if (sel.label !== undefined && (!Number.isInteger(sel.label) || sel.label < 0 || sel.label >= n)) {
      throw new RangeError(`selection.label: expected an integer in 0..${n - 1}, got ${sel.label}`);
    }
  }

  /** Throws a RangeError when the input is not [1, bins, frames >= minFrames, 1]. */
  checkInput(input: tf.Tensor): void {
    const s = input.shape;
    const g = this.graph;
    const ok = s.length === 4 && s[0] === 1 && s[1] === g.bins && s[3] === 1 && s[2] >= this.minFrames && (g.fixedFrames === null || s[2] === g.fixedFrames);
    if (!ok) {
      const frames = g.fixedFrames === null ? `frames >= ${this.minFrames}` : `${g.fixedFrames}`;
      throw new RangeError(`analyse input: expected shape [1, ${g.bins}, ${frames}, 1], got [${s.join(', ')}]`);
    }
  }

  /**
   * Analyses one window synchronously on the backend (inside tidy); the caller owns and disposes
   * the returned tensors (disposeAnalysis). `input` is [1, bins, frames, 1], already scaled.
   */
  analyseTensors(input: tf.Tensor4D, sel: Selection): AnalysisTensors {
    if (this.disposed) throw new Error('Analyzer: used after dispose()');
    this.checkInput(input);
    this.checkSelection(sel);
    return tf.tidy(() => {
      const fwd = this.forward(input);
      const tap = this.graph.taps[sel.layer];
      const act = fwd.outs[tap.opIndex];
      const [, h, w, c] = act.shape;
      const taps = this.graph.taps.map((t) => fwd.outs[t.opIndex]);
      const tapMaxima = tf.stack(taps.map((t) => tf.max(t))) as tf.Tensor1D;
      const thumbs = tf.image.resizeBilinear(act, [this.thumbH, this.thumbW], false, true);
      const thumbnails = tf.reshape(tf.transpose(thumbs, [0, 3, 1, 2]), [c, this.thumbH, this.thumbW]) as tf.Tensor3D;
      const featureMap = tf.reshape(tf.gather(act, [sel.feature], 3), [h, w]) as tf.Tensor2D; // gather: a 4-D channel slice is slow on wasm
      const { map, labelUsed } = this.project(fwd, sel, input.shape[2]);
      const projection = tf.transpose(tf.reshape(map, [this.graph.bins, input.shape[2]])) as tf.Tensor2D;
      const predictions = tf.reshape(fwd.probs, [-1]) as tf.Tensor1D;
      return { taps, tapMaxima, thumbnails, featureMap, projection, predictions, labelUsed };
    });
  }

  /** Analyses one window and reads the results back with `await data()` (never dataSync). */
  async analyse(input: tf.Tensor4D, sel: Selection, options: { readTaps?: boolean } = {}): Promise<AnalysisResult> {
    const t = this.analyseTensors(input, sel);
    try {
      const [tapMaxima, thumbnails, featureMap, projection, predictions, label, ...taps] = await Promise.all([
        t.tapMaxima.data(), t.thumbnails.data(), t.featureMap.data(), t.projection.data(), t.predictions.data(), t.labelUsed.data(),
        ...(options.readTaps ? t.taps.map((x) => x.data()) : []),
      ]);
      return {
        geometry: tapGeometry(this.graph, input.shape[2]),
        taps: options.readTaps ? (taps as Float32Array[]) : null,
        tapMaxima: tapMaxima as Float32Array,
        thumbnails: thumbnails as Float32Array,
        thumbHeight: this.thumbH,
        thumbWidth: this.thumbW,
        featureMap: featureMap as Float32Array,
        projection: projection as Float32Array,
        bins: this.graph.bins,
        frames: input.shape[2],
        predictions: predictions as Float32Array,
        labelUsed: label[0],
      };
    } finally {
      disposeAnalysis(t);
    }
  }

  private weights(name: string): { kernel: tf.Tensor; bias: tf.Tensor1D | null } {
    const w = this.model.weights.get(name);
    if (!w) throw new Error(`Analyzer: weights of '${name}' are gone (model disposed?)`);
    return w;
  }

  /** Forward pass keeping what the backward chain needs (call inside tidy). */
  private forward(input: tf.Tensor4D): Forward {
    const outs: tf.Tensor4D[] = [];
    const masks: (tf.Tensor | null)[] = [];
    const poolIns: (tf.Tensor4D | null)[] = [];
    const invStds: (tf.Tensor4D | null)[] = [];
    const inShapes: number[][] = [];
    let x = input;
    for (const op of this.graph.trunk) {
      inShapes.push(x.shape);
      let poolIn: tf.Tensor4D | null = null;
      let invStd: tf.Tensor4D | null = null;
      if (op.kind === 'conv') {
        const { kernel, bias } = this.weights(op.name);
        const a = op.activation;
        const fusedAct = a.kind === 'relu' ? 'relu' : a.kind === 'elu' && a.alpha === 1 ? 'elu' : 'linear';
        x = tf.fused.conv2d({ x, filter: kernel as tf.Tensor4D, strides: 1, pad: op.padding, bias: bias ?? undefined, activation: fusedAct });
        if (fusedAct === 'linear') x = applyHidden(x, a);
      } else if (op.kind === 'act') {
        x = applyHidden(x, op.activation);
      } else if (op.kind === 'norm') {
        const { mean, variance } = tf.moments(x, [1, 2], true);
        invStd = tf.rsqrt(tf.add(variance, op.epsilon)) as tf.Tensor4D;
        x = tf.mul(tf.sub(x, mean), invStd);
      } else if (op.kind === 'affine') {
        const a = this.affine.get(op.name);
        if (!a) throw new Error(`Analyzer: no scale/shift for '${op.name}'`);
        x = tf.add(tf.mul(x, a.scale), a.shift);
      } else {
        poolIn = x;
        x = tf.maxPool(x, [op.poolH, op.poolW], [op.poolH, op.poolW], 'valid');
      }
      outs.push(x);
      poolIns.push(poolIn);
      invStds.push(invStd);
      masks.push(null);
    }
    const last = x;
    const g = this.graph;
    let v: tf.Tensor2D;
    if (g.reduce.kind === 'gap') v = tf.mean(last, [1, 2]) as tf.Tensor2D;
    else if (g.reduce.kind === 'gmp') v = tf.max(last, [1, 2]) as tf.Tensor2D;
    else v = tf.reshape(last, [1, -1]) as tf.Tensor2D;
    const headIn = v;
    const headOuts: tf.Tensor2D[] = [];
    let logits: tf.Tensor2D | null = null;
    for (const op of g.head) {
      if (op.kind === 'dense') {
        const { kernel, bias } = this.weights(op.name);
        if (v.shape[1] !== op.inUnits) {
          throw new RangeError(`analyse input: '${op.name}' expects ${op.inUnits} inputs, this window gives ${v.shape[1]} (a Flatten head needs exactly the model's window)`);
        }
        let z = tf.matMul(v, kernel as tf.Tensor2D) as tf.Tensor2D;
        if (bias) z = tf.add(z, bias) as tf.Tensor2D;
        if (op.activation.kind === 'output') {
          logits = z;
          v = applyOutput(z, op.activation.fn);
        } else {
          v = applyHidden(z, op.activation);
        }
      } else if (op.activation.kind === 'output') {
        logits = v;
        v = applyOutput(v, op.activation.fn);
      } else {
        v = applyHidden(v, op.activation);
      }
      headOuts.push(v);
    }
    return { outs, masks, poolIns, invStds, inShapes, headOuts, headIn, logits: logits ?? v, probs: v };
  }

  /** The selected method's map on the input grid, [1, bins, frames, 1], and the label used. */
  private project(fwd: Forward, sel: Selection, frames: number): { map: tf.Tensor4D; labelUsed: tf.Tensor1D } {
    const tap = this.graph.taps[sel.layer];
    const act = fwd.outs[tap.opIndex];
    const noLabel = tf.tensor1d([-1], 'int32');
    if (sel.method === 'deconvnet' || ((sel.method === 'saliency' || sel.method === 'guided') && sel.label === undefined)) {
      const rule: Rule = sel.method === 'deconvnet' ? 'deconv' : sel.method === 'guided' ? 'guided' : 'grad';
      // deconvnet starts from the feature's map itself; the gradient methods from d(sum map)/d(map) = 1.
      // Only that channel is non-zero: the chain runs on it alone down to the first transposed conv.
      const map = tf.gather(act, [sel.feature], 3) as tf.Tensor4D;
      const g0 = rule === 'deconv' ? map : tf.onesLike(map);
      return { map: this.backTrunk(fwd, g0, tap.opIndex, 0, rule, sel.feature), labelUsed: noLabel };
    }
    const labelIndex = sel.label !== undefined ? tf.tensor1d([sel.label], 'int32') : (tf.argMax(fwd.logits, 1) as tf.Tensor1D);
    const labelUsed = tf.cast(labelIndex, 'int32') as tf.Tensor1D;
    const rule: Rule = sel.method === 'guided' ? 'guided' : 'grad';
    const gTop = this.backHead(fwd, tf.oneHot(labelUsed, this.graph.outputUnits).toFloat() as tf.Tensor2D, rule);
    const lastOp = this.graph.trunk.length - 1;
    if (sel.method !== 'gradcam') return { map: this.backTrunk(fwd, gTop, lastOp, 0, rule), labelUsed };
    // Grad-CAM: gradient of the label's logit w.r.t. the tap's activations A.
    const gA = tap.opIndex === lastOp ? gTop : this.backTrunk(fwd, gTop, lastOp, tap.opIndex + 1, 'grad');
    const weights = tf.mean(gA, [1, 2], true);
    const cam = tf.relu(tf.sum(tf.mul(act, weights), 3)); // [1, h, w]
    return { map: this.upsampleCells(cam as tf.Tensor3D, tap.opIndex, frames), labelUsed };
  }

  /** Places each cell of a [1, h, w] map on its stride x stride block of the input grid. */
  private upsampleCells(cam: tf.Tensor3D, opIndex: number, frames: number): tf.Tensor4D {
    const [, h, w] = cam.shape;
    const fh = axisField(this.graph.trunk, opIndex, 'h');
    const fw = axisField(this.graph.trunk, opIndex, 'w');
    const up = tf.reshape(upsampleTo(tf.reshape(cam, [1, h, w, 1]), fh.stride, fw.stride, h * fh.stride, w * fw.stride, 0), [h * fh.stride, w * fw.stride]);
    const bins = this.graph.bins;
    const oh = cellBlockOffset(fh);
    const ow = cellBlockOffset(fw);
    const hh = Math.min(h * fh.stride, bins - oh);
    const ww = Math.min(w * fw.stride, frames - ow);
    const cropped = hh === h * fh.stride && ww === w * fw.stride ? up : tf.slice(up, [0, 0], [hh, ww]);
    const placed = tf.pad(cropped, [[oh, bins - oh - hh], [ow, frames - ow - ww]]);
    return tf.reshape(placed, [1, bins, frames, 1]);
  }

  /** Gradient (or deconv signal) at the head's input from one at the logits. */
  private backHead(fwd: Forward, gLogits: tf.Tensor2D, rule: Rule): tf.Tensor4D {
    const head = this.graph.head;
    let g = gLogits;
    for (let i = head.length - 1; i >= 0; i--) {
      const op = head[i];
      if (op.activation.kind !== 'output') g = backActivation(g, op.activation, fwd.headOuts[i], rule);
      if (op.kind === 'dense') g = tf.matMul(g, this.weights(op.name).kernel as tf.Tensor2D, false, true);
    }
    const last = fwd.outs[fwd.outs.length - 1];
    const [, h, w, c] = last.shape;
    switch (this.graph.reduce.kind) {
      case 'gap':
        return tf.mul(tf.onesLike(last), tf.reshape(tf.div(g, h * w), [1, 1, 1, c])) as tf.Tensor4D;
      case 'gmp': {
        // The first maximum (row-major over height x width) of each channel takes the gradient.
        const flat = tf.reshape(last, [h * w, c]);
        const where = tf.transpose(tf.oneHot(tf.argMax(flat, 0) as tf.Tensor1D, h * w)); // [h*w, c]
        return tf.reshape(tf.mul(where, g), [1, h, w, c]);
      }
      case 'flatten':
        return tf.reshape(g, [1, h, w, c]);
    }
  }

  /**
   * Runs the backward chain from the output of trunk[from] down to the input of trunk[to].
   * Per op: pool: unpool to the first-max switches; conv: the transposed convolution (flipped
   * kernel), after the activation step (deconv: rectify; grad: times f'; guided: both);
   * affine (y = x * scale + shift): times scale, the transpose of a diagonal map, for every rule;
   * norm (y = xhat = (x - mean) / sigma over height x width, per channel): deconv freezes the
   * statistics at their forward values, so the signal passes the per-channel linear map 1 / sigma
   * (as a deconvnet treats any linear layer; subtracting the mean would smear negative energy over
   * the whole map); grad and guided take the exact gradient of instance normalisation,
   * g_x = (g - mean(g) - xhat * mean(g * xhat)) / sigma, means over height x width.
   * With `channel` set, g0 is that one channel [1, h, w, 1] of a signal zero in every other
   * channel (a selected feature): every op down to the first transposed conv acts per channel, so
   * they run on that channel alone (16x less work at a 16-channel layer); the conv then spreads it.
   */
  private backTrunk(fwd: Forward, g0: tf.Tensor4D, from: number, to: number, rule: Rule, channel: number | null = null): tf.Tensor4D {
    let g = g0;
    let ch = channel;
    // The forward tensor restricted to the channel the signal lives in (all of it when spread).
    const own = (t: tf.Tensor4D): tf.Tensor4D => (ch === null ? t : (tf.gather(t, [ch], 3) as tf.Tensor4D));
    for (let i = from; i >= to; i--) {
      const op = this.graph.trunk[i];
      const inShape = fwd.inShapes[i];
      if (op.kind === 'affine') {
        const scale = (this.affine.get(op.name) as { scale: tf.Tensor4D }).scale;
        g = tf.mul(g, op.axis === 3 ? own(scale) : scale);
      } else if (op.kind === 'norm') {
        const invStd = own(fwd.invStds[i] as tf.Tensor4D);
        if (rule === 'deconv') {
          g = tf.mul(g, invStd);
        } else {
          const xhat = own(fwd.outs[i]);
          const centred = tf.sub(tf.sub(g, tf.mean(g, [1, 2], true)), tf.mul(xhat, tf.mean(tf.mul(g, xhat), [1, 2], true)));
          g = tf.mul(centred, invStd);
        }
      } else if (op.kind === 'pool') {
        // Unpool: every pooled cell goes to its window's switch; rows/cols 'valid' pooling dropped get 0.
        const [, h, w] = inShape;
        if (ch === null) {
          const mask = fwd.masks[i] ?? firstMaxMask(fwd.poolIns[i] as tf.Tensor4D, fwd.outs[i], op.poolH, op.poolW);
          fwd.masks[i] = mask;
          g = unpool(g, mask, h, w);
        } else {
          g = unpool(g, firstMaxMask(own(fwd.poolIns[i] as tf.Tensor4D), own(fwd.outs[i]), op.poolH, op.poolW), h, w);
        }
      } else {
        // deconv rectifies the signal without looking at the forward pass.
        g = backActivation(g, op.activation, rule === 'deconv' ? g : own(fwd.outs[i]), rule);
        if (op.kind === 'conv') {
          // The transposed conv: the flipped kernel [kh, kw, out, in], or from one channel its slice [kh, kw, 1, in].
          const flipped = this.flipped.get(op.name) as tf.Tensor4D;
          const f = ch === null ? flipped : (tf.gather(flipped, [ch], 2) as tf.Tensor4D);
          // The transpose of a 'valid' convolution is a 'full' one: pad k - 1 on every side.
          const pad = op.padding === 'same' ? 'same' : ([[0, 0], [op.kernelH - 1, op.kernelH - 1], [op.kernelW - 1, op.kernelW - 1], [0, 0]] as tf.backend_util.ExplicitPadding);
          if (op.inChannels === 1) {
            // Onto one channel (the spectrogram), a depthwise conv plus a channel sum is several times
            // faster on wasm than a conv2d with a single output channel (1.8 vs 4.5 ms at 257 x 173 x 16).
            g = tf.depthwiseConv2d(g, f, 1, pad);
            if (ch === null) g = tf.sum(g, 3, true);
          } else {
            g = tf.conv2d(g, f, 1, pad);
          }
          ch = null;
        }
      }
    }
    return g;
  }
}

/**
 * Nearest-neighbour upsampling of [1, ho, wo, c] by (ph, pw), padded with `fill` to [1, h, w, c].
 * resizeNearestNeighbor with half-pixel centres is exact for integer factors (source row
 * floor((r + 0.5) / ph) is never near a rounding boundary) and far faster than tile on wasm.
 */
function upsampleTo(t: tf.Tensor4D, ph: number, pw: number, h: number, w: number, fill: number): tf.Tensor4D {
  const [, ho, wo] = t.shape;
  const up = ph === 1 && pw === 1 ? t : tf.image.resizeNearestNeighbor(t, [ho * ph, wo * pw], false, true);
  return ho * ph === h && wo * pw === w ? up : tf.pad(up, [[0, 0], [0, h - ho * ph], [0, w - wo * pw], [0, 0]], fill);
}

/**
 * Switches as a one-hot mask over the pooling windows of a batch-1 pre-pool map [1, H, W, C], shaped
 * [h, ph, w, pw, C] (window row, row in window, window column, column in window, channel; the
 * rows/cols that 'valid' pooling dropped are cropped): 1 at the FIRST maximum (row-major) of every
 * window, 0 elsewhere. Ties are common after ReLU (all-zero windows), so the order matters.
 * Working on this reshaped view, every step is one broadcast elementwise op (no upsampling or
 * padding of the pooled maps): about half the full-resolution passes of an upsampled-mask version.
 */
function firstMaxMask(x: tf.Tensor4D, pooled: tf.Tensor4D, ph: number, pw: number): tf.Tensor {
  const c = x.shape[3];
  const [, h, w] = pooled.shape;
  const x5 = tf.reshape(cropTo(x, h * ph, w * pw), [h, ph, w, pw, c]);
  // priority = ph * pw - (rank of the position in its window): highest for the first position.
  const pri = new Float32Array(ph * pw);
  for (let r = 0; r < ph; r++) for (let s = 0; s < pw; s++) pri[r * pw + s] = ph * pw - (r * pw + s);
  // x <= its window's maximum, equal only at maxima (the pooled value is one of them, exactly), so
  // step(pooled - x, k) is 1 below the maximum and k at the maxima; times the priority, the maxima
  // get k * priority (distinct multiples of k, >= k) and the rest at most ph * pw < k / 2.
  // (sub/step are several times faster than equal + cast or where on wasm.)
  const k = 2 * ph * pw + 1;
  const cand = tf.mul(tf.step(tf.sub(tf.reshape(pooled, [h, 1, w, 1, c]), x5), k), tf.tensor(pri, [1, ph, 1, pw, 1]));
  const best = tf.maxPool(tf.reshape(cand, [1, h * ph, w * pw, c]) as tf.Tensor4D, [ph, pw], [ph, pw], 'valid');
  // best is the first maximum's k * priority: only it exceeds best - k / 2.
  return tf.step(tf.sub(cand, tf.sub(tf.reshape(best, [h, 1, w, 1, c]), k / 2)));
}

/** Unpooling of a batch-1 [1, h, w, C] signal onto its switches (firstMaxMask), as [1, hIn, wIn, C]; dropped rows/cols get 0. */
function unpool(g: tf.Tensor4D, mask: tf.Tensor, hIn: number, wIn: number): tf.Tensor4D {
  const [h, ph, w, pw, c] = mask.shape;
  const up = tf.reshape(tf.mul(tf.reshape(g, [h, 1, w, 1, c]), mask), [h * ph, w * pw * c]);
  if (h * ph === hIn && w * pw === wIn) return tf.reshape(up, [1, hIn, wIn, c]);
  return tf.reshape(tf.pad(up, [[0, hIn - h * ph], [0, (wIn - w * pw) * c]]), [1, hIn, wIn, c]);
}

/**
 * The top-left [1, h, w, C] of a batch-1 map, sliced as a 2-D [H, W * C] view: the 4-D slice is
 * ~3.5x slower on wasm (6.6 vs 1.8 ms at 257 x 173 x 16).
 */
function cropTo(x: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
  const [, hIn, wIn, c] = x.shape;
  if (h === hIn && w === wIn) return x;
  return tf.reshape(tf.slice(tf.reshape(x, [hIn, wIn * c]), [0, 0], [h, w * c]), [1, h, w, c]);
}

function applyHidden<T extends tf.Tensor>(z: T, a: HiddenActivation): T {
  switch (a.kind) {
    case 'linear':
      return z;
    case 'relu':
      return tf.relu(z);
    case 'elu':
      return a.alpha === 1 ? tf.elu(z) : (tf.where(tf.greater(z, 0), z, tf.mul(a.alpha, tf.expm1(tf.minimum(z, 0)))) as T);
  }
}

function applyOutput(z: tf.Tensor2D, fn: 'sigmoid' | 'softmax' | 'linear'): tf.Tensor2D {
  return fn === 'sigmoid' ? tf.sigmoid(z) : fn === 'softmax' ? tf.softmax(z) : z;
}

/**
 * Backward step through an activation whose forward output was `y`.
 * deconv: rectify the signal; grad: multiply by f'(z); guided: both. f' comes from y:
 * ReLU: y > 0; ELU: 1 for y > 0, else alpha * exp(z) = y + alpha.
 */
function backActivation<T extends tf.Tensor>(g: T, a: HiddenActivation, y: T, rule: Rule): T {
  if (a.kind === 'linear') return g;
  const sig = rule === 'grad' ? g : tf.relu(g);
  if (rule === 'deconv') return sig as T;
  const pos = tf.step(y);
  const d = a.kind === 'relu' ? pos : tf.add(pos, tf.mul(tf.sub(1, pos), tf.add(y, a.alpha)));
  return tf.mul(sig, d) as T;
}
