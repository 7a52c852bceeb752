/**
 * Keras 1 weight files of Keunwoo Choi's released music taggers (keunwoochoi/music-auto_tagging-keras,
 * MIT) turned into an Auralscope model: a stock tfjs LayersModel plus a manifest. The HDF5 reading
 * is the caller's (src/cli/import-keras.ts, h5wasm): this module sees plain arrays, so it is pure
 * apart from tfjs-layers, which builds and serialises the model.
 *
 * The traps, each checked against the files rather than assumed:
 * - Choi's Keras 1 files keep Theano's kernel layout (out, in, rows, cols) for both backends. The
 *   TensorFlow file's kernels are correlation kernels; the Theano file's are true-convolution
 *   kernels, i.e. the same rotated by 180 degrees. The backend is read off the weight names
 *   (TensorFlow variables end in ':0').
 * - compact_cnn's batch-norm is Keras "mode 2": every input is normalised per channel with its own
 *   statistics (the stored running mean/std are the unused 0 and 1). Expressed with stock layers:
 *   LayerNormalization over (frequency, time) without parameters, then a 1x1 DepthwiseConv2D
 *   holding gamma and beta. Its TensorFlow file has no dense layer; the Theano file has it
 *   (--dense-from), and the conv kernels of both are compared so a dense layer from another
 *   network is refused.
 * - MusicTaggerCNN's batch-norm is Keras 1.0 mode 0: (x - mean) / (std + eps) with a running
 *   standard deviation; per channel it is folded into the convolution, and the first one (over
 *   time, one statistic per input frame) becomes a BatchNormalization along the time axis.
 */
import * as tf from '@tensorflow/tfjs';
import type { FrontEnd, ModelManifest } from '../shared/manifest';
import { melFilterbank } from '../dsp/mel';
import { concatBuffers } from './load';

/** Architectures the importer knows. */
export type KerasArch = 'compact_cnn' | 'music_tagger_cnn';

/** One weight array as read from the file: shape as stored (row-major) and float32 values. */
export interface KerasArray {
  shape: number[];
  data: Float32Array;
}

/** A Keras 1 weights file read into memory: layer order and every layer's weights by short name. */
export interface KerasWeightsFile {
  /** Where it came from, for messages. */
  path: string;
  /** The file's `layer_names` attribute, in order. */
  layerNames: string[];
  /** Layer name -> weight name (':0' and the layer prefix kept as stored) -> array. */
  layers: Map<string, Map<string, KerasArray>>;
}

/** What the importer produced: files to write into the model folder, and a report of checks. */
export interface ImportedModel {
  manifest: ModelManifest;
  modelJson: unknown;
  weightsBin: ArrayBuffer;
  /** One line per check made on the file (kernel orientation, front-end kernels, ...). */
  report: string[];
}

/** Importer settings. */
export interface ImportOptions {
  arch: KerasArch;
  /** Model id (folder name). */
  id: string;
  /** The 50 tag names, in output order. */
  labels: string[];
  /** Second file supplying the dense layer (compact_cnn's TensorFlow file lacks it). */
  denseFrom?: KerasWeightsFile;
  /** Provenance fields added by the caller (file hashes, command). */
  provenance?: Record<string, unknown>;
}

/** A file that is not the expected Keras model: says what was expected and what was found. */
export class KerasImportError extends Error {
  override name = 'KerasImportError';
}

function fail(msg: string): never {
  throw new KerasImportError(msg);
}

/** Keras 1.2's BatchNormalization epsilon (the default when compact_cnn was trained, early 2017). */
export const MODE2_EPSILON = 1e-3;
/** Keras 1.0's BatchNormalization epsilon, added to the running std (MusicTaggerCNN, 2016). */
export const KERAS10_EPSILON = 1e-6;

const SAMPLE_RATE_HZ = 12000;
const N_FFT = 512;
const HOP = 256;
const MELS = 96;

