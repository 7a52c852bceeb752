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
import { minWindowFrames, tapGeometry, totalTimeStrideFrames } from '../model/graph';
import { networkInput, projectionToStft, stftBins } from '../model/frontend';
import { inputTensor } from '../model/input';
import { loadModelFromFiles, loadModelFromUrl, type LoadedModel } from '../model/load';
import { METHOD_NAMES, type BackendBench, type BackendName, type ModelInfo, type SelectionRequest } from '../shared/api';
import type { AnalysisFrame } from '../shared/frame';
import { transfer } from 'comlink';

/** Backends tried by 'auto', fastest first in the common case. */
const AUTO_ORDER = ['webgpu', 'webgl', 'wasm', 'cpu'];
/** Total time the start-up benchmark may spend, ms. */
const BENCH_CAP_MS = 3000;

let wasmPathsSet = false;

/** The slice of a GPUDevice used here (the project does not load @webgpu/types). */
interface GpuDeviceLike {
  destroy(): void;
  readonly lost: Promise<{ reason: string; message: string }>;
}

/** How long a failed WebGPU analysis waits to learn whether its device was lost, ms. */
const LOSS_GRACE_MS = 200;

/** n seeded pseudo-random magnitudes with sparse-ish peaks, like a spectrogram (backend comparisons and benches). */
function syntheticMagnitudes(n: number, seed: number): Float32Array {
  const mag = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    mag[i] = 20 * (s / 4294967296) ** 4;
  }
  return mag;
}

/** How a device loss is named in errors and notices. */
function lossText(info: { reason: string; message: string }): string {
  return `WebGPU device lost (${info.reason || 'unknown'}${info.message ? `: ${info.message}` : ''})`;
}

/** A WebGPU analysis error, naming the device loss behind it when there is one (a read-back may fail first). */
async function withLoss(device: GpuDeviceLike, err: unknown): Promise<unknown> {
  if (err instanceof Error && err.message.startsWith('WebGPU device lost')) return err;
  const info = await Promise.race([device.lost, new Promise<null>((res) => setTimeout(() => res(null), LOSS_GRACE_MS))]);
  if (!info) return err;
  return new Error(`${lossText(info)}; ${err instanceof Error ? err.message : String(err)}`);
}

/** tfjs-backend-webgpu's registry priority (its base.js), kept when the backend is re-registered. */
const WEBGPU_PRIORITY = 3;
/** Set when the webgpu backend's device was lost: tfjs keeps the dead instance until it is re-registered. */
let webgpuLost = false;

/** The GPUDevice of the active tfjs backend, or null when that backend is not webgpu. */
function webgpuDevice(): GpuDeviceLike | null {
  if (tf.getBackend() !== 'webgpu') return null;
  return (tf.backend() as unknown as { device?: GpuDeviceLike }).device ?? null;
}

/**
 * After a device loss, replaces tfjs's dead webgpu instance with a fresh registration (same
 * factory), so choosing webgpu again requests a new device instead of reusing the lost one.
 */
function reviveWebgpu(): void {
  if (!webgpuLost || tf.getBackend() === 'webgpu') return;
  const factory = tf.findBackendFactory('webgpu');
  if (!factory) return;
  tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', factory, WEBGPU_PRIORITY);
  webgpuLost = false;
}

/** forceBackend, after reviving a lost webgpu backend when that is the one asked for. */
function startBackend(name: string): ReturnType<typeof forceBackend> {
  if (name === 'webgpu') reviveWebgpu();
  return forceBackend(name);
}

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

/** Is WebGL2 here a hardware renderer (true), or software / absent (a reason string)? */
function webglRenderer(): true | string {
  try {
    const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
    if (!gl) return 'no WebGL2 in this worker';
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = ext ? String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL)) : String(gl.getParameter(gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    if (/swiftshader|llvmpipe|softpipe|software/i.test(renderer)) return `software renderer (${renderer}): slower than wasm`;
    return true;
  } catch (e) {
    return `WebGL2 failed: ${String(e)}`;
  }
}

/** Builds the ModelInfo the UI shows from a loaded model. */
export function modelInfo(model: LoadedModel): ModelInfo {
  const m = model.manifest;
  const windowFrames = model.graph.fixedFrames ?? Math.max(m.inputShape[1], minWindowFrames(model.graph));
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
    // dB against the window's maximum and per-input normalisation both change with the window.
    windowDependent: m.frontEnd.scaling.kind === 'db' || model.graph.trunk.some((op) => (op.kind as string) === 'norm'),
    fixedWindow: model.graph.fixedFrames !== null,
  };
}

