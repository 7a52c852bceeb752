/**
 * `explain`: analyses a WAV file offline with the same analysis engine and window rule as the live
 * app (or as one window with --whole, the way Choi did offline) and writes the projection of one
 * selection (layer, feature, method, label) plus the spectrogram, input and predictions as JSON.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Analyzer, METHODS } from '../model/analyzer';
import type { Method, Selection } from '../model/analyzer';
import { axisField, tapGeometry, totalTimeStrideFrames, windowStart } from '../model/graph';
import { inputBins, networkInput, projectionToStft } from '../model/frontend';
import { inputTensor } from '../model/input';
import { loadModelFromDir } from '../model/node-io';
import { clipMagnitudeFrames, magnitudeFrames, readAnalysisSignal } from './audio-input';
import { intArg, parseCommandArgs, runCommand, UsageError } from './command';

/** Help text of the explain command. */
export const EXPLAIN_USAGE = `usage: npm run cli -- explain <audio.wav> --layer L --feature k --method deconvnet|saliency|guided|gradcam
                       [--label NAME] [--model DIR] [--whole] [--hop-group N] [--backend wasm|cpu] --out out.json

  <audio.wav>    8/16/24/32-bit PCM or 32/64-bit float WAV, any rate, any channel count (downmixed)
  --layer L      tap layer, 1-based (Layer 1 is the first tap in the model's manifest)
  --feature k    feature (channel) of that layer, 0-based
  --method M     deconvnet (Choi's deconvolution), saliency, guided (guided backprop) or gradcam
  --label NAME   label whose score saliency/guided/gradcam explain (gradcam default: the top label)
  --model DIR    model folder (model.json + weights + manifest.json); default: the bundled model in models/
  --whole        analyse the whole file as one window (offline, as in Choi's code) instead of the
                 live sliding window (hop groups of --hop-group frames, default 2)
  --backend B    tfjs backend: wasm (default) or cpu
  --out FILE     output JSON: sampleRateHz, nFft, hopSamples, bins, frames, spectrogram, input,
                 map (frames x bins), layer, feature, method, layers, predictions per window`;

/** Parsed options of the explain command. */
export interface ExplainOptions {
  wavPath: string;
  /** 1-based tap layer, as users count. */
  layer: number;
  /** 0-based feature. */
  feature: number;
  method: Method;
  label: string | null;
  modelDir: string | null;
  whole: boolean;
  /** Frames between live updates (default 2). */
  hopGroupFrames: number;
  backend: 'wasm' | 'cpu';
  outPath: string;
}

/** Parses `explain` arguments (without the command name). */
export function parseExplainArgs(argv: string[]): ExplainOptions {
  const { values: v, positionals } = parseCommandArgs(argv, {
    layer: { type: 'string' }, feature: { type: 'string' }, method: { type: 'string' }, label: { type: 'string' },
    model: { type: 'string' }, whole: { type: 'boolean', default: false }, out: { type: 'string' },
    'hop-group': { type: 'string', default: '2' }, backend: { type: 'string', default: 'wasm' },
  });
  if (positionals.length !== 1) throw new UsageError(`expected one WAV file, got ${positionals.length ? positionals.join(' ') : 'none'}`);
  const method = v.method;
  if (!METHODS.includes(method as Method)) throw new UsageError(`--method: expected one of ${METHODS.join(', ')}, got '${method ?? ''}'`);
  if (!v.out) throw new UsageError('--out: expected an output JSON path, got nothing');
  if (v.backend !== 'wasm' && v.backend !== 'cpu') throw new UsageError(`--backend: expected wasm or cpu, got '${v.backend}'`);
  return {
    wavPath: positionals[0],
    layer: intArg(v.layer, 'layer', 1),
    feature: intArg(v.feature, 'feature', 0),
    method: method as Method,
    label: v.label ?? null,
    modelDir: v.model ?? null,
    whole: v.whole === true,
    hopGroupFrames: intArg(v['hop-group'], 'hop-group', 1),
    backend: v.backend,
    outPath: v.out,
  };
}

/**
 * The bundled default model folder: models/index.json's "default" id if present, else the only
 * folder under models/ holding a manifest.json. Throws with what it found otherwise.
 */
