/**
 * The model contract (DESIGN.md §2): what `models/<id>/manifest.json` holds beside the tfjs
 * LayersModel (`model.json` + weight shards). Written by the trainer/exporter and the Keras
 * importer, validated by src/model before a model is used.
 *
 * Tensor layout: NHWC with H = frequency bins (low to high), W = time frames (old to new),
 * C = channels. The input is [batch, bins, frames, 1]; `frames` is null in model.json so the
 * sliding window (W .. W + stride - 1 frames) runs without a reload.
 */

/** Scaling from STFT magnitude |X| to the network's input. */
export type InputScaling =
  /** log(1 + c * |X|), natural log. */
  | { kind: 'log1p'; c: number }
  /**
   * Decibels: v = (band energy)^exponent where the band energy is |X|^2 (power) or |X| summed
   * through the mel filterbank (or the STFT bin itself); x = 10 log10(max(v, amin)); then
   * reference 'max' (kapre): x - max(x) over the window, floored at -topDb; reference 'one'
   * (librosa logamplitude, ref_power 1): max(x, max(x) - topDb). Both depend on the whole window.
   */
  | { kind: 'db'; power: boolean; amin: number; topDb: number; reference?: 'max' | 'one'; exponent?: number };

/** The front end that turns audio into the network's input. */
export interface FrontEnd {
  /** Analysis sample rate in Hz (bundled model: 11025). */
  sampleRateHz: number;
  /** FFT size in samples (bundled: 512). */
  nFft: number;
  /** Hop between STFT frames in samples (bundled: 256). */
  hopSamples: number;
  /** Analysis window; 'hann' is the periodic Hann window of length nFft. */
  window: 'hann';
  /** Frequency axis: linear STFT bins (nFft / 2 + 1) or mel bands. */
  frequency: { kind: 'stft' } | { kind: 'mel'; bands: number; fMinHz: number; fMaxHz: number; htk: boolean; norm: 'slaney' | null };
  /** How |X| (or the mel energies) become the network's input. */
  scaling: InputScaling;
  /**
   * How an offline whole clip is cut into frames (live streams ignore it: they have no edges).
   * 'none' (default): frame t = samples [hop t, hop t + nFft), floor((L - nFft) / hop) + 1 frames.
   * 'same' (kapre / TensorFlow 'same' conv): ceil(L / hop) frames, zero padding with
   * floor(total / 2) on the left, total = (frames - 1) hop + nFft - L.
   * 'center-reflect' (librosa center=True): nFft / 2 samples of reflect padding on each side,
   * 1 + floor(L / hop) frames.
   */
  padding?: 'none' | 'same' | 'center-reflect';
}

/** One layer whose output the UI shows and the deconvolution starts from. */
export interface TapLayer {
  /** Name of the layer in model.json whose output is tapped (e.g. 'pool1'). */
  layer: string;
  /** Name shown to users (e.g. 'Layer 1'). */
  displayName: string;
  /** Channel count of the tapped output (checked against the model). */
  channels: number;
}

/** Metrics measured by the trainer; keys are tag names. */
export interface Metrics {
  /** Per-tag ROC-AUC on the validation split (same soundfont as training). */
  validationRocAuc: Record<string, number>;
  validationMeanRocAuc: number;
  /** Per-tag ROC-AUC on the test split rendered with a soundfont never used in training. */
  testRocAuc: Record<string, number>;
  testMeanRocAuc: number;
}

/** Contents of manifest.json. */
export interface ModelManifest {
  /** Format tag; bump when the contract changes. */
  format: 'auralscope-model@1';
  /** Folder name under models/ (e.g. 'auralscope-cnn24'). */
  id: string;
  /** Human-readable name. */
  name: string;
  /** One paragraph: what the model is and what it was trained on. */
  description: string;
  frontEnd: FrontEnd;
  /** Input shape without batch: [bins, windowFrames, 1]; windowFrames is W, the minimum window. */
  inputShape: [number, number, number];
  /** Layers to show, in order from the input (Layer 1 first). */
  taps: TapLayer[];
  /** Output layer name (sigmoid per label) and its labels, in output order. */
  output: { layer: string; activation: 'sigmoid' | 'softmax' };
  labels: string[];
  /** Where the weights came from: data, command, seeds, date. Free-form but required. */
  provenance: Record<string, unknown>;
  /** Measured metrics, where the model was trained by this project. */
  metrics?: Metrics;
  /** Optional per-feature labels written by `cli label-features` (keys: tap layer name). */
  featureLabels?: Record<string, string[]>;
}
