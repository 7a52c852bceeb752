/**
 * Model loading: a tfjs LayersModel (model.json + weights) read through any tf.io.IOHandler,
 * validated against its manifest ("expected X, got Y"), turned into a NetworkGraph plus weight
 * tensors, and warmed up with one analysis on zeros. The Keras topology is parsed here (not by
 * tfjs-layers) so that unsupported layers are refused by name before anything runs.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelManifest } from '../shared/manifest';
import type { AffineOp, HiddenActivation, HeadOp, NetworkGraph, OutputActivation, ReduceOp, TapRef, TrunkOp } from './graph';
import { minWindowFrames, trunkShapes } from './graph';
import { describeValue, ModelValidationError, validateManifest } from './manifest';
import { Analyzer } from './analyzer';

/** Kernel and optional bias of one Conv2D or Dense layer, or scale and shift of an 'affine' op. */
export interface LayerWeights {
  /** Conv2D: [kh, kw, in, out]; Dense: [in, out]; affine op: the scale, [length of its axis]. */
  kernel: tf.Tensor;
  bias: tf.Tensor1D | null;
}

/** A validated model, ready for an Analyzer. Owns its weight tensors: call dispose() once. */
export interface LoadedModel {
  manifest: ModelManifest;
  graph: NetworkGraph;
  /** Weights by layer name (Conv2D and Dense layers, and the scale/shift of 'affine' ops). */
  weights: Map<string, LayerWeights>;
  /** Duration of the warm-up analysis in ms (0 when skipped). */
  warmUpMs: number;
  dispose(): void;
}

/** Layer classes the analyzer implements (Dropout is accepted as the identity it is at inference). */
export const SUPPORTED_LAYERS = [
  'InputLayer', 'Conv2D', 'MaxPooling2D', 'Activation', 'ReLU', 'ELU', 'Dense', 'Flatten',
  'GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'Dropout', 'LayerNormalization', 'DepthwiseConv2D',
  'BatchNormalization',
] as const;

/** Where an 'affine' op's scale and shift come from (the weights it needs differ). */
type AffineSource =
  | { className: 'DepthwiseConv2D'; useBias: boolean }
  | { className: 'BatchNormalization'; center: boolean; scale: boolean; epsilon: number };

type Obj = Record<string, unknown>;

interface RawLayer {
  className: string;
  name: string;
  config: Obj;
  inbound: unknown;
}

function invalid(msg: string): never {
  throw new ModelValidationError(msg);
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The layer list of a Sequential or Functional Keras topology (tfjs or Keras 2/3 export). */
function rawLayers(topology: unknown): { layers: RawLayer[]; functional: boolean } {
  if (!isObj(topology)) invalid(`model.json: modelTopology: expected an object, got ${describeValue(topology)}`);
  const top = isObj(topology.model_config) ? topology.model_config : topology;
  const cls = top.class_name;
  const cfg = top.config;
  let list: unknown;
  if (cls === 'Sequential') list = Array.isArray(cfg) ? cfg : isObj(cfg) ? cfg.layers : undefined;
  else if (cls === 'Model' || cls === 'Functional') list = isObj(cfg) ? cfg.layers : undefined;
  else invalid(`model.json: model class: expected 'Sequential', 'Functional' or 'Model', got ${describeValue(cls)}`);
  if (!Array.isArray(list) || list.length === 0) invalid(`model.json: layers: expected a non-empty array, got ${describeValue(list)}`);
  const layers = list.map((l, i): RawLayer => {
    if (!isObj(l) || typeof l.class_name !== 'string' || !isObj(l.config)) invalid(`model.json: layers[${i}]: expected {class_name, config}, got ${describeValue(l)}`);
    const name = typeof l.name === 'string' ? l.name : l.config.name;
    if (typeof name !== 'string') invalid(`model.json: layers[${i}].name: expected a string, got ${describeValue(name)}`);
    return { className: l.class_name, name, config: l.config, inbound: l.inbound_nodes };
  });
  return { layers, functional: cls !== 'Sequential' };
}

/** Names of the layers a Functional layer's inbound_nodes refer to (Keras 2 and Keras 3 forms). */
function inboundNames(inbound: unknown, known: Set<string>): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      if (typeof v[0] === 'string' && known.has(v[0]) && typeof v[1] === 'number') out.add(v[0]);
      else v.forEach(walk);
    } else if (isObj(v)) {
      Object.values(v).forEach(walk);
    }
  };
  walk(inbound);
  return out;
}

