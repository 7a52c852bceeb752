/**
 * The analysis engine's scheduler and transports: drains captured audio at its own pace without
 * blocking the event loop (comlink must keep hearing us), runs the pipeline, writes the output
 * ring and publishes the newest frame. Paces itself with Atomics.waitAsync where present, else a
 * short timer poll of the ring's fill level.
 */
import { RingBuffer } from 'ringbuf.js';
import { LivePipeline } from './pipeline';
import * as tf from '@tensorflow/tfjs';
import { AnalysisStage, pickBackend } from './analysis';
import type { BackendName, EngineApi, EngineConfig, EngineInfo, EngineStats, EngineTransport, LatencyMode, ModelInfo, SelectionRequest, SoloMode } from '../shared/api';
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
}

/** The engine behind the worker's comlink API. */
export class Engine implements EngineApi {
  private config: EngineConfig | null = null;
  private pipeline: LivePipeline | null = null;
  private io: Io | null = null;
  private running = false;
  private stage: AnalysisStage | null = null;
  private modelUrl: string | null = null;
  private backend = { name: 'none', reason: 'no model loaded yet' };
  private backendChosen = false;
  private analysing = false;
  private notice = '';
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

  async init(config: EngineConfig, transport: EngineTransport): Promise<EngineInfo> {
    if (this.pipeline) throw new Error('engine: init called twice; create a new worker instead');
    this.config = config;
    this.pipeline = await LivePipeline.create(config);
    this.io = transport.kind === 'shared' ? new SharedIo(transport) : new TransferIo(transport);
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
    if (this.analysing) {
      this.droppedHops += groups;
      return;
    }
    this.droppedHops += groups - 1;
    const signalMs = this.signalMsSincePublish;
    this.signalMsSincePublish = 0;
    this.signalTime.push(signalMs);
    const stage = this.stage;
    if (!stage) {
      this.publish(io, pipeline, null);
      this.hopTime.push(signalMs);
      return;
    }
    this.analysing = true;
    stage.analyse(pipeline.history).then((r) => {
      if (this.stage !== stage || !this.running) return;
      this.publish(io, pipeline, r?.frame ?? null);
      if (r) {
        this.analysisTime.push(r.computeMs);
        this.readbackTime.push(r.readbackMs);
        this.hopTime.push(signalMs + r.computeMs + r.readbackMs);
      }
    }, (err: unknown) => this.analysisFailed(err)).finally(() => {
      this.analysing = false;
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

  /** An analysis failed (e.g. the WebGPU device was lost): fall back to wasm and reload the model. */
  private analysisFailed(err: unknown): void {
    const failed = this.backend.name;
    const why = err instanceof Error ? err.message : String(err);
    this.notice = `Analysis failed on the ${failed} backend (${why}); switching to wasm and reloading the model.`;
    const url = this.modelUrl;
    const old = this.stage;
    this.stage = null;
    void (async () => {
      try {
        old?.dispose();
      } catch {
        // its tensors may be gone with the device
      }
      this.backend = await pickBackend(failed === 'wasm' ? 'cpu' : 'wasm', this.config!.pageUrl, async () => 0);
      this.backend.reason = `${this.backend.name}: fallback after ${failed} failed (${why})`;
      if (url) this.stage = await AnalysisStage.load(url, this.config!.pageUrl);
    })().catch((e: unknown) => {
      this.notice = `The model could not be reloaded after a backend failure: ${e instanceof Error ? e.message : String(e)}`;
    });
  }

  async loadModel(baseUrl: string, backend: BackendName): Promise<ModelInfo> {
    const pageUrl = this.requireConfig().pageUrl;
    if (!this.backendChosen) {
      // Load on wasm (fast and everywhere), then let the benchmark pick with the real model.
      this.backend = await pickBackend('wasm', pageUrl, async () => 0).catch(() => pickBackend('cpu', pageUrl, async () => 0));
    }
    const next = await AnalysisStage.load(baseUrl, pageUrl);
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
    this.modelUrl = baseUrl;
    old?.dispose();
    return next.info;
  }

  async setBackend(name: BackendName): Promise<string> {
    const pageUrl = this.requireConfig().pageUrl;
    const stage = this.stage;
    this.backend = await pickBackend(name, pageUrl, stage ? () => stage.benchOnce() : async () => 0);
    this.backendChosen = true;
    return this.backend.name;
  }

  select(sel: SelectionRequest): void {
    if (!this.stage) throw new Error('select: no model is loaded yet');
    this.stage.select(sel);
  }

  setSolo(on: boolean): void {
    this.solo.on = on;
  }

  setSoloMode(mode: SoloMode): void {
    if (mode !== 'solo' && mode !== 'mute') throw new RangeError(`setSoloMode: expected 'solo' or 'mute', got ${String(mode)}`);
    this.solo.mode = mode;
  }

  setRectify(on: boolean): void {
    this.solo.rectify = on;
  }

  setLatencyMode(mode: LatencyMode): void {
    if (mode !== 'exact' && mode !== 'low') throw new RangeError(`setLatencyMode: expected 'exact' or 'low', got ${String(mode)}`);
    this.solo.latencyMode = mode;
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
      model: this.stage?.info ?? null,
      selection: this.stage?.selectionRequest ?? null,
      solo: { ...this.solo },
      wetDelaySamples: this.pipeline?.processingLatencySamples ?? 0,
      soloLatencyMs: [],
      notice: this.notice,
      tensors: tf.memory().numTensors,
    };
  }

  dispose(): void {
    this.running = false;
    this.io?.dispose();
    this.pipeline?.dispose();
    this.stage?.dispose();
    this.stage = null;
    this.io = null;
    this.pipeline = null;
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