/** compact_cnn's pool sizes (frequency, time): 96 x 1360 -> 48x340 -> 16x85 -> 8x17 -> 4x4 -> 1x1. */
export const COMPACT_CNN_POOLS: [number, number][] = [[2, 4], [3, 4], [2, 5], [2, 4], [4, 4]];
/** MusicTaggerCNN's pool sizes: 96 x 1366 -> 48x341 -> 24x85 -> 12x21 -> 4x4 -> 1x1. */
export const MUSIC_TAGGER_POOLS: [number, number][] = [[2, 4], [2, 4], [2, 4], [3, 5], [4, 4]];
/** compact_cnn's input: 29 s at 12 kHz (348,000 samples) in kapre's 'same' framing. */
export const COMPACT_CNN_FRAMES = 1360;
/** MusicTaggerCNN's input: 29.12 s at 12 kHz (349,440 samples), librosa centre framing. */
export const MUSIC_TAGGER_FRAMES = 1366;

/** Short weight name: 'ConvBNEluDr/convolution2d_1_W:0' -> 'convolution2d_1_W'. */
function shortName(n: string): string {
  const last = n.split('/').pop() ?? n;
  return last.replace(/:\d+$/, '');
}

/** 'tensorflow' when the file's weight names are TensorFlow variables (':0'), else 'theano'. */
export function detectBackend(file: KerasWeightsFile): 'tensorflow' | 'theano' {
  let tfNames = 0;
  let plain = 0;
  for (const ws of file.layers.values()) {
    for (const n of ws.keys()) {
      if (/:\d+$/.test(n)) tfNames++;
      else plain++;
    }
  }
  return tfNames > plain ? 'tensorflow' : 'theano';
}

/** All weights of a file flattened to short name -> array (names are unique in Choi's files). */
function flatWeights(file: KerasWeightsFile): Map<string, KerasArray> {
  const out = new Map<string, KerasArray>();
  for (const ws of file.layers.values()) for (const [n, a] of ws) out.set(shortName(n), a);
  return out;
}

function describeLayers(file: KerasWeightsFile): string {
  return file.layerNames.length === 0 ? 'no layers' : `layers ${file.layerNames.join(', ')}`;
}

/** Which known architecture a file looks like, or null. */
export function guessArch(file: KerasWeightsFile): KerasArch | null {
  const names = new Set(file.layerNames);
  if (names.has('melgram') && names.has('ConvBNEluDr')) return 'compact_cnn';
  if (names.has('bn_0_freq') && names.has('conv1') && names.has('output')) return 'music_tagger_cnn';
  return null;
}

function checkArch(file: KerasWeightsFile, arch: KerasArch): void {
  const want = arch === 'compact_cnn' ? ['melgram', 'ConvBNEluDr'] : ['bn_0_freq', 'conv1', 'conv5', 'output'];
  const missing = want.filter((n) => !file.layerNames.includes(n));
  if (missing.length === 0) return;
  const guess = guessArch(file);
  const hint = guess && guess !== arch ? ` (this is a ${guess} file: pass --arch ${guess})` : '';
  fail(`${file.path}: expected a Keras ${arch} weights file with layers ${want.join(', ')}, found ${describeLayers(file)}${hint}`);
}

function need(w: Map<string, KerasArray>, name: string, shape: (number | null)[], file: KerasWeightsFile): KerasArray {
  const a = w.get(name);
  if (!a) fail(`${file.path}: expected weight '${name}' with shape [${shape.map((s) => s ?? 'n').join(', ')}], found none (weights: ${[...w.keys()].slice(0, 12).join(', ')}${w.size > 12 ? ', ...' : ''})`);
  const ok = a.shape.length === shape.length && shape.every((s, i) => s === null || s === a.shape[i]);
  if (!ok) fail(`${file.path}: weight '${name}': expected shape [${shape.map((s) => s ?? 'n').join(', ')}], found [${a.shape.join(', ')}]`);
  return a;
}