function pair(v: unknown, what: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number') return [v[0], v[1]];
  invalid(`${what}: expected a number or a pair of numbers, got ${describeValue(v)}`);
}

function hiddenActivation(v: unknown, what: string, alpha = 1): HiddenActivation {
  if (v === 'relu') return { kind: 'relu' };
  if (v === 'elu') return { kind: 'elu', alpha };
  if (v === 'linear' || v === null || v === undefined) return { kind: 'linear' };
  invalid(`${what}: expected 'relu', 'elu' or 'linear', got ${describeValue(v)}`);
}

function checkChannelsLast(l: RawLayer): void {
  const df = l.config.data_format;
  if (df !== undefined && df !== null && df !== 'channels_last') {
    invalid(`layer '${l.name}' (${l.className}).data_format: expected 'channels_last', got ${describeValue(df)}`);
  }
}

function batchShape(l: RawLayer): unknown {
  return l.config.batch_input_shape ?? l.config.batch_shape;
}

function fmtShape(s: readonly (number | null)[]): string {
  return `[${s.map((d) => (d === null ? 'null' : String(d))).join(', ')}]`;
}

function bool(v: unknown, fallback: boolean, what: string): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') invalid(`${what}: expected true or false, got ${describeValue(v)}`);
  return v;
}

function positive(v: unknown, fallback: number, what: string): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) invalid(`${what}: expected a positive number, got ${describeValue(v)}`);
  return v;
}

/** An NHWC axis (negative counts from the end) as 1..3, or null when it is not one. */
function nhwcAxis(v: unknown): 1 | 2 | 3 | null {
  if (typeof v !== 'number' || !Number.isInteger(v)) return null;
  const a = v < 0 ? v + 4 : v;
  return a === 1 || a === 2 || a === 3 ? a : null;
}

/** Parses and validates the topology against the manifest; returns the graph (weights unchecked). */
export function buildGraph(topology: unknown, manifest: ModelManifest): NetworkGraph {
  return parseTopology(topology, manifest).graph;
}

