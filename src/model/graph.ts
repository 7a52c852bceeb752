/**
 * The network as a chain of supported operations, and the geometry derived from it: per tap
 * layer the output size, the total time stride, the receptive field and the window rule
 * (DESIGN.md §3). Pure: no tfjs.
 */

/** Nonlinearity inside the convolutional trunk or between dense layers. */
export type HiddenActivation = { kind: 'linear' } | { kind: 'relu' } | { kind: 'elu'; alpha: number };

/** Output nonlinearity of the classifier head. */
export type OutputActivation = 'sigmoid' | 'softmax' | 'linear';

/** Conv2D, stride 1, odd kernel, bias optional, activation applied after the bias. */
export interface ConvOp {
  kind: 'conv';
  name: string;
  kernelH: number;
  kernelW: number;
  padding: 'same' | 'valid';
  inChannels: number;
  outChannels: number;
  useBias: boolean;
  activation: HiddenActivation;
}

/** A separate Activation / ReLU / ELU layer. */
export interface ActOp {
  kind: 'act';
  name: string;
  activation: HiddenActivation;
}

/** MaxPooling2D with stride == pool size and 'valid' padding (trailing rows/cols dropped). */
export interface PoolOp {
  kind: 'pool';
  name: string;
  poolH: number;
  poolW: number;
}

/**
 * Per-input ("instance") normalisation: per sample and channel, (x - mean) / sqrt(var + epsilon)
 * with the mean and biased variance over height x width (tfjs LayerNormalization, axis [1, 2], no
 * centre/scale; Keras 1 BatchNormalization mode 2 with a batch of one). Its output depends on the
 * whole analysed window.
 */
export interface NormOp {
  kind: 'norm';
  name: string;
  epsilon: number;
}

/**
 * Per-index scale and shift along one NHWC axis (1 = frequency rows, 2 = time frames, 3 =
 * channels): y = x * scale[i] + shift[i]. From a 1x1 DepthwiseConv2D or an inference-time
 * BatchNormalization; the LoadedModel holds scale as the layer's kernel and shift as its bias.
 */
export interface AffineOp {
  kind: 'affine';
  name: string;
  axis: 1 | 2 | 3;
}

/** One operation of the convolutional trunk (4-D tensors). */
export type TrunkOp = ConvOp | ActOp | PoolOp | NormOp | AffineOp;

/** How the trunk's last map becomes a vector. */
export interface ReduceOp {
  kind: 'gap' | 'gmp' | 'flatten';
  name: string;
}

/** Dense layer of the head; `activation` is applied after the bias. */
export interface DenseOp {
  kind: 'dense';
  name: string;
  inUnits: number;
  units: number;
  useBias: boolean;
  activation: HiddenActivation | { kind: 'output'; fn: OutputActivation };
}

/** A separate activation layer in the head. */
export interface HeadActOp {
  kind: 'act';
  name: string;
  activation: HiddenActivation | { kind: 'output'; fn: OutputActivation };
}

/** One operation of the classifier head (2-D tensors). */
export type HeadOp = DenseOp | HeadActOp;

/** A tap: a trunk layer whose output is shown and projected. */
export interface TapRef {
  /** Layer name in model.json. */
  name: string;
  /** Name shown to users. */
  displayName: string;
  /** Index into NetworkGraph.trunk of the op whose output is tapped. */
  opIndex: number;
  channels: number;
}

/** The whole network as the analyzer runs it. */
export interface NetworkGraph {
  /** Frequency bins of the input (H). */
  bins: number;
  /** Frames fixed by the model (Flatten heads), or null for any window length. */
  fixedFrames: number | null;
  trunk: TrunkOp[];
  reduce: ReduceOp;
  head: HeadOp[];
  taps: TapRef[];
  /** Output units (one per label). */
  outputUnits: number;
  outputActivation: OutputActivation;
}

/** Receptive field of one axis at some op's output. */
export interface AxisField {
  /** Input cells between neighbouring output cells (product of pools so far). */
  stride: number;
  /** Width of one output cell's receptive field in input cells. */
  field: number;
  /** Input index where output cell 0's field starts (negative: reaches into 'same' padding). */
  start: number;
}

/** Geometry of one tap for a given input size. */
export interface TapGeometry {
  name: string;
  displayName: string;
  channels: number;
  /** Output size: height (frequency cells) x width (time cells). */
  height: number;
  width: number;
  /** Total time stride in frames (product of time pools up to this tap). */
  timeStrideFrames: number;
  /** Receptive field width in frames (RF_L). */
  receptiveFieldFrames: number;
  /** Frame (relative to the window start) where cell 0's receptive field starts. */
  firstFieldStartFrame: number;
  /** The same three along frequency, in bins. */
  freqStrideBins: number;
  receptiveFieldBins: number;
  firstFieldStartBin: number;
}

