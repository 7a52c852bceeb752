/**
 * The analysis engine's scheduler and transports: drains captured audio at its own pace without
 * blocking the event loop (comlink must keep hearing us), runs the pipeline, writes the output
 * ring and publishes the newest frame. Paces itself with Atomics.waitAsync where present, else a
 * short timer poll of the ring's fill level.
 */
import { RingBuffer } from 'ringbuf.js';
import { LivePipeline } from './pipeline';
import { proxy, transfer, wrap, type Remote } from 'comlink';
import type { AnalysisService } from './analysis';
import { windowStart } from '../model/graph';
import type { BackendBench, BackendMaps, BackendName, EngineApi, EngineConfig, EngineInfo, EngineStats, EngineTransport, LatencyMode, ModelInfo, SelectionRequest, SoloMode } from '../shared/api';
import { BATCH_POOL_SIZE, BATCH_SAMPLES, RING_CAPACITY_SAMPLES, Slot, statsViews, type StatsViews } from '../shared/layout';
import { MailboxWriter, packFrame, packedLength, type AnalysisFrame, type EngineFrame } from '../shared/frame';
import type { AudioPortMessage } from '../shared/messages';

type RingCtor = new (sab: SharedArrayBuffer, type: typeof Float32Array) => RingBuffer;

/** Hop times kept for the median and p95. */
const TIMING_WINDOW = 64;
/** Poll period when Atomics.waitAsync is missing or nothing arrived, ms. */
const POLL_MS = 5;

/** Where audio comes from and goes to, and where frames go. */
interface Io {
  /** Moves all captured samples into one array (empty when none); allocates. */
  drain(): Float32Array;
  /** Writes output samples; returns how many did not fit. */
  write(samples: Float32Array): number;
  publish(frame: Omit<EngineFrame, 'seq'>): void;
  /** Resolves when more input may be there (or after a timeout). */
  wait(): Promise<void>;
  captureAvailable(): number;
  outputAvailable(): number;
  /** Tells the worklet that the wet stream's positional delay becomes `samples` from the next output on. */
  scheduleWetDelay(samples: number, pendingOutput: number): void;
  dispose(): void;
}

class SharedIo implements Io {
  private readonly capture: RingBuffer;
  private readonly output: RingBuffer;
  private readonly stats: StatsViews;
  private readonly mailbox: MailboxWriter;
  private readonly scratch = new Float32Array(RING_CAPACITY_SAMPLES);
  private lastDropped = 0;
  private lastSeen = 0;
  constructor(t: Extract<EngineTransport, { kind: 'shared' }>) {
    const Ring = RingBuffer as unknown as RingCtor;
    this.capture = new Ring(t.captureRing, Float32Array);
    this.output = new Ring(t.outputRing, Float32Array);
    this.stats = statsViews(t.stats);
    this.mailbox = new MailboxWriter(t.mailbox);
    // A restarted worker continues the output stream where the input stream is, not where the
    // dead worker's output stopped (it died holding a partial frame and resampler state).
    const ints = this.stats.ints;
    const pad = Atomics.load(ints, Slot.inputConsumed) - Atomics.load(ints, Slot.outputWritten);
    if (pad > 0) this.write(new Float32Array(Math.min(pad, this.output.available_write())));
    this.lastDropped = Atomics.load(ints, Slot.captureDroppedSamples);
  }
  drain(): Float32Array {
    // Samples the worklet dropped on overrun are replaced by silence so time stays aligned.
    const dropped = Atomics.load(this.stats.ints, Slot.captureDroppedSamples);
    const gap = dropped - this.lastDropped;
    this.lastDropped = dropped;
    const n = this.capture.pop(this.scratch, this.capture.available_read());
    const out = new Float32Array(gap + n);
    out.set(this.scratch.subarray(0, n), gap);
    Atomics.add(this.stats.ints, Slot.inputConsumed, gap + n);
    return out;
  }
  write(samples: Float32Array): number {
    const n = this.output.push(samples, samples.length);
    Atomics.add(this.stats.ints, Slot.outputWritten, samples.length);
    return samples.length - n;
  }
  publish(frame: Omit<EngineFrame, 'seq'>): void {
    this.mailbox.publish(frame);
    Atomics.add(this.stats.ints, Slot.hopsAnalysed, 1);
  }
  async wait(): Promise<void> {
    const ints = this.stats.ints;
    const now = Atomics.load(ints, Slot.captureSamples);
    if (now !== this.lastSeen) {
      this.lastSeen = now;
      return;
    }
    const waitAsync = (Atomics as unknown as { waitAsync?: (a: Int32Array, i: number, v: number, t: number) => { async: boolean; value: Promise<string> | string } }).waitAsync;
    if (waitAsync) {
      const r = waitAsync(ints, Slot.captureSamples, now, 100);
      if (r.async) await r.value;
    } else {
      await new Promise((res) => setTimeout(res, POLL_MS));
    }
    this.lastSeen = Atomics.load(ints, Slot.captureSamples);
  }
  captureAvailable(): number {
    return this.capture.available_read();
  }
  scheduleWetDelay(samples: number, pendingOutput: number): void {
    const ints = this.stats.ints;
    // The change is heard when the worklet reaches what has been written so far plus what the
    // resampler still holds (pendingOutput); a crossfade covers the remaining uncertainty.
    Atomics.store(ints, Slot.wetDelayNext, samples);
    Atomics.store(ints, Slot.wetDelayAt, (Atomics.load(ints, Slot.outputWritten) + pendingOutput) | 0);
    Atomics.add(ints, Slot.wetDelaySeq, 1);
  }
  outputAvailable(): number {
    return this.output.available_read();
  }
  dispose(): void {}
}