/** A loaded model with its analyzer and the current selection. */
export class AnalysisStage {
  readonly info: ModelInfo;
  private selection: Selection;

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

  /** Loads a model from user-picked files (name -> bytes), validated and warmed up. */
  static async loadFiles(files: Record<string, ArrayBuffer>): Promise<AnalysisStage> {
    const model = await loadModelFromFiles(new Map(Object.entries(files)));
    return new AnalysisStage(model, new Analyzer(model));
  }

  /** Frequency rows of the model's input (STFT bins or mel bands). */
  get bins(): number {
    return this.model.graph.bins;
  }

  /** STFT bins per frame that analyse() takes and whose grid its projection is on (nFft / 2 + 1). */
  get stftBins(): number {
    return stftBins(this.model.manifest.frontEnd);
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

  /**
   * Analyses one window of STFT magnitudes (frames x bins, frame-major, bins = nFft / 2 + 1)
   * starting at absolute frame `start`. Mel models get the front end's mel input; the projection
   * always comes back on the STFT bins (mapped back for mel models), for the solo and the views.
   */
  async analyse(mag: Float32Array, start: number, frames: number, bins: number): Promise<{ frame: AnalysisFrame; computeMs: number; readbackMs: number }> {
    const sel = this.selection;
    const fe = this.model.manifest.frontEnd;
    if (bins !== this.stftBins) throw new RangeError(`analyse: expected ${this.stftBins} STFT bins per frame (nFft ${fe.nFft}), got ${bins}`);
    const t0 = performance.now();
    const input = inputTensor(networkInput(mag, frames, fe), frames, this.bins);
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
        projection: projectionToStft(projection as Float32Array, frames, fe),
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
    const forced = await startBackend(name);
    return { name: forced.name, reason: `${forced.name}: chosen by the user` };
  }
  // Software GPU backends (headless SwiftShader) are skipped up front: their first-run shader
  // compilation alone takes seconds, and they lose to wasm (measured: webgl 193 ms, webgpu 1.5 s,
  // wasm 8.7 ms for the paper's net on this kind of machine).
  reviveWebgpu();
  const notTried: string[] = [];
  const gpu = await webgpuAdapter().catch((e: unknown) => `WebGPU failed: ${String(e)}`);
  if (gpu !== true) notTried.push(`webgpu (${gpu})`);
  const gl = webglRenderer();
  if (gl !== true) notTried.push(`webgl (${gl})`);
  // cpu (plain JS) only stands in where wasm cannot start: timing it would block the worker for
  // seconds, and it never beats wasm.
  notTried.push('cpu (only used when wasm is unavailable)');
  const candidates = AUTO_ORDER.filter((b) => (b !== 'webgpu' || gpu === true) && (b !== 'webgl' || gl === true) && b !== 'cpu');
  const choice = await chooseBackend(candidates, async () => {
    await bench();
    return bench();
  }, BENCH_CAP_MS).catch(async (e: unknown) => {
    const cpu = await forceBackend('cpu');
    return { ...cpu, reason: `cpu: no faster backend could start (${e instanceof Error ? e.message : String(e)})` };
  });
  const reason = notTried.length ? `${choice.reason}; not tried: ${notTried.join(', ')}` : choice.reason;
  return { name: choice.name, reason };
}

/** What one analysis returns across the worker boundary. */
export interface AnalysisReply {
  frame: AnalysisFrame;
  computeMs: number;
  readbackMs: number;
  tensors: number;
}

/**
 * The analysis worker's service (exposed with comlink on a port the signal worker holds): the CNN
 * runs here so that its tens of milliseconds of synchronous wasm never delay the audio path.
 */
export class AnalysisService {
  private stage: AnalysisStage | null = null;
  private backend = { name: 'none', reason: 'no model loaded yet' };
  private backendChosen = false;
  /** Told (once per loss) when the live backend's WebGPU device is lost; set by the signal worker. */
  private lostHandler: ((why: string) => unknown) | null = null;
  private readonly watchedDevices = new WeakSet<GpuDeviceLike>();
  /** Rejects the WebGPU analysis in progress (the engine runs one at a time). */
  private abortAnalysis: ((err: Error) => void) | null = null;