/** Output [height, width, channels] of one trunk op for an input of that size. */
export function opOutputShape(op: TrunkOp, h: number, w: number, c: number): [number, number, number] {
  switch (op.kind) {
    case 'conv':
      return op.padding === 'same' ? [h, w, op.outChannels] : [h - op.kernelH + 1, w - op.kernelW + 1, op.outChannels];
    case 'act':
    case 'norm':
    case 'affine':
      return [h, w, c];
    case 'pool':
      return [Math.floor(h / op.poolH), Math.floor(w / op.poolW), c];
  }
}

/** Shapes [h, w, c] after every trunk op (index i: output of trunk[i]) for an input bins x frames. */
export function trunkShapes(graph: NetworkGraph, frames: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  let s: [number, number, number] = [graph.bins, frames, 1];
  for (const op of graph.trunk) {
    s = opOutputShape(op, s[0], s[1], s[2]);
    out.push(s);
  }
  return out;
}

/** Whether the network's output depends on the whole analysed window (any 'norm' op), not only on each cell's receptive field. */
export function isWindowDependent(graph: NetworkGraph): boolean {
  return graph.trunk.some((op) => op.kind === 'norm');
}

/** Receptive field along one axis ('h' = frequency, 'w' = time) after trunk[0..opIndex]. */
export function axisField(trunk: TrunkOp[], opIndex: number, axis: 'h' | 'w'): AxisField {
  let stride = 1;
  let field = 1;
  let start = 0;
  for (let i = 0; i <= opIndex; i++) {
    const op = trunk[i];
    if (op.kind === 'conv') {
      const k = axis === 'h' ? op.kernelH : op.kernelW;
      field += (k - 1) * stride;
      if (op.padding === 'same') start -= ((k - 1) / 2) * stride;
    } else if (op.kind === 'pool') {
      const p = axis === 'h' ? op.poolH : op.poolW;
      field += (p - 1) * stride;
      stride *= p;
    }
  }
  return { stride, field, start };
}

/**
 * Offset of the centred `stride`-wide block that cell 0 stands for on the input grid:
 * start + (field - stride) / 2 (an integer for odd kernels; 0 when every conv is 'same').
 */
export function cellBlockOffset(f: AxisField): number {
  return f.start + (f.field - f.stride) / 2;
}

/** Geometry of every tap for an input of `frames` frames. */
export function tapGeometry(graph: NetworkGraph, frames: number): TapGeometry[] {
  const shapes = trunkShapes(graph, frames);
  return graph.taps.map((t) => {
    const fw = axisField(graph.trunk, t.opIndex, 'w');
    const fh = axisField(graph.trunk, t.opIndex, 'h');
    const [height, width] = shapes[t.opIndex];
    return {
      name: t.name,
      displayName: t.displayName,
      channels: t.channels,
      height,
      width,
      timeStrideFrames: fw.stride,
      receptiveFieldFrames: fw.field,
      firstFieldStartFrame: fw.start,
      freqStrideBins: fh.stride,
      receptiveFieldBins: fh.field,
      firstFieldStartBin: fh.start,
    };
  });
}

/** Total time stride of the network in frames: product of all time pools of the trunk. */
export function totalTimeStrideFrames(graph: NetworkGraph): number {
  return axisField(graph.trunk, graph.trunk.length - 1, 'w').stride;
}

/** Smallest window (frames) for which every trunk op still has at least one output column. */
export function minWindowFrames(graph: NetworkGraph): number {
  for (let frames = 1; frames < 1 << 16; frames++) {
    if (trunkShapes(graph, frames).every((s) => s[0] >= 1 && s[1] >= 1)) return frames;
  }
  throw new Error('network: no window length gives a non-empty output');
}

/**
 * Start of the analysed window [S, n) (DESIGN.md §3): S = stride * floor((n - W) / stride), so the
 * window spans W .. W + stride - 1 frames and the pooling grid stays anchored to absolute time.
 */
export function windowStart(nFrames: number, windowFrames: number, strideFrames: number): number {
  if (!Number.isInteger(strideFrames) || strideFrames < 1) {
    throw new RangeError(`windowStart: strideFrames: expected a positive integer, got ${strideFrames}`);
  }
  if (nFrames < windowFrames) {
    throw new RangeError(`windowStart: nFrames: expected at least windowFrames (${windowFrames}), got ${nFrames}`);
  }
  return strideFrames * Math.floor((nFrames - windowFrames) / strideFrames);
}