class TransferIo implements Io {
  private readonly queue: Float32Array[] = [];
  private readonly pool: Float32Array[] = [];
  private queued = 0;
  private wake: (() => void) | null = null;
  private outstanding = 0;
  constructor(private readonly t: Extract<EngineTransport, { kind: 'transfer' }>) {
    for (let i = 0; i < BATCH_POOL_SIZE; i++) this.pool.push(new Float32Array(BATCH_SAMPLES));
    t.audioPort.onmessage = (e: MessageEvent<AudioPortMessage>) => this.onAudio(e.data);
  }
  private onAudio(msg: AudioPortMessage): void {
    switch (msg.type) {
      case 'capture': {
        if (msg.dropped > 0) this.queue.push(new Float32Array(msg.dropped));
        this.queue.push(msg.buffer.slice(0, msg.length));
        this.queued += msg.dropped + msg.length;
        const back: AudioPortMessage = { type: 'return', buffer: msg.buffer };
        this.t.audioPort.postMessage(back, [msg.buffer.buffer]);
        this.wake?.();
        break;
      }
      case 'return':
        this.pool.push(msg.buffer);
        this.outstanding--;
        break;
      case 'output':
        break;
      default: {
        const never: never = msg;
        void never;
      }
    }
  }
  drain(): Float32Array {
    const out = new Float32Array(this.queued);
    let o = 0;
    for (const b of this.queue) {
      out.set(b, o);
      o += b.length;
    }
    this.queue.length = 0;
    this.queued = 0;
    return out;
  }
  write(samples: Float32Array): number {
    let i = 0;
    while (i < samples.length) {
      const buf = this.pool.pop() ?? new Float32Array(BATCH_SAMPLES);
      const n = Math.min(BATCH_SAMPLES, samples.length - i);
      buf.set(samples.subarray(i, i + n));
      const msg: AudioPortMessage = { type: 'output', buffer: buf, length: n };
      this.t.audioPort.postMessage(msg, [buf.buffer]);
      this.outstanding++;
      i += n;
    }
    return 0;
  }
  publish(frame: Omit<EngineFrame, 'seq'>): void {
    const packed = new Float32Array(packedLength(frame));
    packFrame(frame, packed);
    this.t.framePort.postMessage(packed, [packed.buffer]);
  }
  wait(): Promise<void> {
    if (this.queued > 0) return Promise.resolve();
    return new Promise((res) => {
      const timer = setTimeout(() => {
        this.wake = null;
        res();
      }, 100);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        res();
      };
    });
  }
  captureAvailable(): number {
    return this.queued;
  }
  scheduleWetDelay(): void {
    // Without shared memory the main thread applies the new dry delay when it polls the stats.
  }
  outputAvailable(): number {
    return this.outstanding * BATCH_SAMPLES;
  }
  dispose(): void {
    this.t.audioPort.onmessage = null;
    this.t.audioPort.close();
    this.t.framePort.close();
  }
}