/** buildGraph, plus what collectWeights needs to know about each 'affine' op's source layer. */
function parseTopology(topology: unknown, manifest: ModelManifest): { graph: NetworkGraph; affine: Map<string, AffineSource> } {
  const { layers, functional } = rawLayers(topology);
  for (const l of layers) {
    if (!(SUPPORTED_LAYERS as readonly string[]).includes(l.className)) {
      invalid(`layer '${l.name}' (${l.className}) is not supported; supported: ${SUPPORTED_LAYERS.join(', ')}`);
    }
  }
  if (functional) {
    const known = new Set(layers.map((l) => l.name));
    layers.forEach((l, i) => {
      const from = [...inboundNames(l.inbound, known)];
      const want = i === 0 ? [] : [layers[i - 1].name];
      if (from.length !== want.length || from.some((f, j) => f !== want[j])) {
        invalid(`layer '${l.name}': expected a simple chain with input from ${want.length ? `'${want[0]}'` : 'nothing'}, got input from [${from.map((f) => `'${f}'`).join(', ')}]`);
      }
    });
  }
  // Input shape: an InputLayer, or batch_input_shape on the first layer.
  const first = layers[0];
  const shapeRaw = batchShape(first);
  if (!Array.isArray(shapeRaw) || shapeRaw.length !== 4) {
    invalid(`model input shape: expected [null, bins, frames|null, 1], got ${describeValue(shapeRaw)}`);
  }
  const [bins, wantFrames, channels] = manifest.inputShape;
  const shape = shapeRaw as (number | null)[];
  if (shape[1] !== bins || shape[3] !== 1 || (shape[2] !== null && shape[2] !== wantFrames)) {
    invalid(`model input shape: expected ${fmtShape([null, bins, null, channels])} (manifest.inputShape), got ${fmtShape(shape)}`);
  }
  const fixedFrames = shape[2];
  const rest = first.className === 'InputLayer' ? layers.slice(1) : layers;

  const trunk: TrunkOp[] = [];
  const head: HeadOp[] = [];
  let reduce: ReduceOp | null = null;
  let c = 1;
  let units = 0;
  const trunkNames: string[] = [];
  const affine = new Map<string, AffineSource>();
  for (const l of rest) {
    const cfg = l.config;
    const what = `layer '${l.name}' (${l.className})`;
    switch (l.className) {
      case 'InputLayer':
        invalid(`${what}: expected an InputLayer only as the first layer`);
        break;
      case 'Dropout':
        break;
      case 'Conv2D': {
        if (reduce) invalid(`${what}: expected no Conv2D after '${reduce.name}'`);
        checkChannelsLast(l);
        const [kh, kw] = pair(cfg.kernel_size, `${what}.kernel_size`);
        if (kh % 2 !== 1 || kw % 2 !== 1) invalid(`${what}.kernel_size: expected odd sizes, got [${kh}, ${kw}]`);
        const st = pair(cfg.strides ?? 1, `${what}.strides`);
        if (st[0] !== 1 || st[1] !== 1) invalid(`${what}.strides: expected [1, 1], got [${st.join(', ')}]`);
        const dil = pair(cfg.dilation_rate ?? 1, `${what}.dilation_rate`);
        if (dil[0] !== 1 || dil[1] !== 1) invalid(`${what}.dilation_rate: expected [1, 1], got [${dil.join(', ')}]`);
        if (cfg.groups !== undefined && cfg.groups !== 1) invalid(`${what}.groups: expected 1, got ${describeValue(cfg.groups)}`);
        const padding = cfg.padding;
        if (padding !== 'same' && padding !== 'valid') invalid(`${what}.padding: expected 'same' or 'valid', got ${describeValue(padding)}`);
        const filters = cfg.filters;
        if (typeof filters !== 'number' || !Number.isInteger(filters) || filters <= 0) invalid(`${what}.filters: expected a positive integer, got ${describeValue(filters)}`);
        trunk.push({ kind: 'conv', name: l.name, kernelH: kh, kernelW: kw, padding, inChannels: c, outChannels: filters, useBias: cfg.use_bias !== false, activation: hiddenActivation(cfg.activation, `${what}.activation`) });
        trunkNames.push(l.name);
        c = filters;
        break;
      }
      case 'MaxPooling2D': {
        if (reduce) invalid(`${what}: expected no pooling after '${reduce.name}'`);
        checkChannelsLast(l);
        const [ph, pw] = pair(cfg.pool_size, `${what}.pool_size`);
        const st = cfg.strides === null || cfg.strides === undefined ? [ph, pw] : pair(cfg.strides, `${what}.strides`);
        if (st[0] !== ph || st[1] !== pw) invalid(`${what}.strides: expected the pool size [${ph}, ${pw}], got [${st.join(', ')}]`);
        if (cfg.padding !== undefined && cfg.padding !== 'valid') invalid(`${what}.padding: expected 'valid', got ${describeValue(cfg.padding)}`);
        trunk.push({ kind: 'pool', name: l.name, poolH: ph, poolW: pw });
        trunkNames.push(l.name);
        break;
      }
      case 'LayerNormalization': {
        if (reduce) invalid(`${what}: expected no normalisation after '${reduce.name}'`);
        const axes = Array.isArray(cfg.axis) ? cfg.axis.map(nhwcAxis) : null;
        const ok = axes !== null && axes.length === 2 && axes.includes(1) && axes.includes(2);
        if (!ok) invalid(`${what}.axis: expected [1, 2] (or [-3, -2]: per-input normalisation over frequency x time), got ${describeValue(cfg.axis)}`);
        const center = bool(cfg.center, true, `${what}.center`);
        const scale = bool(cfg.scale, true, `${what}.scale`);
        if (center || scale) invalid(`${what}: expected center false and scale false (plain per-input normalisation), got center ${center}, scale ${scale}`);
        if (cfg.rms_scaling === true) invalid(`${what}.rms_scaling: expected false, got true`);
        trunk.push({ kind: 'norm', name: l.name, epsilon: positive(cfg.epsilon, 1e-3, `${what}.epsilon`) });
        trunkNames.push(l.name);
        break;
      }
      case 'DepthwiseConv2D': {
        if (reduce) invalid(`${what}: expected no DepthwiseConv2D after '${reduce.name}'`);
        checkChannelsLast(l);
        const k = pair(cfg.kernel_size, `${what}.kernel_size`);
        if (k[0] !== 1 || k[1] !== 1) invalid(`${what}.kernel_size: expected [1, 1] (a per-channel scale and shift), got [${k.join(', ')}]`);
        const dm = cfg.depth_multiplier ?? 1;
        if (dm !== 1) invalid(`${what}.depth_multiplier: expected 1, got ${describeValue(dm)}`);
        const st = pair(cfg.strides ?? 1, `${what}.strides`);
        if (st[0] !== 1 || st[1] !== 1) invalid(`${what}.strides: expected [1, 1], got [${st.join(', ')}]`);
        const dil = pair(cfg.dilation_rate ?? 1, `${what}.dilation_rate`);
        if (dil[0] !== 1 || dil[1] !== 1) invalid(`${what}.dilation_rate: expected [1, 1], got [${dil.join(', ')}]`);
        if (cfg.padding !== undefined && cfg.padding !== 'same' && cfg.padding !== 'valid') invalid(`${what}.padding: expected 'same' or 'valid', got ${describeValue(cfg.padding)}`);
        if (hiddenActivation(cfg.activation, `${what}.activation`).kind !== 'linear') invalid(`${what}.activation: expected 'linear' (put the nonlinearity in its own layer), got ${describeValue(cfg.activation)}`);
        trunk.push({ kind: 'affine', name: l.name, axis: 3 });
        trunkNames.push(l.name);
        affine.set(l.name, { className: 'DepthwiseConv2D', useBias: bool(cfg.use_bias, true, `${what}.use_bias`) });
        break;
      }
      case 'BatchNormalization': {
        if (reduce) invalid(`${what}: expected no BatchNormalization after '${reduce.name}'`);
        const rawAxis = Array.isArray(cfg.axis) && cfg.axis.length === 1 ? cfg.axis[0] : cfg.axis ?? -1;
        const axis = nhwcAxis(rawAxis);
        if (axis === null) invalid(`${what}.axis: expected one of 1 (frequency), 2 (time), 3 or -1 (channels), got ${describeValue(cfg.axis)}`);
        if (axis === 2 && fixedFrames === null) {
          invalid(`${what}.axis: expected axis 2 (time) only with a fixed input frame count, got a model input of any length (batch_input_shape [null, ${bins}, null, 1])`);
        }
        if (cfg.renorm === true) invalid(`${what}.renorm: expected false, got true`);
        trunk.push({ kind: 'affine', name: l.name, axis });
        trunkNames.push(l.name);
        affine.set(l.name, { className: 'BatchNormalization', center: bool(cfg.center, true, `${what}.center`), scale: bool(cfg.scale, true, `${what}.scale`), epsilon: positive(cfg.epsilon, 1e-3, `${what}.epsilon`) });
        break;
      }
      case 'Activation':
      case 'ReLU':
      case 'ELU': {
        let act: HiddenActivation | { kind: 'output'; fn: OutputActivation };
        if (l.className === 'ReLU') {
          const bad = (cfg.max_value !== undefined && cfg.max_value !== null) || (cfg.negative_slope ?? 0) !== 0 || (cfg.threshold ?? 0) !== 0;
          if (bad) invalid(`${what}: expected a plain ReLU (no max_value, negative_slope 0, threshold 0), got ${describeValue({ max_value: cfg.max_value, negative_slope: cfg.negative_slope, threshold: cfg.threshold })}`);
          act = { kind: 'relu' };
        } else if (l.className === 'ELU') {
          const alpha = cfg.alpha ?? 1;
          if (typeof alpha !== 'number' || !(alpha > 0)) invalid(`${what}.alpha: expected a positive number, got ${describeValue(alpha)}`);
          act = { kind: 'elu', alpha };
        } else if (reduce && (cfg.activation === 'sigmoid' || cfg.activation === 'softmax')) {
          act = { kind: 'output', fn: cfg.activation };
        } else {
          act = hiddenActivation(cfg.activation, `${what}.activation`);
        }
        if (reduce) head.push({ kind: 'act', name: l.name, activation: act });
        else if (act.kind !== 'output') {
          trunk.push({ kind: 'act', name: l.name, activation: act });
          trunkNames.push(l.name);
        }
        break;
      }
      case 'Flatten':
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        if (reduce) invalid(`${what}: expected one Flatten or global pooling layer, got a second after '${reduce.name}'`);
        checkChannelsLast(l);
        if (cfg.keepdims === true) invalid(`${what}.keepdims: expected false, got true`);
        if (trunk.length === 0) invalid(`${what}: expected at least one Conv2D before it`);
        const kind = l.className === 'Flatten' ? 'flatten' : l.className === 'GlobalAveragePooling2D' ? 'gap' : 'gmp';
        reduce = { kind, name: l.name };
        if (kind === 'flatten') {
          const frames = fixedFrames ?? wantFrames;
          const s = trunkShapes({ bins, fixedFrames, trunk, reduce, head, taps: [], outputUnits: 0, outputActivation: 'linear' }, frames);
          const last = s[s.length - 1];
          units = last[0] * last[1] * last[2];
        } else {
          units = c;
        }
        break;
      }
      case 'Dense': {
        if (!reduce) invalid(`${what}: expected a Flatten or global pooling layer before it`);
        const u = cfg.units;
        if (typeof u !== 'number' || !Number.isInteger(u) || u <= 0) invalid(`${what}.units: expected a positive integer, got ${describeValue(u)}`);
        const a = cfg.activation;
        const act = a === 'sigmoid' || a === 'softmax' ? { kind: 'output' as const, fn: a as OutputActivation } : hiddenActivation(a, `${what}.activation`);
        head.push({ kind: 'dense', name: l.name, inUnits: units, units: u, useBias: cfg.use_bias !== false, activation: act });
        units = u;
        break;
      }
    }
  }
  if (!reduce) invalid('model: expected a Flatten or global pooling layer after the convolutional trunk, got none');
  const finalReduce: ReduceOp = reduce;
  const lastDense = [...head].reverse().find((h) => h.kind === 'dense');
  if (!lastDense) invalid('model: expected a Dense output layer, got none');
  // The output activation: on the last Dense, or an Activation right after it.
  const lastOp = head[head.length - 1];
  let outputActivation: OutputActivation = 'linear';
  if (lastOp.activation.kind === 'output') outputActivation = lastOp.activation.fn;
  head.forEach((h, i) => {
    if (h.activation.kind === 'output' && i !== head.length - 1) invalid(`layer '${h.name}': expected ${h.activation.fn} only on the output layer`);
  });
  const outName = rest[rest.length - 1].name;
  if (manifest.output.layer !== outName) invalid(`manifest.output.layer: expected '${outName}' (the model's last layer), got '${manifest.output.layer}'`);
  if (outputActivation !== manifest.output.activation) invalid(`manifest.output.activation: expected '${outputActivation}' (the model's output layer), got '${manifest.output.activation}'`);
  if (lastOp.kind === 'act' && head.length >= 2 && head[head.length - 2].kind === 'dense' && head[head.length - 2].activation.kind !== 'linear') {
    invalid(`layer '${lastOp.name}': expected a linear Dense before the output activation`);
  }
  if (manifest.labels.length !== units) invalid(`manifest.labels: expected ${units} labels (units of '${lastDense.name}'), got ${manifest.labels.length}`);

  const taps: TapRef[] = manifest.taps.map((t, i) => {
    const opIndex = trunkNames.indexOf(t.layer);
    if (opIndex < 0) invalid(`manifest.taps[${i}].layer: expected a layer of the convolutional trunk (${trunkNames.join(', ')}), got '${t.layer}'`);
    return { name: t.layer, displayName: t.displayName, opIndex, channels: t.channels };
  });
  taps.forEach((t, i) => {
    if (i > 0 && t.opIndex <= taps[i - 1].opIndex) invalid(`manifest.taps[${i}].layer: expected a layer after '${taps[i - 1].name}', got '${t.name}'`);
  });
  const graph: NetworkGraph = { bins, fixedFrames, trunk, reduce: finalReduce, head, taps, outputUnits: units, outputActivation };
  // Tap channels, and that the manifest's window gives every layer at least one cell.
  const shapes = trunkShapes(graph, fixedFrames ?? wantFrames);
  taps.forEach((t, i) => {
    const got = shapes[t.opIndex][2];
    if (got !== t.channels) invalid(`manifest.taps[${i}].channels: expected ${got} (channels of '${t.name}' in the model), got ${t.channels}`);
  });
  const minFrames = minWindowFrames(graph);
  if (wantFrames < minFrames) invalid(`manifest.inputShape[1]: expected at least ${minFrames} frames (the network's smallest window), got ${wantFrames}`);
  if (shapes.some((s) => s[0] < 1)) invalid(`model: expected every layer to keep at least one frequency row for ${bins} bins, got an empty layer`);
  return { graph, affine };
}

