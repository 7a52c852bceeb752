/**
 * Owns the analysis worker: creates it, wires its transport, reads its frames, and restarts it
 * when it dies (an error event, or no published hop for WATCHDOG_MS while audio runs).
 */
import { wrap, releaseProxy, transfer, type Remote } from 'comlink';
import EngineWorker from '../worker/engine.worker.ts?worker';
import AnalysisWorker from '../worker/analysis.worker.ts?worker';
import type { BackendBench, BackendMaps, BackendName, EngineApi, EngineConfig, EngineInfo, EngineStats, LatencyMode, ModelInfo, SelectionRequest, SoloMode } from '../shared/api';
import { createMailbox, MailboxReader, unpackFrame, type EngineFrame } from '../shared/frame';
import { Slot } from '../shared/layout';
import type { AudioGraph } from './audio-graph';
import type { Engine } from '../worker/engine';

/** The engine worker's API plus its debug fault hook (kept out of the shared contract). */
type EngineWorkerApi = EngineApi & Pick<Engine, 'loseBackend'>;

/** Mailbox capacity in float32 values: a 2048 x 257 spectrogram plus analysis sections. */
const MAILBOX_CAPACITY = 1 << 21;
/** A worker that publishes nothing for this long while audio runs is restarted. */
const WATCHDOG_MS = 3000;

export interface EngineEvents {
  onRestart(reason: string): void;
  onReady(info: EngineInfo): void;
}

/** What a restarted worker must be given again. */
interface Replay {
  modelUrl: string | null;
  /** Picked model files (copied on every send: structured clone, not transfer). */
  modelFiles: Record<string, ArrayBuffer> | null;
  backend: BackendName;
  selection: SelectionRequest | null;
  solo: boolean;
  soloMode: SoloMode;
  rectify: boolean;
  latencyMode: LatencyMode;
}

export class EngineClient {
  private readonly replay: Replay = { modelUrl: null, modelFiles: null, backend: 'auto', selection: null, solo: false, soloMode: 'solo', rectify: false, latencyMode: 'exact' };
  private worker: Worker | null = null;
  private analysisWorker: Worker | null = null;
  private api: Remote<EngineWorkerApi> | null = null;
  private mailbox: SharedArrayBuffer | null = null;
  private reader: MailboxReader | null = null;
  private latestTransferred: Float32Array | null = null;
  private transferSeq = 0;
  private lastStats: EngineStats | null = null;
  private lastHopCount = -1;
  private lastHopChangeMs = 0;
  private restarting = false;
  /** Calls in flight that may block the worker (the watchdog waits for them). */
  private busy = 0;
  private disposed = false;
  info: EngineInfo | null = null;
  generation = 0;

  constructor(private readonly graph: AudioGraph, private readonly config: EngineConfig, private readonly events: EngineEvents) {
    if (graph.shared) {
      this.mailbox = createMailbox(MAILBOX_CAPACITY);
      this.reader = new MailboxReader(this.mailbox);
    }
  }

  /** Starts (or restarts) the worker and waits for its init. */
  async start(): Promise<EngineInfo> {
    this.stopWorker();
    const worker = new EngineWorker();
    this.worker = worker;
    this.generation++;
    worker.addEventListener('error', (e) => {
      e.preventDefault();
      void this.restart(`the analysis worker crashed (${e.message || 'error'})`);
    });
    // The CNN runs in a second worker that the signal worker talks to directly, so the model's
    // compute never delays the audio path.
    const analysisWorker = new AnalysisWorker();
    this.analysisWorker = analysisWorker;
    analysisWorker.addEventListener('error', (e) => {
      e.preventDefault();
      void this.restart(`the model worker crashed (${e.message || 'error'})`);
    });
    const link = new MessageChannel();
    analysisWorker.postMessage({ type: 'connect', port: link.port2 }, [link.port2]);
    const api = wrap<EngineWorkerApi>(worker);
    this.api = api;
    let info: EngineInfo;
    if (this.graph.shared && this.mailbox) {
      info = await api.init(this.config, { kind: 'shared', ...this.graph.shared, mailbox: this.mailbox }, transfer(link.port1, [link.port1]));
    } else {
      const audio = new MessageChannel();
      const frames = new MessageChannel();
      frames.port1.onmessage = (e: MessageEvent<Float32Array>) => {
        this.latestTransferred = e.data;
        this.transferSeq++;
      };
      this.graph.connectAudioPort(audio.port1);
      info = await api.init(this.config, { kind: 'transfer', audioPort: audio.port2, framePort: frames.port2 }, transfer(link.port1, [audio.port2, frames.port2, link.port1]));
    }
    this.info = info;
    this.lastHopChangeMs = performance.now();
    this.events.onReady(info);
    await this.applyReplay(api);
    return info;
  }

  /** Gives a (re)started worker the model, backend, selection and solo settings it had. */
  private async applyReplay(api: Remote<EngineApi>): Promise<void> {
    const r = this.replay;
    if (r.modelUrl || r.modelFiles) {
      const url = r.modelUrl, files = r.modelFiles;
      await this.whileBusy(() => (url ? api.loadModel(url, r.backend) : api.loadModelFiles(files!, r.backend)));
      if (r.selection) await api.select(r.selection);
    }
    await api.setSoloMode(r.soloMode);
    await api.setRectify(r.rectify);
    await api.setLatencyMode(r.latencyMode);
    await api.setSolo(r.solo);
  }