/** Median and 95th percentile of a list. */
function percentiles(xs: number[]): { median: number; p95: number } {
  if (xs.length === 0) return { median: 0, p95: 0 };
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p95: s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] };
}

/** Frames the synthesis allows for an analysis to come back (about 186 ms at hop 256, 11,025 Hz). */
export const ANALYSIS_ALLOWANCE_FRAMES = 8;
/** Lookahead of the low-latency mode in frames (at most the layer's exact lookahead). */
export const LOW_LATENCY_LOOKAHEAD_FRAMES = 4;

/** Lookahead in frames for a layer's receptive field: exact waits until the column is settled. */
export function lookaheadFrames(receptiveFieldFrames: number, mode: LatencyMode): number {
  const exact = Math.max(0, receptiveFieldFrames - 1);
  return mode === 'exact' ? exact : Math.min(exact, LOW_LATENCY_LOOKAHEAD_FRAMES);
}

/** Rolling median of recent timings. */
class Timing {
  private readonly xs: number[] = [];
  push(ms: number): void {
    this.xs.push(ms);
    if (this.xs.length > TIMING_WINDOW) this.xs.shift();
  }
  get stats(): { median: number; p95: number } {
    return percentiles(this.xs);
  }
  clear(): void {
    this.xs.length = 0;
  }
}

/** The engine behind the worker's comlink API. */
export class Engine implements EngineApi {
  private config: EngineConfig | null = null;
  private pipeline: LivePipeline | null = null;
  private io: Io | null = null;
  private running = false;
  private analysis: Remote<AnalysisService> | null = null;
  private model: ModelInfo | null = null;
  private selection: SelectionRequest | null = null;
  private backend = { name: 'none', reason: 'no model loaded yet' };
  private analysing = false;
  /** Bumped when a backend fallback starts and ends: replies and failures of older analyses are ignored. */
  private backendGeneration = 0;
  private fallingBack = false;
  private nextAnalysisAtMs = 0;
  private notice = '';
  private tensors = 0;
  private readonly hopTime = new Timing();
  private readonly signalTime = new Timing();
  private readonly analysisTime = new Timing();
  private readonly readbackTime = new Timing();
  private signalMsSincePublish = 0;
  private hopsAnalysed = 0;
  private droppedHops = 0;
  private framesSincePublish = 0;
  private spectroScratch = new Float32Array(0);
  private solo = { on: false, mode: 'solo' as SoloMode, rectify: false, latencyMode: 'exact' as LatencyMode };

  async init(config: EngineConfig, transport: EngineTransport, analysisPort: MessagePort): Promise<EngineInfo> {
    if (this.pipeline) throw new Error('engine: init called twice; create a new worker instead');
    this.config = config;
    this.pipeline = await LivePipeline.create(config);
    this.io = transport.kind === 'shared' ? new SharedIo(transport) : new TransferIo(transport);
    this.analysis = wrap<AnalysisService>(analysisPort);
    // A WebGPU device lost while no analysis runs is reported at once, not at the next failure.
    void this.analysis.onBackendLost(proxy((why: string) => this.backendLost(why)));
    this.spectroScratch = new Float32Array(config.historyFrames * this.pipeline.history.bins);
    this.running = true;
    void this.loop();
    return {
      processingLatencySamples: this.pipeline.processingLatencySamples,
      resamplerLatencySamples: this.pipeline.resamplerLatencySamples,
    };
  }