/** Finds a weight by layer and kind ('kernel' | 'bias'): names like 'conv1/kernel', 'model/conv1/kernel:0'. */
function findWeight(names: string[], layer: string, kind: string): string | undefined {
  return names.find((n) => {
    const parts = n.replace(/:\d+$/, '').split('/');
    return parts.length >= 2 && parts[parts.length - 1] === kind && parts[parts.length - 2] === layer;
  });
}

/**
 * Checks that every Conv2D/Dense weight (and every affine op's source weights) is present with the
 * right shape; returns them by layer. Affine ops get new tensors: kernel = scale, bias = shift.
 */
function collectWeights(graph: NetworkGraph, affine: Map<string, AffineSource>, named: tf.NamedTensorMap): Map<string, LayerWeights> {
  const names = Object.keys(named);
  const out = new Map<string, LayerWeights>();
  const get = (layer: string, kind: string, shape: number[], why = ''): tf.Tensor => {
    const name = findWeight(names, layer, kind);
    const want = `[${shape.join(', ')}]${why}`;
    if (!name) invalid(`weights of layer '${layer}': expected '${layer}/${kind}' with shape ${want}, got none (missing weights)`);
    const t = named[name];
    if (t.dtype !== 'float32') invalid(`weights '${name}': expected dtype float32, got ${t.dtype}`);
    if (!tf.util.arraysEqual(t.shape, shape)) invalid(`weights '${name}': expected shape ${want}, got [${t.shape.join(', ')}]`);
    return t;
  };
  const take = (layer: string, kernelShape: number[], biasUnits: number | null): void => {
    const kernel = get(layer, 'kernel', kernelShape);
    const bias = biasUnits === null ? null : (get(layer, 'bias', [biasUnits]) as tf.Tensor1D);
    out.set(layer, { kernel, bias });
  };
  const shapes = trunkShapes(graph, graph.fixedFrames ?? minWindowFrames(graph));
  const derived: tf.Tensor[] = [];
  const affineWeights = (op: AffineOp, i: number): LayerWeights => {
    const src = affine.get(op.name);
    if (!src) throw new Error(`collectWeights: no source recorded for affine op '${op.name}'`);
    const n = shapes[i][op.axis - 1];
    const why = [' (frequency rows at this layer)', ' (the model\'s fixed input frame count)', ' (channels at this layer)'][op.axis - 1];
    if (src.className === 'DepthwiseConv2D') {
      const k = get(op.name, 'depthwise_kernel', [1, 1, n, 1], why);
      const b = src.useBias ? get(op.name, 'bias', [n], why) : null;
      return { kernel: tf.reshape(k, [n]), bias: b ? (tf.clone(b) as tf.Tensor1D) : tf.zeros([n]) };
    }
    const mean = get(op.name, 'moving_mean', [n], why);
    const variance = get(op.name, 'moving_variance', [n], why);
    const gamma = src.scale ? get(op.name, 'gamma', [n], why) : null;
    const beta = src.center ? get(op.name, 'beta', [n], why) : null;
    // Inference-time batch norm: scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
    return tf.tidy(() => {
      const scale = tf.div(gamma ?? tf.onesLike(mean), tf.sqrt(tf.add(variance, src.epsilon)));
      return { kernel: scale, bias: tf.sub(beta ?? tf.zerosLike(mean), tf.mul(mean, scale)) as tf.Tensor1D };
    });
  };
  try {
    graph.trunk.forEach((op, i) => {
      if (op.kind === 'conv') take(op.name, [op.kernelH, op.kernelW, op.inChannels, op.outChannels], op.useBias ? op.outChannels : null);
      if (op.kind !== 'affine') return;
      const w = affineWeights(op, i);
      derived.push(w.kernel, ...(w.bias ? [w.bias] : []));
      out.set(op.name, w);
    });
    for (const op of graph.head) {
      if (op.kind === 'dense') take(op.name, [op.inUnits, op.units], op.useBias ? op.units : null);
    }
  } catch (e) {
    tf.dispose(derived); // the caller disposes the decoded (named) tensors
    throw e;
  }
  return out;
}