  /** Registers the callback told when the live backend's WebGPU device is lost (while idle too). */
  onBackendLost(handler: (why: string) => unknown): void {
    this.lostHandler = handler;
    this.watchDevice();
  }

  /** Watches the active webgpu backend's device (once per device) so a loss is reported at once. */
  private watchDevice(): void {
    const device = webgpuDevice();
    if (!device || this.watchedDevices.has(device)) return;
    this.watchedDevices.add(device);
    void device.lost.then((info) => {
      webgpuLost = true;
      if (tf.getBackend() === 'webgpu') this.abortAnalysis?.(new Error(`${lossText(info)}; the analysis did not finish`));
      // A device used only by compareOn/benchOn is not the live backend's: nothing to fall back from.
      if (this.backend.name !== 'webgpu') return;
      void this.lostHandler?.(lossText(info));
    });
  }

  /**
   * Debug (debug.inject('backend-lost')): destroys the webgpu backend's GPUDevice, as a driver
   * reset would; the next analysis fails and device.lost fires. Refused on any other backend.
   */
  loseBackend(): string {
    const device = webgpuDevice();
    if (!device || this.backend.name !== 'webgpu') {
      throw new Error(`backend-lost: expected the webgpu backend, got ${this.backend.name} (only a WebGPU device can be lost; choose the webgpu backend first)`);
    }
    device.destroy();
    return 'the WebGPU device was destroyed';
  }

  /** The last backend switch or model swap queued (settled when none is pending). */
  private switching: Promise<unknown> = Promise.resolve();
  private switchesPending = 0;

  /**
   * Runs a backend switch or model swap once the earlier ones have settled; analyses wait for it.
   * comlink starts each call as its message arrives, and an analysis started during a switch runs on
   * a half-initialised backend or a disposed model.
   */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    this.switchesPending++;
    const run = this.switching.then(task).finally(() => {
      this.switchesPending--;
    });
    this.switching = run.catch(() => undefined);
    return run;
  }

  /** Loads a model; the previous one runs until the new one is ready. Returns its info and the backend. */
  async load(baseUrl: string, pageUrl: string, backend: BackendName): Promise<{ info: ModelInfo; backend: { name: string; reason: string } }> {
    return this.exclusive(() => this.swapIn(() => AnalysisStage.load(baseUrl, pageUrl), pageUrl, backend));
  }

  /** The same from user-picked files. */
  async loadFiles(files: Record<string, ArrayBuffer>, pageUrl: string, backend: BackendName): Promise<{ info: ModelInfo; backend: { name: string; reason: string } }> {
    return this.exclusive(() => this.swapIn(() => AnalysisStage.loadFiles(files), pageUrl, backend));
  }

  /**
   * Loads the last model again (URL or picked files) on the backend in use, keeping nothing from the
   * old one: after a device loss its weights are unreadable. The selection is the caller's to re-apply.
   */
  async reload(pageUrl: string): Promise<{ info: ModelInfo; backend: { name: string; reason: string } }> {
    return this.exclusive(async () => {
      if (!this.lastLoad) throw new Error('reload: no model was loaded yet');
      return this.swapIn(this.lastLoad, pageUrl, this.backend.name as BackendName);
    });
  }

  private lastLoad: (() => Promise<AnalysisStage>) | null = null;

  private async swapIn(make: () => Promise<AnalysisStage>, pageUrl: string, backend: BackendName): Promise<{ info: ModelInfo; backend: { name: string; reason: string } }> {
    if (!this.backendChosen) {
      // Load on wasm (fast and everywhere), then let the benchmark pick with the real model.
      this.backend = await pickBackend('wasm', pageUrl, async () => 0).catch(() => pickBackend('cpu', pageUrl, async () => 0));
    }
    const next = await make();
    if (!this.backendChosen) {
      try {
        this.backend = await pickBackend(backend, pageUrl, () => next.benchOnce());
        this.backendChosen = true;
      } catch (e) {
        next.dispose();
        throw e;
      }
    }
    const old = this.stage;
    this.stage = next;
    this.lastLoad = make;
    old?.dispose();
    this.watchDevice();
    return { info: next.info, backend: this.backend };
  }

