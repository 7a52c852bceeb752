/**
 * The model side of the worker: loads and validates a model folder, picks the tfjs backend, and
 * analyses the sliding window of the rolling spectrogram once per hop group (DESIGN.md §3).
 * Everything tensor-shaped lives in src/model; this module only schedules it and packs frames.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { Analyzer, disposeAnalysis, type AnalysisTensors, type Selection } from '../model/analyzer';
import { chooseBackend, forceBackend } from '../model/backend';
import { minWindowFrames, tapGeometry, totalTimeStrideFrames, windowStart } from '../model/graph';
import { inputTensor, scaleMagnitudes } from '../model/input';
import { loadModelFromUrl, type LoadedModel } from '../model/load';
import { METHOD_NAMES, type BackendName, type ModelInfo, type SelectionRequest } from '../shared/api';
import type { AnalysisFrame } from '../shared/frame';
import type { FrameHistory } from './pipeline';

/** Backends tried by 'auto', fastest first in the common case. */
const AUTO_ORDER = ['webgpu', 'wasm', 'webgl', 'cpu'];
/** Total time the start-up benchmark may spend, ms. */
const BENCH_CAP_MS = 3000;

let wasmPathsSet = false;

/** Points tfjs-backend-wasm at the .wasm files the app serves itself (no network). */
function useServedWasm(pageUrl: string): void {
  if (wasmPathsSet) return;
  // The threaded build spawns pthread workers from a blob that fails inside a bundled worker
  // ("e is not defined"); the single-threaded SIMD build is what runs here.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths(new URL('tfjs/', pageUrl).href);
  wasmPathsSet = true;
}

/** Is WebGPU here a real GPU (true), a software fallback (a reason string), or absent (a reason)? */
async function webgpuAdapter(): Promise<true | string> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<{ info?: { isFallbackAdapter?: boolean; architecture?: string; description?: string } } | null> } }).gpu;
  if (!gpu) return 'no navigator.gpu in this browser';
  const adapter = await gpu.requestAdapter();
  if (!adapter) return 'no WebGPU adapter';
  const info = adapter.info;
  if (info?.isFallbackAdapter || /swiftshader/i.test(`${info?.architecture ?? ''} ${info?.description ?? ''}`)) {
    return 'software adapter (SwiftShader): slower than wasm';
  }
  return true;
}

/** Builds the ModelInfo the UI shows from a loaded model. */
export function modelInfo(model: LoadedModel): ModelInfo {
  const m = model.manifest;
  const windowFrames = Math.max(m.inputShape[1], minWindowFrames(model.graph));
  const geometry = tapGeometry(model.graph, windowFrames);
  return {
    id: m.id,
    name: m.name,
    labels: [...m.labels],
    layers: geometry.map((g) => ({
      name: g.name,
      displayName: g.displayName,
      channels: g.channels,
      height: g.height,
      width: g.width,
      receptiveFieldFrames: g.receptiveFieldFrames,
      timeStrideFrames: g.timeStrideFrames,
      featureLabels: m.featureLabels?.[g.name] ?? null,
    })),
    windowFrames,
    strideFrames: totalTimeStrideFrames(model.graph),
    sampleRateHz: m.frontEnd.sampleRateHz,
    nFft: m.frontEnd.nFft,
    hopSamples: m.frontEnd.hopSamples,
    windowDependent: m.frontEnd.scaling.kind === 'db',
  };
}

/** The projection of one analysed window: frame-major [frames, bins], starting at an absolute frame. */
export interface WindowMask {
  startFrame: number;
  frames: number;
  bins: number;
  projection: Float32Array;
}

/** A loaded model with its analyzer and the current selection. */
export class AnalysisStage {
  readonly info: ModelInfo;
  private selection: Selection;
  private scratch = new Float32Array(0);
  /** The newest projection read back (the solo's mask source). */
  mask: WindowMask | null = null;

  private constructor(private readonly model: LoadedModel, private readonly analyzer: Analyzer) {
    this.info = modelInfo(model);
    const layer = Math.min(1, this.info.layers.length - 1);
    this.selection = { layer, feature: 0, method: 'deconvnet' };
  }

  /** Loads a model folder (URL relative to the page), validated and warmed up on the current backend. */
  static async load(baseUrl: string, pageUrl: string): Promise<AnalysisStage> {
    const model = await loadModelFromUrl(new URL(baseUrl, pageUrl).href);
    return new AnalysisStage(model, new Analyzer(model));
  }