/** Sets each named layer's weights, then releases the tensors (setWeights copies them). */
function setWeights(model: tf.LayersModel, sets: [string, tf.Tensor[]][]): void {
  for (const [name, ts] of sets) {
    model.getLayer(name).setWeights(ts);
    tf.dispose(ts);
  }
}

/** Numbered weights like convolution2d_7_W sorted by their Keras counter. */
function numbered(w: Map<string, KerasArray>, prefix: string, suffix: string): string[] {
  const re = new RegExp(`^${prefix}_(\\d+)_${suffix}$`);
  return [...w.keys()].filter((k) => re.test(k)).sort((a, b) => Number(re.exec(a)?.[1]) - Number(re.exec(b)?.[1]));
}

/**
 * Theano-layout kernel (out, in, rows, cols) -> tfjs Conv2D kernel [rows, cols, in, out], as a
 * correlation kernel: rotated 180 degrees when the file is Theano's (true convolution).
 */
export function toTfjsKernel(k: KerasArray, backend: 'tensorflow' | 'theano'): tf.Tensor4D {
  const [o, i, kh, kw] = k.shape;
  const out = new Float32Array(k.data.length);
  const rot = backend === 'theano';
  for (let oo = 0; oo < o; oo++) {
    for (let ii = 0; ii < i; ii++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          const sy = rot ? kh - 1 - y : y;
          const sx = rot ? kw - 1 - x : x;
          out[((y * kw + x) * i + ii) * o + oo] = k.data[((oo * i + ii) * kh + sy) * kw + sx];
        }
      }
    }
  }
  return tf.tensor4d(out, [kh, kw, i, o]);
}

function kernelReport(backend: 'tensorflow' | 'theano'): string {
  return `kernels: ${backend === 'tensorflow' ? "TensorFlow file (names end in ':0'): correlation kernels, used as stored" : 'Theano file: true-convolution kernels, rotated 180 degrees'}`;
}

/** Largest |a - b| over two kernels in the same (tfjs) layout. */
function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Checks kapre's stored DFT kernels (periodic Hann x cos / sin) and mel filterbank against ours. */
function checkKapreFrontEnd(file: KerasWeightsFile, report: string[]): void {
  const mel = file.layers.get('melgram');
  const arrays = mel ? [...mel.values()] : [];
  const bins = N_FFT / 2 + 1;
  const kernels = arrays.filter((a) => a.shape.length === 4 && a.shape[0] === N_FFT && a.shape[3] === bins);
  const fbs = arrays.filter((a) => a.shape.length === 2 && a.shape[0] === bins && a.shape[1] === MELS);
  if (kernels.length !== 2 || fbs.length !== 1) {
    fail(`${file.path}: layer 'melgram': expected two DFT kernels [${N_FFT}, 1, 1, ${bins}] and a filterbank [${bins}, ${MELS}], found ${arrays.map((a) => `[${a.shape.join(', ')}]`).join(', ') || 'nothing'}`);
  }
  // Variable order is (real, imaginary) in kapre; check both against the formula.
  let errRe = 0;
  let errIm = 0;
  for (let n = 0; n < N_FFT; n++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / N_FFT);
    for (let k = 0; k < bins; k++) {
      const ph = (2 * Math.PI * ((k * n) % N_FFT)) / N_FFT;
      errRe = Math.max(errRe, Math.abs(kernels[0].data[n * bins + k] - w * Math.cos(ph)));
      errIm = Math.max(errIm, Math.abs(kernels[1].data[n * bins + k] - w * Math.sin(ph)));
    }
  }
  if (errRe > 1e-5 || errIm > 1e-5) fail(`${file.path}: melgram DFT kernels: expected a periodic Hann window times cos/sin of an ${N_FFT}-point DFT, found a difference of ${Math.max(errRe, errIm).toExponential(2)}`);
  report.push(`front end: kapre's DFT kernels equal a periodic Hann x ${N_FFT}-point DFT (max difference ${Math.max(errRe, errIm).toExponential(2)})`);
  const ours = melFilterbank(SAMPLE_RATE_HZ, N_FFT, MELS, 0, SAMPLE_RATE_HZ / 2, false, 'slaney');
  let errFb = 0;
  let peak = 0;
  for (let k = 0; k < bins; k++) {
    for (let m = 0; m < MELS; m++) {
      const stored = fbs[0].data[k * MELS + m];
      peak = Math.max(peak, stored);
      errFb = Math.max(errFb, Math.abs(stored - ours[m * bins + k]));
    }
  }
  if (errFb > 1e-6 * Math.max(peak, 1e-9) * 100) {
    fail(`${file.path}: melgram filterbank: expected the Slaney mel filterbank (12 kHz, 96 bands, 0-6000 Hz, area-normalised), found a difference of ${errFb.toExponential(2)} (peak ${peak.toExponential(2)})`);
  }
  report.push(`front end: kapre's filterbank equals the Slaney mel filterbank, 96 bands 0-6000 Hz (max difference ${errFb.toExponential(2)}, peak ${peak.toExponential(2)})`);
}