/** Options of loadModel. */
export interface LoadOptions {
  /** Run one analysis on zeros after loading (default true): compiles kernels/shaders up front. */
  warmUp?: boolean;
}

/** Loads, validates and warms up a model; throws ModelValidationError with "expected X, got Y". */
export async function loadModel(handler: tf.io.IOHandler, manifestJson: unknown, options: LoadOptions = {}): Promise<LoadedModel> {
  const manifest = validateManifest(manifestJson);
  if (!handler.load) invalid('model: expected an IOHandler that can load, got one without load()');
  const artifacts = await handler.load();
  const { graph, affine } = parseTopology(artifacts.modelTopology, manifest);
  if (!artifacts.weightSpecs || !artifacts.weightData) invalid('model.json: expected weights (weightsManifest and weight data), got none (missing weights)');
  let named: tf.NamedTensorMap;
  try {
    named = tf.io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
  } catch (e) {
    invalid(`weights: expected data matching weightsManifest, got an error decoding them: ${(e as Error).message}`);
  }
  let weights: Map<string, LayerWeights>;
  try {
    weights = collectWeights(graph, affine, named);
  } catch (e) {
    tf.dispose(Object.values(named));
    throw e;
  }
  const used = new Set<tf.Tensor>();
  for (const w of weights.values()) {
    used.add(w.kernel);
    if (w.bias) used.add(w.bias);
  }
  tf.dispose(Object.values(named).filter((t) => !used.has(t)));
  const model: LoadedModel = {
    manifest,
    graph,
    weights,
    warmUpMs: 0,
    dispose: () => {
      for (const w of weights.values()) tf.dispose([w.kernel, ...(w.bias ? [w.bias] : [])]);
      weights.clear();
    },
  };
  if (options.warmUp !== false) {
    const t0 = performance.now();
    const analyzer = new Analyzer(model);
    try {
      const input = tf.zeros([1, graph.bins, graph.fixedFrames ?? manifest.inputShape[1], 1]) as tf.Tensor4D;
      try {
        await analyzer.analyse(input, { layer: graph.taps.length - 1, feature: 0, method: 'deconvnet' });
      } finally {
        input.dispose();
      }
    } catch (e) {
      model.dispose();
      throw e;
    } finally {
      analyzer.dispose();
    }
    model.warmUpMs = performance.now() - t0;
  }
  return model;
}