export function defaultModelDir(modelsDir = 'models'): string {
  if (!existsSync(modelsDir)) throw new Error(`no --model given and no '${modelsDir}' folder: expected a bundled model, got none (pass --model DIR)`);
  const index = join(modelsDir, 'index.json');
  if (existsSync(index)) {
    const id = (JSON.parse(readFileSync(index, 'utf8')) as { default?: unknown }).default;
    if (typeof id === 'string' && existsSync(join(modelsDir, id, 'manifest.json'))) return join(modelsDir, id);
  }
  const found = readdirSync(modelsDir).filter((d) => existsSync(join(modelsDir, d, 'manifest.json')));
  if (found.length === 1) return join(modelsDir, found[0]);
  throw new Error(found.length === 0
    ? `no --model given: expected a bundled model (a folder with manifest.json) in '${modelsDir}', got none (pass --model DIR)`
    : `no --model given: expected one bundled model in '${modelsDir}', got ${found.length} (${found.join(', ')}); pass --model DIR`);
}

/** Per-window predictions in out.json. */
export interface WindowPredictions {
  startFrame: number;
  endFrame: number;
  /** Label the method used (gradcam's top label, or --label), or null. */
  labelUsed: string | null;
  predictions: { label: string; p: number }[];
}

/** Contents of out.json. */
export interface ExplainOutput {
  model: { id: string; name: string; dir: string };
  backend: string;
  sourceSampleRateHz: number;
  sourceChannels: number;
  sampleRateHz: number;
  nFft: number;
  hopSamples: number;
  /** STFT bins per frame (nFft / 2 + 1): the grid of spectrogram and map. */
  bins: number;
  /** Rows of the network's input per frame: bins for STFT models, the mel bands for mel models. */
  inputBins: number;
  /**
   * Samples of offline padding before the clip (--whole with a 'same' or 'center-reflect' front
   * end): frame t starts at sample t hopSamples - leftPadSamples (negative where --whole cut a long
   * clip to the middle for a fixed-frames net).
   */
  leftPadSamples: number;
  frames: number;
  /** 1-based, as given. */
  layer: number;
  layerName: string;
  feature: number;
  method: Method;
  label: string | null;
  whole: boolean;
  windowFrames: number;
  strideFrames: number;
  hopGroupFrames: number;
  /** Lookahead rule used to pick each frame's window in live mode (frames). */
  receptiveFieldFrames: number;
  layers: { name: string; displayName: string; channels: number; height: number; width: number; timeStrideFrames: number; receptiveFieldFrames: number }[];
  /** frames x bins: STFT magnitude before scaling. */
  spectrogram: number[][];
  /** frames x inputBins: exactly what the network was fed (each frame from the window its map comes from). */
  input: number[][];
  /** frames x bins: the projection (mel models: mapped back onto the STFT bins, see projectionToStft). */
  map: number[][];
  predictions: WindowPredictions[];
}

function rows(frameMajor: Float32Array, frames: number, bins: number): number[][] {
  return Array.from({ length: frames }, (_, t) => Array.from(frameMajor.subarray(t * bins, (t + 1) * bins)));
}