  private async loop(): Promise<void> {
    while (this.running && this.io && this.pipeline) {
      await this.io.wait();
      if (!this.running) break;
      this.step(this.io, this.pipeline);
    }
  }

  /** One drain: all pending input through the signal path; one analysis per hop group at most. */
  private step(io: Io, pipeline: LivePipeline): void {
    const input = io.drain();
    if (input.length === 0) return;
    const t0 = performance.now();
    const { output, newFrames } = pipeline.process(input);
    io.write(output);
    this.signalMsSincePublish += performance.now() - t0;
    this.framesSincePublish += newFrames;
    const group = pipeline.config.hopGroupFrames;
    if (this.framesSincePublish < group) return;
    // Only the newest hop group is analysed; older complete groups (and groups that arrive while
    // an analysis is still running) are dropped, never queued: the visuals always show the newest.
    const groups = Math.floor(this.framesSincePublish / group);
    this.framesSincePublish -= groups * group;
    if (this.analysing || this.switchingBackend > 0) {
      this.droppedHops += groups;
      return;
    }
    // Duty-cycle guard: a new analysis starts no sooner than 1.5 x the last one's duration after
    // that one started, so on a small CPU the model never takes all the time the audio path needs.
    const now = performance.now();
    if (now < this.nextAnalysisAtMs) {
      this.droppedHops += groups;
      return;
    }
    this.droppedHops += groups - 1;
    const signalMs = this.signalMsSincePublish;
    this.signalMsSincePublish = 0;
    this.signalTime.push(signalMs);
    const model = this.model;
    const analysis = this.analysis;
    const n = pipeline.history.total;
    if (!model || !analysis || (n < model.windowFrames && !model.fixedWindow) || n === 0) {
      this.publish(io, pipeline, null);
      this.hopTime.push(signalMs);
      return;
    }
    // The window [S, n) with the pooling grid anchored to absolute time (DESIGN.md §3); a model
    // with a fixed input takes exactly the newest W frames, silence before the stream began.
    const start = model.fixedWindow ? n - model.windowFrames : windowStart(n, model.windowFrames, model.strideFrames);
    const frames = n - start;
    const bins = pipeline.history.bins;
    const mag = new Float32Array(frames * bins);
    const have = Math.max(start, 0);
    pipeline.history.range('mag', have, n - have, mag.subarray((have - start) * bins));
    this.analysing = true;
    const t1 = performance.now();
    const generation = this.backendGeneration;
    analysis.analyse(transfer(mag, [mag.buffer]), start, frames, bins).then((r) => {
      if (!this.running || this.model !== model || generation !== this.backendGeneration) return;
      const f = r.frame;
      // Frames before the stream began (a fixed window's zero padding) have no mask to store.
      const skip = Math.max(0, -f.windowStartFrame);
      if (skip < f.windowFrames) {
        pipeline.synth.masks.store(f.windowStartFrame + skip, f.windowFrames - skip, f.projection.subarray(skip * bins), this.currentLookahead());
      }
      this.publish(io, pipeline, r.frame);
      this.tensors = r.tensors;
      this.analysisTime.push(r.computeMs);
      this.readbackTime.push(r.readbackMs);
      this.hopTime.push(signalMs + (performance.now() - t1));
    }, (err: unknown) => {
      if (generation === this.backendGeneration) this.analysisFailed(err);
    }).finally(() => {
      // An analysis on a lost device may never settle: the fallback clears `analysing` itself.
      if (generation !== this.backendGeneration) return;
      this.analysing = false;
      this.nextAnalysisAtMs = t1 + 1.5 * (performance.now() - t1);
    });
  }

  private publish(io: Io, pipeline: LivePipeline, analysis: AnalysisFrame | null): void {
    const cfg = pipeline.config;
    pipeline.history.newest('db', cfg.historyFrames, this.spectroScratch);
    io.publish({
      spectrogram: {
        bins: pipeline.history.bins,
        frames: cfg.historyFrames,
        hzPerBin: cfg.analysisSampleRateHz / cfg.nFft,
        secondsPerFrame: cfg.hopSamples / cfg.analysisSampleRateHz,
        totalFrames: pipeline.history.total,
        data: this.spectroScratch,
      },
      analysis,
    });
    this.hopsAnalysed++;
  }