function joinUrl(base: string, file: string): string {
  return base.endsWith('/') ? base + file : `${base}/${file}`;
}

/** Loads `${baseUrl}/model.json` (+ shards) and `${baseUrl}/manifest.json` with fetch. */
export async function loadModelFromUrl(baseUrl: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const url = joinUrl(baseUrl, 'manifest.json');
  const res = await fetch(url);
  if (!res.ok) invalid(`${url}: expected HTTP 200, got ${res.status} ${res.statusText}`);
  let manifest: unknown;
  try {
    manifest = await res.json();
  } catch (e) {
    invalid(`${url}: expected JSON, got a parse error: ${(e as Error).message}`);
  }
  return loadModel(tf.io.http(joinUrl(baseUrl, 'model.json')), manifest, options);
}

/**
 * Loads from user-picked files (name -> bytes): model.json, manifest.json and the weight shards
 * that model.json names (matched by file name, folders ignored).
 */
export async function loadModelFromFiles(files: Map<string, ArrayBuffer>, options: LoadOptions = {}): Promise<LoadedModel> {
  const byName = new Map<string, ArrayBuffer>();
  for (const [k, v] of files) byName.set(k.split(/[\\/]/).pop() ?? k, v);
  return loadModel(memoryHandler(byName), parseJsonFile(byName, 'manifest.json'), options);
}