  /** The current selection, as the API names it. */
  get selectionRequest(): SelectionRequest {
    const s = this.selection;
    return { layer: s.layer, feature: s.feature, method: s.method, ...(s.label !== undefined ? { label: s.label } : {}) };
  }

  /** Changes the selection; throws a RangeError (changing nothing) when it does not fit. */
  select(sel: SelectionRequest): void {
    const next: Selection = { layer: sel.layer, feature: sel.feature, method: sel.method, ...(sel.label !== undefined ? { label: sel.label } : {}) };
    this.analyzer.checkSelection(next);
    this.selection = next;
  }

  /** Analyses the window ending at the newest frame; null while fewer than W frames exist. */
  async analyse(history: FrameHistory): Promise<{ frame: AnalysisFrame; computeMs: number; readbackMs: number } | null> {
    const n = history.total;
    const W = this.info.windowFrames;
    if (n < W) return null;
    const start = windowStart(n, W, this.info.strideFrames);
    const frames = n - start;
    const bins = history.bins;
    if (this.scratch.length !== frames * bins) this.scratch = new Float32Array(frames * bins);
    history.range('mag', start, frames, this.scratch);
    const sel = this.selection;
    const t0 = performance.now();
    const input = inputTensor(scaleMagnitudes(this.scratch, this.model.manifest.frontEnd.scaling), frames, bins);
    let t: AnalysisTensors;
    try {
      t = this.analyzer.analyseTensors(input, sel);
    } finally {
      input.dispose();
    }
    // On wasm/cpu the kernels ran above; on WebGPU/WebGL they were only queued and data() waits.
    const t1 = performance.now();
    try {
      const [thumbnails, featureMap, projection, predictions, label] = await Promise.all([
        t.thumbnails.data(), t.featureMap.data(), t.projection.data(), t.predictions.data(), t.labelUsed.data(),
      ]);
      const mask: WindowMask = { startFrame: start, frames, bins, projection: projection as Float32Array };
      this.mask = mask;
      const frame: AnalysisFrame = {
        layer: sel.layer,
        feature: sel.feature,
        method: METHOD_NAMES.indexOf(sel.method),
        label: label[0],
        windowStartFrame: start,
        windowFrames: frames,
        channels: t.thumbnails.shape[0],
        thumbHeight: t.thumbnails.shape[1],
        thumbWidth: t.thumbnails.shape[2],
        thumbnails: thumbnails as Float32Array,
        mapHeight: t.featureMap.shape[0],
        mapWidth: t.featureMap.shape[1],
        map: featureMap as Float32Array,
        projection: mask.projection,
        predictions: predictions as Float32Array,
      };
      return { frame, computeMs: t1 - t0, readbackMs: performance.now() - t1 };
    } finally {
      disposeAnalysis(t);
    }
  }

  /** Times one analysis of a W-frame window of zeros (the backend benchmark), ms. */
  async benchOnce(): Promise<number> {
    const input = tf.zeros([1, this.model.graph.bins, this.info.windowFrames, 1]) as tf.Tensor4D;
    try {
      const t0 = performance.now();
      await this.analyzer.analyse(input, this.selection);
      return performance.now() - t0;
    } finally {
      input.dispose();
    }
  }

  dispose(): void {
    this.analyzer.dispose();
    this.model.dispose();
  }
}

/**
 * Chooses the tfjs backend. 'auto' benchmarks the candidates with the model itself (one warm-up
 * and two timed analyses each, within BENCH_CAP_MS) and keeps the fastest; a software WebGPU
 * adapter is skipped with its reason. Returns the backend in use and why.
 */
export async function pickBackend(name: BackendName, pageUrl: string, bench: () => Promise<number>): Promise<{ name: string; reason: string }> {
  useServedWasm(pageUrl);
  if (name !== 'auto') {
    const forced = await forceBackend(name);
    return { name: forced.name, reason: `${forced.name}: chosen by the user` };
  }
  const gpu = await webgpuAdapter().catch((e: unknown) => `WebGPU failed: ${String(e)}`);
  const candidates = AUTO_ORDER.filter((b) => b !== 'webgpu' || gpu === true);
  const choice = await chooseBackend(candidates, async () => {
    await bench();
    const a = await bench();
    const b = await bench();
    return Math.min(a, b);
  }, BENCH_CAP_MS);
  const reason = gpu === true ? choice.reason : `${choice.reason}; webgpu not tried: ${gpu}`;
  return { name: choice.name, reason };
}