  async setBackend(name: BackendName, pageUrl: string): Promise<{ name: string; reason: string }> {
    return this.exclusive(async () => {
      const stage = this.stage;
      this.backend = await pickBackend(name, pageUrl, stage ? () => stage.benchOnce() : async () => 0);
      this.backendChosen = true;
      this.watchDevice();
      return this.backend;
    });
  }

  /** Throws a RangeError (changing nothing) when the selection does not fit. */
  select(sel: SelectionRequest): SelectionRequest {
    if (!this.stage) throw new Error('select: no model is loaded yet');
    this.stage.select(sel);
    return this.stage.selectionRequest;
  }

  async analyse(mag: Float32Array, start: number, frames: number, bins: number): Promise<AnalysisReply> {
    while (this.switchesPending > 0) await this.switching;
    if (!this.stage) throw new Error('analyse: no model is loaded yet');
    const device = webgpuDevice();
    let r: Awaited<ReturnType<AnalysisStage['analyse']>>;
    try {
      const work = this.stage.analyse(mag, start, frames, bins);
      // A read-back on a lost device must not hold the worker forever: the loss rejects it.
      r = await (device ? new Promise<Awaited<typeof work>>((res, rej) => {
        this.abortAnalysis = rej;
        work.then(res, rej);
      }).finally(() => {
        this.abortAnalysis = null;
      }) : work);
    } catch (e) {
      throw device ? await withLoss(device, e) : e;
    }
    const f = r.frame;
    const reply: AnalysisReply = { ...r, tensors: tf.memory().numTensors };
    return transfer(reply, [f.thumbnails.buffer, f.map.buffer, f.projection.buffer, f.predictions.buffer] as ArrayBuffer[]);
  }

  /**
   * Debug: analyses one seeded window on `backend` (then returns to the backend in use) so tests can
   * check that every backend computes the same maps.
   */
  async compareOn(backend: string, pageUrl: string, sel: SelectionRequest, seed: number): Promise<{ backend: string; projection: Float32Array; featureMap: Float32Array; predictions: Float32Array }> {
    return this.exclusive(async () => {
      const stage = this.stage;
      if (!stage) throw new Error('compareOn: no model is loaded yet');
      useServedWasm(pageUrl);
      const previous = tf.getBackend();
      const keep = stage.selectionRequest;
      await startBackend(backend);
      try {
        const frames = stage.info.windowFrames, bins = stage.stftBins;
        const mag = syntheticMagnitudes(frames * bins, seed);
        stage.select(sel);
        const r = await stage.analyse(mag, 0, frames, bins);
        return { backend: tf.getBackend(), projection: r.frame.projection, featureMap: r.frame.map, predictions: r.frame.predictions };
      } finally {
        stage.select(keep);
        await tf.setBackend(previous);
      }
    });
  }

  /**
   * Debug (npm run bench): times up to `hops` analyses of one seeded window with the current
   * selection on `backend`, after one untimed warm-up, stopping once `maxMs` have passed (at least
   * one timed run); then returns to the backend in use.
   */
  async benchOn(backend: string, pageUrl: string, hops: number, maxMs = 60_000): Promise<BackendBench> {
    return this.exclusive(async () => {
      const stage = this.stage;
      if (!stage) throw new Error('benchOn: no model is loaded yet');
      if (!Number.isInteger(hops) || hops < 1 || hops > 10_000) throw new RangeError(`benchOn: expected hops in 1..10000, got ${hops}`);
      useServedWasm(pageUrl);
      const previous = tf.getBackend();
      await startBackend(backend);
      try {
        const frames = stage.info.windowFrames, bins = stage.stftBins;
        const mag = syntheticMagnitudes(frames * bins, 4321);
        const w0 = performance.now();
        await stage.analyse(mag, 0, frames, bins);
        const out: BackendBench = { backend: tf.getBackend(), warmUpMs: performance.now() - w0, computeMs: [], readbackMs: [], totalMs: [] };
        const start = performance.now();
        for (let i = 0; i < hops && (i === 0 || performance.now() - start < maxMs); i++) {
          const r = await stage.analyse(mag, 0, frames, bins);
          out.computeMs.push(r.computeMs);
          out.readbackMs.push(r.readbackMs);
          out.totalMs.push(r.computeMs + r.readbackMs);
        }
        return out;
      } finally {
        await tf.setBackend(previous);
      }
    });
  }

  /** Frees the model; the worker can then be terminated. */
  dispose(): void {
    this.stage?.dispose();
    this.stage = null;
  }
}