/** Runs the analysis and writes out.json; returns what it wrote. `log` gets progress lines. */
export async function explain(opts: ExplainOptions, log: (line: string) => void = () => {}): Promise<ExplainOutput> {
  if (!(await tf.setBackend(opts.backend))) throw new Error(`backend '${opts.backend}': expected it to start, got unavailable`);
  await tf.ready();
  const dir = opts.modelDir ?? defaultModelDir();
  const model = await loadModelFromDir(dir);
  const analyzer = new Analyzer(model);
  try {
    const man = model.manifest;
    const fe = man.frontEnd;
    const taps = model.graph.taps;
    if (opts.layer > taps.length) throw new UsageError(`--layer: expected 1..${taps.length} (${taps.map((t) => t.displayName).join(', ')}), got ${opts.layer}`);
    let labelIndex: number | undefined;
    if (opts.label !== null) {
      labelIndex = man.labels.indexOf(opts.label);
      if (labelIndex < 0) throw new UsageError(`--label: expected one of ${man.labels.join(', ')}, got '${opts.label}'`);
    }
    const sel: Selection = { layer: opts.layer - 1, feature: opts.feature, method: opts.method, label: labelIndex };
    analyzer.checkSelection(sel);

    const src = await readAnalysisSignal(opts.wavPath, fe.sampleRateHz);
    const wav = { sampleRateHz: src.sourceSampleRateHz, channels: { length: src.sourceChannels } };
    // --whole frames the clip the way the model's own front end did offline (kapre 'same',
    // librosa 'center-reflect'; a fixed-frames net gets the clip fitted to its frames, as Choi
    // did); the live rule frames it like the live engine (no padding).
    const { mag, frames, bins, leftPadSamples } = opts.whole
      ? clipMagnitudeFrames(src.signal, fe, model.graph.fixedFrames)
      : { ...magnitudeFrames(src.signal, fe.nFft, fe.hopSamples), leftPadSamples: 0 };
    const inBins = inputBins(fe);

    // Windows [start, end): one for --whole, else the live rule every hop group.
    const W = model.graph.fixedFrames ?? man.inputShape[1];
    const stride = totalTimeStrideFrames(model.graph);
    const windows: [number, number][] = [];
    if (opts.whole) {
      windows.push([0, frames]);
    } else {
      if (frames < W) {
        throw new Error(`${opts.wavPath}: expected at least ${W} frames (${((W * fe.hopSamples) / fe.sampleRateHz).toFixed(2)} s) for the live window, got ${frames}; try --whole`);
      }
      for (let end = W; ; end = Math.min(end + opts.hopGroupFrames, frames)) {
        const s = windowStart(end, W, stride);
        windows.push([s, model.graph.fixedFrames === null ? end : s + W]);
        if (end === frames) break;
      }
    }
    // A frame takes its value from the first window that extends RF - 1 frames past it (the live
    // exact mode's rule, DESIGN.md §4), else from the last window that holds it.
    const labelMethod = opts.method === 'gradcam' || labelIndex !== undefined;
    const rfOp = labelMethod && opts.method !== 'gradcam' ? model.graph.trunk.length - 1 : taps[sel.layer].opIndex;
    const rf = axisField(model.graph.trunk, rfOp, 'w').field;
    const settled = new Uint8Array(frames);
    const map = new Float32Array(frames * bins);
    const input = new Float32Array(frames * inBins);
    const predictions: WindowPredictions[] = [];
    const t0 = performance.now();
    for (const [wi, [s, e]] of windows.entries()) {
      const scaled = networkInput(mag.subarray(s * bins, e * bins), e - s, fe);
      const x = inputTensor(scaled, e - s, inBins);
      let res;
      try {
        res = await analyzer.analyse(x, sel);
      } finally {
        x.dispose();
      }
      const projection = projectionToStft(res.projection, e - s, fe);
      for (let t = s; t < e; t++) {
        if (settled[t]) continue;
        map.set(projection.subarray((t - s) * bins, (t - s + 1) * bins), t * bins);
        input.set(scaled.subarray((t - s) * inBins, (t - s + 1) * inBins), t * inBins);
        if (e >= t + rf) settled[t] = 1;
      }
      predictions.push({
        startFrame: s,
        endFrame: e,
        labelUsed: res.labelUsed >= 0 ? man.labels[res.labelUsed] : null,
        predictions: man.labels.map((label, i) => ({ label, p: res.predictions[i] })),
      });
      if ((wi + 1) % 50 === 0 || wi === windows.length - 1) log(`explain: ${wi + 1}/${windows.length} windows, ${((performance.now() - t0) / (wi + 1)).toFixed(1)} ms each`);
    }
    const geometry = tapGeometry(model.graph, opts.whole ? frames : W);
    const out: ExplainOutput = {
      model: { id: man.id, name: man.name, dir },
      backend: tf.getBackend(),
      sourceSampleRateHz: wav.sampleRateHz,
      sourceChannels: wav.channels.length,
      sampleRateHz: fe.sampleRateHz,
      nFft: fe.nFft,
      hopSamples: fe.hopSamples,
      bins,
      inputBins: inBins,
      leftPadSamples,
      frames,
      layer: opts.layer,
      layerName: taps[sel.layer].name,
      feature: opts.feature,
      method: opts.method,
      label: opts.label,
      whole: opts.whole,
      windowFrames: opts.whole ? frames : W,
      strideFrames: stride,
      hopGroupFrames: opts.hopGroupFrames,
      receptiveFieldFrames: rf,
      layers: geometry.map((g) => ({ name: g.name, displayName: g.displayName, channels: g.channels, height: g.height, width: g.width, timeStrideFrames: g.timeStrideFrames, receptiveFieldFrames: g.receptiveFieldFrames })),
      spectrogram: rows(mag, frames, bins),
      input: rows(input, frames, inBins),
      map: rows(map, frames, bins),
      predictions,
    };
    await writeFile(opts.outPath, JSON.stringify(out));
    log(`explain: wrote ${opts.outPath} (${frames} frames x ${bins} bins, ${windows.length} window${windows.length === 1 ? '' : 's'})`);
    return out;
  } finally {
    analyzer.dispose();
    model.dispose();
  }
}

/** The explain command: parses argv, runs, prints errors; returns the exit code. */
export async function runExplain(argv: string[]): Promise<number> {
  return runCommand('explain', EXPLAIN_USAGE, argv, parseExplainArgs, async (opts) => {
    await explain(opts, (line) => console.error(line));
    return 0;
  });
}