/** Choi's taggers' front end: 12 kHz, n_fft 512, hop 256, 96 Slaney mel bands 0-6000 Hz, dB scaling. */
function choiFrontEnd(scaling: FrontEnd['scaling'], padding: FrontEnd['padding']): FrontEnd {
  return {
    sampleRateHz: SAMPLE_RATE_HZ, nFft: N_FFT, hopSamples: HOP, window: 'hann',
    frequency: { kind: 'mel', bands: MELS, fMinHz: 0, fMaxHz: SAMPLE_RATE_HZ / 2, htk: false, norm: 'slaney' },
    scaling,
    padding,
  };
}

interface Built {
  model: tf.Sequential;
  taps: string[];
  frontEnd: FrontEnd;
  frames: number;
  name: string;
  description: string;
  notes: Record<string, unknown>;
}

function buildCompactCnn(file: KerasWeightsFile, opts: ImportOptions, report: string[]): Built {
  checkArch(file, 'compact_cnn');
  checkKapreFrontEnd(file, report);
  const backend = detectBackend(file);
  report.push(kernelReport(backend));
  const w = flatWeights(file);
  const convs = numbered(w, 'convolution2d', 'W');
  if (convs.length !== 5) fail(`${file.path}: expected 5 convolution kernels in 'ConvBNEluDr', found ${convs.length} (${convs.join(', ') || 'none'})`);
  const bnGammas = numbered(w, 'batchnormalization', 'gamma');
  if (bnGammas.length !== 5) fail(`${file.path}: expected 5 batch-norm layers in 'ConvBNEluDr', found ${bnGammas.length}`);
  // Dense: in this file (Theano) or from --dense-from; the conv kernels of both must agree.
  let denseSource = file;
  let dense = [...w.keys()].filter((k) => /^dense_\d+_W$/.test(k));
  if (dense.length === 0) {
    if (!opts.denseFrom) fail(`${file.path}: compact_cnn: expected a dense layer (50 tags), found none: Choi's TensorFlow file lacks it; pass --dense-from <weights_theano.hdf5>`);
    checkArch(opts.denseFrom, 'compact_cnn');
    denseSource = opts.denseFrom;
    dense = [...flatWeights(opts.denseFrom).keys()].filter((k) => /^dense_\d+_W$/.test(k));
    if (dense.length === 0) fail(`${opts.denseFrom.path}: --dense-from: expected a dense layer, found ${describeLayers(opts.denseFrom)}`);
  }
  const dw = flatWeights(denseSource);
  const denseW = need(dw, dense[0], [null, opts.labels.length], denseSource);
  const denseB = need(dw, dense[0].replace(/_W$/, '_b'), [opts.labels.length], denseSource);

  const frames = COMPACT_CNN_FRAMES;
  const model = tf.sequential({ name: opts.id });
  const taps: string[] = [];
  let inC = 1;
  const sets: [string, tf.Tensor[]][] = [];
  convs.forEach((cn, i) => {
    const k = need(w, cn, [null, inC, 3, 3], file);
    const out = k.shape[0];
    const b = need(w, cn.replace(/_W$/, '_b'), [out], file);
    const bn = bnGammas[i].replace(/_gamma$/, '');
    const gamma = need(w, `${bn}_gamma`, [out], file);
    const beta = need(w, `${bn}_beta`, [out], file);
    const n = i + 1;
    model.add(tf.layers.conv2d({ name: `conv${n}`, filters: out, kernelSize: 3, padding: 'same', activation: 'linear', useBias: true, ...(i === 0 ? { inputShape: [MELS, frames, 1] } : {}) }));
    model.add(tf.layers.layerNormalization({ name: `norm${n}`, axis: [1, 2], center: false, scale: false, epsilon: MODE2_EPSILON }));
    model.add(tf.layers.depthwiseConv2d({ name: `bn${n}`, kernelSize: 1, depthMultiplier: 1, useBias: true }));
    model.add(tf.layers.elu({ name: `elu${n}`, alpha: 1 }));
    model.add(tf.layers.maxPooling2d({ name: `pool${n}`, poolSize: COMPACT_CNN_POOLS[i], strides: COMPACT_CNN_POOLS[i], padding: 'valid' }));
    sets.push([`conv${n}`, [toTfjsKernel(k, backend), tf.tensor1d(b.data)]]);
    sets.push([`bn${n}`, [tf.tensor4d(gamma.data, [1, 1, out, 1]), tf.tensor1d(beta.data)]]);
    taps.push(`pool${n}`);
    inC = out;
  });
  if (denseW.shape[0] !== inC) fail(`${denseSource.path}: weight '${dense[0]}': expected ${inC} inputs (channels of the last conv), found ${denseW.shape[0]}`);
  model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(tf.layers.dense({ name: 'tags', units: opts.labels.length, activation: 'sigmoid' }));
  sets.push(['tags', [tf.tensor2d(denseW.data, denseW.shape as [number, number]), tf.tensor1d(denseB.data)]]);
  setWeights(model, sets);
  if (denseSource !== file) {
    // Same network? Compare every conv kernel of the two files in correlation form.
    const other = flatWeights(denseSource);
    const otherBackend = detectBackend(denseSource);
    const otherConvs = numbered(other, 'convolution2d', 'W');
    let worst = 0;
    convs.forEach((cn, i) => {
      const a = toTfjsKernel(need(w, cn, [null, null, 3, 3], file), backend);
      const b = toTfjsKernel(need(other, otherConvs[i] ?? cn, [null, null, 3, 3], denseSource), otherBackend);
      worst = a.shape.join() === b.shape.join() ? Math.max(worst, maxAbsDiff(a, b)) : Infinity;
      tf.dispose([a, b]);
    });
    if (!(worst < 1e-5)) fail(`--dense-from ${denseSource.path}: expected the same network (conv kernels equal after orientation), found kernels differing by ${worst}`);
    report.push(`dense layer from ${denseSource.path} (${otherBackend}); its conv kernels equal this file's after rotating by 180 degrees (max difference ${worst.toExponential(2)})`);
  }
  return {
    model,
    taps,
    frames,
    // kapre: power mel spectrogram to dB against the window's maximum, floored at -80 dB.
    frontEnd: choiFrontEnd({ kind: 'db', power: true, amin: 1e-10, topDb: 80, reference: 'max', exponent: 1 }, 'same'),
    name: "Choi's compact_cnn (2017, Last.fm top-50 tags)",
    description: "Keunwoo Choi's compact_cnn from 'Transfer learning for music classification and regression tasks' (2017): kapre mel spectrogram (12 kHz, 96 bands, dB relative to the window's maximum), 5 x [3x3 conv (32), per-input batch-norm (Keras mode 2), ELU, max-pool], 50 sigmoid tags from the Million Song Dataset's Last.fm tags. Its per-input normalisation makes every output depend on the whole 29-s window, so it is exempt from the no-shimmer rule.",
    notes: { batchNorm: `Keras mode 2 (per input, epsilon ${MODE2_EPSILON}) as LayerNormalization over frequency x time + a 1x1 DepthwiseConv2D (gamma, beta)`, kernelBackend: backend },
  };
}