  private get remote(): Remote<EngineWorkerApi> {
    if (!this.api) throw new Error('the analysis worker is not running (it is restarting); try again in a moment');
    return this.api;
  }

  /** Runs a call that may keep the worker busy for seconds (model load, backend benchmark): no watchdog meanwhile. */
  private async whileBusy<T>(call: () => Promise<T>): Promise<T> {
    this.busy++;
    try {
      return await call();
    } finally {
      this.busy--;
      this.lastHopChangeMs = performance.now();
    }
  }

  /** Loads a model from picked files; remembered (a copy) for restarts once it loaded. */
  async loadModelFiles(files: Record<string, ArrayBuffer>): Promise<ModelInfo> {
    const info = await this.whileBusy(() => this.remote.loadModelFiles(files, this.replay.backend));
    this.replay.modelUrl = null;
    this.replay.modelFiles = files;
    this.replay.selection = null;
    return info;
  }

  /** Loads a model folder; remembered for restarts only once it loaded. */
  async loadModel(baseUrl: string): Promise<ModelInfo> {
    const info = await this.whileBusy(() => this.remote.loadModel(baseUrl, this.replay.backend));
    this.replay.modelUrl = baseUrl;
    this.replay.modelFiles = null;
    this.replay.selection = null;
    return info;
  }

  async setBackend(name: BackendName): Promise<string> {
    const used = await this.whileBusy(() => this.remote.setBackend(name));
    this.replay.backend = name;
    return used;
  }

  async select(sel: SelectionRequest): Promise<void> {
    await this.remote.select(sel);
    this.replay.selection = { ...sel };
  }

  async setSolo(on: boolean): Promise<void> {
    await this.remote.setSolo(on);
    this.replay.solo = on;
  }

  async setSoloMode(mode: SoloMode): Promise<void> {
    await this.remote.setSoloMode(mode);
    this.replay.soloMode = mode;
  }

  async setRectify(on: boolean): Promise<void> {
    await this.remote.setRectify(on);
    this.replay.rectify = on;
  }

  async setLatencyMode(mode: LatencyMode): Promise<void> {
    await this.remote.setLatencyMode(mode);
    this.replay.latencyMode = mode;
  }

  private stopWorker(): void {
    if (this.api) this.api[releaseProxy]();
    this.worker?.terminate();
    this.worker = null;
    this.analysisWorker?.terminate();
    this.analysisWorker = null;
    this.api = null;
  }

  /** Replaces a dead or stuck worker. */
  async restart(reason: string): Promise<void> {
    if (this.restarting || this.disposed) return;
    this.restarting = true;
    this.events.onRestart(reason);
    try {
      await this.start();
    } finally {
      this.restarting = false;
    }
  }

  /** The newest frame since the last call, or null (read once per animation frame). */
  readFrame(): EngineFrame | null {
    if (this.reader) return this.reader.read();
    const p = this.latestTransferred;
    if (!p) return null;
    this.latestTransferred = null;
    return unpackFrame(p, this.transferSeq);
  }

  /** Polls the worker's stats and runs the watchdog; call a few times per second. */
  async poll(audioRunning: boolean): Promise<EngineStats | null> {
    const api = this.api;
    if (!api || this.restarting) return this.lastStats;
    const hops = this.graph.shared ? Atomics.load(this.graph.stats.ints, Slot.hopsAnalysed) : (this.lastStats?.hopsAnalysed ?? 0) + this.transferSeq;
    const now = performance.now();
    if (hops !== this.lastHopCount) {
      this.lastHopCount = hops;
      this.lastHopChangeMs = now;
    } else if (audioRunning && this.busy === 0 && now - this.lastHopChangeMs > WATCHDOG_MS) {
      void this.restart('the analysis worker stopped responding');
      return this.lastStats;
    }
    try {
      this.lastStats = await Promise.race([
        api.stats(),
        new Promise<null>((res) => setTimeout(() => res(null), 1000)),
      ]) ?? this.lastStats;
    } catch {
      // The worker is gone; the error event or the watchdog restarts it.
    }
    return this.lastStats;
  }

  /** Debug: one seeded window on another backend. */
  compareOn(backend: string, sel: SelectionRequest, seed: number): Promise<BackendMaps> {
    return this.whileBusy(() => this.remote.compareOn(backend, sel, seed));
  }

  /** Debug: per-run analysis times on another backend. */
  benchOn(backend: string, hops: number, maxMs?: number): Promise<BackendBench> {
    return this.whileBusy(() => this.remote.benchOn(backend, hops, maxMs));
  }

  /** Debug: destroys the analysis backend's WebGPU device (rejects, saying why, on other backends). */
  loseBackend(): Promise<string> {
    return this.remote.loseBackend();
  }

  /** Debug: asks the worker to crash for real. */
  async crash(): Promise<void> {
    await this.api?.crash();
  }

  dispose(): void {
    this.disposed = true;
    void this.api?.dispose();
    this.stopWorker();
  }
}