  /** The analysis worker saw the live backend's WebGPU device lost (possibly while idle). */
  private backendLost(why: string): void {
    if (this.backend.name !== 'webgpu') return;
    this.analysisFailed(new Error(why));
  }

  /**
   * An analysis failed (e.g. the WebGPU device was lost): fall back to wasm (cpu if wasm failed),
   * reload the model, keep the selection. One fallback at a time; older analyses are ignored.
   */
  private analysisFailed(err: unknown): void {
    if (this.fallingBack) return;
    this.fallingBack = true;
    this.backendGeneration++;
    const failed = this.backend.name;
    const next: BackendName = failed === 'wasm' ? 'cpu' : 'wasm';
    const why = err instanceof Error ? err.message : String(err);
    const t0 = performance.now();
    this.model = null;
    this.notice = `Analysis failed on the ${failed} backend (${why}); switching to ${next} and reloading the model.`;
    void (async () => {
      const analysis = this.requireAnalysis();
      this.backend = await analysis.setBackend(next, this.requireConfig().pageUrl);
      this.backend = { ...this.backend, reason: `${this.backend.name}: fallback after ${failed} failed (${why})` };
      const r = await analysis.reload(this.requireConfig().pageUrl);
      this.model = r.info;
      if (this.selection) this.selection = await analysis.select(this.selection);
      this.notice = `Analysis continues on ${this.backend.name} after the ${failed} backend failed (${why}); model reloaded in ${(performance.now() - t0).toFixed(0)} ms, selection kept.`;
    })().catch((e: unknown) => {
      this.notice = `The model could not be reloaded after a backend failure: ${e instanceof Error ? e.message : String(e)}`;
    }).finally(() => {
      this.backendGeneration++;
      this.analysing = false;
      this.nextAnalysisAtMs = 0;
      this.fallingBack = false;
    });
  }

  /** Debug (debug.inject('backend-lost')): destroys the analysis backend's WebGPU device; refused on other backends. */
  loseBackend(): Promise<string> {
    return this.requireAnalysis().loseBackend();
  }

  async loadModel(baseUrl: string, backend: BackendName): Promise<ModelInfo> {
    return this.useModel(await this.requireAnalysis().load(baseUrl, this.requireConfig().pageUrl, backend));
  }

  async loadModelFiles(files: Record<string, ArrayBuffer>, backend: BackendName): Promise<ModelInfo> {
    return this.useModel(await this.requireAnalysis().loadFiles(files, this.requireConfig().pageUrl, backend));
  }

  private async useModel(r: { info: ModelInfo; backend: { name: string; reason: string } }): Promise<ModelInfo> {
    this.model = null; // no analysis of the new model on the old path while the path is rebuilt
    await this.fitPipeline(r.info);
    // The previous model's analysis times would set the new one's solo allowance.
    this.analysisTime.clear();
    this.readbackTime.clear();
    this.backend = r.backend;
    this.model = r.info;
    this.selection = await this.requireAnalysis().select({ layer: Math.min(1, r.info.layers.length - 1), feature: 0, method: 'deconvnet' });
    this.pipeline?.synth.reset();
    this.updateSynth();
    return r.info;
  }