function buildMusicTagger(file: KerasWeightsFile, opts: ImportOptions, report: string[]): Built {
  checkArch(file, 'music_tagger_cnn');
  const backend = detectBackend(file);
  report.push(kernelReport(backend));
  const w = flatWeights(file);
  const frames = MUSIC_TAGGER_FRAMES;
  const model = tf.sequential({ name: opts.id });
  const sets: [string, tf.Tensor[]][] = [];
  // bn_0_freq: Keras 1.0 mode-0 batch-norm along time (one statistic per input frame).
  const g0 = need(w, 'bn_0_freq_gamma', [frames], file);
  const b0 = need(w, 'bn_0_freq_beta', [frames], file);
  const m0 = need(w, 'bn_0_freq_running_mean', [frames], file);
  const s0 = need(w, 'bn_0_freq_running_std', [frames], file);
  // tfjs computes (x - mean) / sqrt(var + eps); Keras 1.0 divides by (std + eps'): var = (std + eps')^2 - eps.
  const tinyEps = 1e-12;
  const var0 = s0.data.map((s) => (s + KERAS10_EPSILON) ** 2 - tinyEps);
  model.add(tf.layers.batchNormalization({ name: 'bn0', axis: 2, epsilon: tinyEps, center: true, scale: true, inputShape: [MELS, frames, 1] }));
  sets.push(['bn0', [tf.tensor1d(g0.data), tf.tensor1d(b0.data), tf.tensor1d(m0.data), tf.tensor1d(var0)]]);
  const taps: string[] = [];
  let inC = 1;
  for (let n = 1; n <= 5; n++) {
    const k = need(w, `conv${n}_W`, [null, inC, 3, 3], file);
    const out = k.shape[0];
    const b = need(w, `conv${n}_b`, [out], file);
    const gamma = need(w, `bn${n}_gamma`, [out], file);
    const beta = need(w, `bn${n}_beta`, [out], file);
    const mean = need(w, `bn${n}_running_mean`, [out], file);
    const std = need(w, `bn${n}_running_std`, [out], file);
    // Fold (z - mean) / (std + eps) * gamma + beta into the convolution.
    const scale = gamma.data.map((g, c) => g / (std.data[c] + KERAS10_EPSILON));
    const kernel = toTfjsKernel(k, backend);
    const folded = tf.mul(kernel, tf.tensor1d(scale));
    const bias = b.data.map((bb, c) => (bb - mean.data[c]) * scale[c] + beta.data[c]);
    model.add(tf.layers.conv2d({ name: `conv${n}`, filters: out, kernelSize: 3, padding: 'same', activation: 'elu', useBias: true }));
    model.add(tf.layers.maxPooling2d({ name: `pool${n}`, poolSize: MUSIC_TAGGER_POOLS[n - 1], strides: MUSIC_TAGGER_POOLS[n - 1], padding: 'valid' }));
    sets.push([`conv${n}`, [folded, tf.tensor1d(bias)]]);
    kernel.dispose();
    taps.push(`pool${n}`);
    inC = out;
  }
  const ow = need(w, 'output_W', [inC, opts.labels.length], file);
  const ob = need(w, 'output_b', [opts.labels.length], file);
  model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(tf.layers.dense({ name: 'tags', units: opts.labels.length, activation: 'sigmoid' }));
  sets.push(['tags', [tf.tensor2d(ow.data, ow.shape as [number, number]), tf.tensor1d(ob.data)]]);
  setWeights(model, sets);
  report.push(`batch-norm: Keras 1.0 (x - mean) / (std + ${KERAS10_EPSILON}) folded into conv1..conv5; bn_0_freq kept as a BatchNormalization along time (${frames} frames)`);
  const channels = [1, 2, 3, 4, 5].map((n) => w.get(`conv${n}_W`)?.shape[0]);
  report.push(`channels: ${channels.join('/')} (the released weights' layout)`);
  return {
    model,
    taps,
    frames,
    // librosa: logamplitude(melspectrogram(...) ** 2, ref_power=1.0): the mel power squared again.
    frontEnd: choiFrontEnd({ kind: 'db', power: true, amin: 1e-10, topDb: 80, reference: 'one', exponent: 2 }, 'center-reflect'),
    name: "Choi's MusicTaggerCNN (2016, Last.fm top-50 tags)",
    description: `Keunwoo Choi's MusicTaggerCNN from 'Automatic tagging using deep convolutional neural networks' (2016): librosa log-amplitude mel spectrogram (12 kHz, 96 bands, 29.12 s = ${frames} frames), a batch-norm per input frame, 5 x [3x3 conv (${channels.join('/')}), batch-norm, ELU, max-pool], 50 sigmoid tags from the Million Song Dataset's Last.fm tags. Its input is exactly ${frames} frames, and its dB scaling depends on the whole window.`,
    notes: { batchNorm: `Keras 1.0 mode 0, (x - mean) / (std + ${KERAS10_EPSILON}), folded`, kernelBackend: backend },
  };
}