function parseJsonFile(files: Map<string, ArrayBuffer>, name: string): unknown {
  const bytes = files.get(name);
  if (!bytes) invalid(`${name}: expected the file among the model files, got only ${[...files.keys()].join(', ') || 'none'}`);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    invalid(`${name}: expected JSON, got a parse error: ${(e as Error).message}`);
  }
}

/** An IOHandler over model.json + shards held in memory (file name -> bytes). */
export function memoryHandler(files: Map<string, ArrayBuffer>): tf.io.IOHandler {
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const json = parseJsonFile(files, 'model.json');
      if (!isObj(json)) invalid(`model.json: expected an object, got ${describeValue(json)}`);
      const manifest = json.weightsManifest;
      if (!Array.isArray(manifest)) invalid(`model.json: weightsManifest: expected an array, got ${describeValue(manifest)} (missing weights)`);
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of manifest as tf.io.WeightsManifestConfig) {
        for (const p of group.paths) {
          const name = p.split('/').pop() ?? p;
          const data = files.get(name);
          if (!data) invalid(`weight shard '${p}': expected the file among the model files, got none (missing weights)`);
          buffers.push(data);
        }
        specs.push(...group.weights);
      }
      return { modelTopology: json.modelTopology as object, weightSpecs: specs, weightData: concatBuffers(buffers), format: 'layers-model' };
    },
  };
}

/** The bytes of several buffers, one after another, in one new buffer. */
export function concatBuffers(buffers: ArrayBuffer[]): ArrayBuffer {
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), off);
    off += b.byteLength;
  }
  return out.buffer;
}