  /**
   * Rebuilds the signal path when a model needs another front end (Choi's taggers: 12 kHz) or a
   * longer history than the pipeline keeps (their 29-s windows). The new path starts empty; the
   * wet/dry delay moves to its latency with the worklet's scheduled crossfade.
   */
  private async fitPipeline(info: ModelInfo): Promise<void> {
    const old = this.pipeline;
    const c = this.config;
    if (!old || !c) return;
    const need = info.windowFrames + 4 * c.hopGroupFrames + ANALYSIS_ALLOWANCE_FRAMES + 64;
    const same = info.sampleRateHz === c.analysisSampleRateHz && info.nFft === c.nFft && info.hopSamples === c.hopSamples;
    if (same && old.history.capacity >= need) return;
    const config: EngineConfig = { ...c, analysisSampleRateHz: info.sampleRateHz, nFft: info.nFft, hopSamples: info.hopSamples };
    const next = await LivePipeline.create(config, need);
    this.config = config;
    this.pipeline = next;
    this.spectroScratch = new Float32Array(config.historyFrames * next.history.bins);
    this.framesSincePublish = 0;
    next.synth.delayFrames = 0;
    this.wetDelaySamples = next.processingLatencySamples;
    this.io?.scheduleWetDelay(this.wetDelaySamples, next.heldOutputSamples);
  }

  async setBackend(name: BackendName): Promise<string> {
    // No analysis starts while tfjs switches: one would run on the half-initialised backend, fail
    // ("has not yet been initialized") and be taken for a failure of the old backend.
    this.switchingBackend++;
    try {
      this.backend = await this.requireAnalysis().setBackend(name, this.requireConfig().pageUrl);
    } finally {
      this.switchingBackend--;
    }
    return this.backend.name;
  }

  /** setBackend calls in progress (analyses wait). */
  private switchingBackend = 0;

  private requireAnalysis(): Remote<AnalysisService> {
    if (!this.analysis) throw new Error('engine: call init first');
    return this.analysis;
  }

  async select(sel: SelectionRequest): Promise<void> {
    this.selection = await this.requireAnalysis().select(sel);
    this.updateSynth();
  }

  setSolo(on: boolean): void {
    this.solo.on = on;
    this.updateSynth();
  }

  setSoloMode(mode: SoloMode): void {
    if (mode !== 'solo' && mode !== 'mute') throw new RangeError(`setSoloMode: expected 'solo' or 'mute', got ${String(mode)}`);
    this.solo.mode = mode;
    this.updateSynth();
  }

  setRectify(on: boolean): void {
    this.solo.rectify = on;
    this.updateSynth();
  }

  setLatencyMode(mode: LatencyMode): void {
    if (mode !== 'exact' && mode !== 'low') throw new RangeError(`setLatencyMode: expected 'exact' or 'low', got ${String(mode)}`);
    this.solo.latencyMode = mode;
    this.updateSynth();
  }

  /** Lookahead of the selected layer in the current latency mode, frames. */
  private currentLookahead(): number {
    const layer = this.model && this.selection ? this.model.layers[this.selection.layer] : null;
    return layer ? lookaheadFrames(layer.receptiveFieldFrames, this.latencyMode()) : 0;
  }

  /**
   * The latency mode in effect: a window-dependent model (per-input normalisation) never settles a
   * column, whatever the lookahead, so it always runs the low-latency lookahead (the UI says so).
   */
  private latencyMode(): LatencyMode {
    return this.model?.windowDependent ? 'low' : this.solo.latencyMode;
  }

  /** Synthesis delay (frames) of a layer when soloed: lookahead + hop group + analysis allowance. */
  private soloDelayFrames(receptiveFieldFrames: number): number {
    const group = this.config?.hopGroupFrames ?? 2;
    return lookaheadFrames(receptiveFieldFrames, this.latencyMode()) + group + this.allowanceFrames;
  }

  /** The analysis allowance in effect (frames); set when the synthesis is updated. */
  private allowanceFrames = ANALYSIS_ALLOWANCE_FRAMES;

  /**
   * A long-window model (Choi's taggers: hundreds of ms per analysis on a CPU) gets an allowance
   * that covers its measured analysis time plus the duty-cycle gap (2.5 x the median), so the solo
   * finds fresh masks instead of holding old ones; other models keep the fixed allowance.
   */
  private measuredAllowance(): number {
    const c = this.config;
    if (!c || !this.model?.windowDependent) return ANALYSIS_ALLOWANCE_FRAMES;
    const frameMs = (c.hopSamples / c.analysisSampleRateHz) * 1000;
    return Math.max(ANALYSIS_ALLOWANCE_FRAMES, Math.ceil((2.5 * this.analysisTime.stats.median) / frameMs));
  }