/** Builds the tfjs model and manifest of one of Choi's networks from its weights file(s). */
export async function importKeras(file: KerasWeightsFile, opts: ImportOptions): Promise<ImportedModel> {
  if (opts.labels.length === 0 || new Set(opts.labels).size !== opts.labels.length) fail(`labels: expected distinct tag names, got ${opts.labels.length} (${new Set(opts.labels).size} distinct)`);
  await tf.ready();
  const report: string[] = [];
  const built = opts.arch === 'compact_cnn' ? buildCompactCnn(file, opts, report) : buildMusicTagger(file, opts, report);
  let artifacts: tf.io.ModelArtifacts | null = null;
  await built.model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const channelsOf = (tap: string): number => {
    const shape = built.model.getLayer(tap).outputShape as number[];
    return shape[3];
  };
  const taps = built.taps.map((t, i) => ({ layer: t, displayName: `Layer ${i + 1}`, channels: channelsOf(t) }));
  built.model.dispose();
  const art = artifacts as unknown as tf.io.ModelArtifacts;
  const data = art.weightData;
  const weightsBin = Array.isArray(data) ? concatBuffers(data) : (data as ArrayBuffer);
  const manifest: ModelManifest = {
    format: 'auralscope-model@1',
    id: opts.id,
    name: built.name,
    description: built.description,
    frontEnd: built.frontEnd,
    inputShape: [MELS, built.frames, 1],
    taps,
    output: { layer: 'tags', activation: 'sigmoid' },
    labels: [...opts.labels],
    provenance: {
      source: 'keunwoochoi/music-auto_tagging-keras (MIT licence), imported by `npm run cli -- import-keras`; the weights are not part of this project',
      arch: opts.arch,
      ...built.notes,
      checks: report,
      importedAt: new Date().toISOString(),
      ...opts.provenance,
    },
  };
  const modelJson = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: 'auralscope import-keras',
    modelTopology: art.modelTopology,
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: art.weightSpecs ?? [] }],
  };
  return { manifest, modelJson, weightsBin, report };
}