  /** Device samples of a synthesis delay in frames. */
  private framesToDeviceSamples(frames: number): number {
    const c = this.requireConfig();
    return Math.round((frames * c.hopSamples * c.contextSampleRateHz) / c.analysisSampleRateHz);
  }

  /** Applies solo/mode/selection to the synthesis and moves the wet (and so the dry) delay. */
  private updateSynth(): void {
    const pipeline = this.pipeline;
    if (!pipeline) return;
    const soloing = this.solo.on && !!this.model && !!this.selection;
    pipeline.settings = { solo: soloing, mode: this.solo.mode, rectify: this.solo.rectify };
    const layer = soloing ? this.model!.layers[this.selection!.layer] : null;
    this.allowanceFrames = this.measuredAllowance();
    const frames = layer ? this.soloDelayFrames(layer.receptiveFieldFrames) : 0;
    if (frames === pipeline.synth.delayFrames) return;
    pipeline.synth.delayFrames = frames;
    this.wetDelaySamples = pipeline.processingLatencySamples + this.framesToDeviceSamples(frames);
    this.io?.scheduleWetDelay(this.wetDelaySamples, pipeline.heldOutputSamples);
  }

  private wetDelaySamples = 0;

  /** Solo latency of every layer (input to ear): pre-roll + synthesis delay, ms. */
  private soloLatencies(): number[] {
    const c = this.config;
    if (!c || !this.model) return [];
    const prerollMs = ((c.wetStartQuanta * 128) / c.contextSampleRateHz) * 1000;
    const frameMs = (c.hopSamples / c.analysisSampleRateHz) * 1000;
    return this.model.layers.map((l) => prerollMs + this.soloDelayFrames(l.receptiveFieldFrames) * frameMs);
  }

  private requireConfig(): EngineConfig {
    if (!this.config) throw new Error('engine: call init first');
    return this.config;
  }

  stats(): EngineStats {
    const hop = this.hopTime.stats;
    return {
      hopMs: hop.median,
      hopP95Ms: hop.p95,
      hopsAnalysed: this.hopsAnalysed,
      droppedHops: this.droppedHops,
      captureAvailable: this.io?.captureAvailable() ?? 0,
      outputAvailable: this.io?.outputAvailable() ?? 0,
      backend: this.backend.name,
      backendReason: this.backend.reason,
      stagesMs: { signal: this.signalTime.stats.median, analysis: this.analysisTime.stats.median, readback: this.readbackTime.stats.median },
      model: this.model,
      selection: this.selection,
      solo: { ...this.solo },
      wetDelaySamples: this.wetDelaySamples,
      soloLatencyMs: this.soloLatencies(),
      lateMasks: this.pipeline?.synth.lateMasks ?? 0,
      levelGain: this.pipeline?.synth.levelGain ?? 1,
      notice: this.notice,
      tensors: this.tensors,
    };
  }

  dispose(): void {
    this.running = false;
    this.io?.dispose();
    this.pipeline?.dispose();
    void this.analysis?.dispose();
    this.analysis = null;
    this.io = null;
    this.pipeline = null;
  }

  async compareOn(backend: string, sel: SelectionRequest, seed: number): Promise<BackendMaps> {
    const r = await this.requireAnalysis().compareOn(backend, this.requireConfig().pageUrl, sel, seed);
    return transfer(r, [r.projection.buffer, r.featureMap.buffer, r.predictions.buffer] as ArrayBuffer[]);
  }

  benchOn(backend: string, hops: number, maxMs?: number): Promise<BackendBench> {
    return this.requireAnalysis().benchOn(backend, this.requireConfig().pageUrl, hops, maxMs);
  }

  crash(): void {
    // The worker dies as it would on a fatal bug or out-of-memory: it stops, and an uncaught
    // error reaches the main thread's error handler.
    this.dispose();
    setTimeout(() => {
      (globalThis as unknown as { close?: () => void }).close?.();
      throw new Error('injected worker crash');
    }, 0);
  }
}
