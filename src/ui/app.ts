/**
 * The application: owns the audio graph, the engine client and the stage, keeps the status and
 * the on-screen log, and implements the scripting API (window.auralscope).
 */
import { FAULTS, METHOD_NAMES, type AuralscopeApi, type BackendBench, type BackendMaps, type BackendName, type Capabilities, type EngineConfig, type EngineStats, type Fault, type FrameSnapshot, type LatencyMode, type LogEntry, type ModelInfo, type SelectionRequest, type SoloMode, type SourceRequest, type Status } from '../shared/api';
import { BATCH_SAMPLES, FloatSlot, QUANTUM_FRAMES, Slot } from '../shared/layout';
import type { EngineFrame } from '../shared/frame';
import { AudioGraph } from './audio-graph';
import { EngineClient } from './engine-client';
import { Stage } from './stage';
import { encodeWav } from '../dsp/wav';
import { RecordChannel } from '../shared/messages';

/** Checks what the platform offers (STYLE.md §6). */
export async function checkCapabilities(): Promise<Capabilities> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  let webgpu = false;
  try {
    webgpu = !!gpu && !!(await gpu.requestAdapter());
  } catch {
    webgpu = false;
  }
  return {
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    sharedArrayBuffer: typeof SharedArrayBuffer !== 'undefined',
    audioWorklet: typeof AudioWorkletNode !== 'undefined',
    webgpu,
    setSinkId: typeof (HTMLMediaElement.prototype as HTMLMediaElement & { setSinkId?: unknown }).setSinkId === 'function',
  };
}

/** The engine's default configuration (DESIGN.md §5). */
export function defaultEngineConfig(contextSampleRateHz: number, isolated: boolean): EngineConfig {
  const analysisSampleRateHz = 11025;
  const hopSamples = 256;
  const hopGroupFrames = 2;
  // Wet pre-roll: what the STFT and resamplers hold back (about two hop groups) plus 120 ms for
  // compute and scheduling jitter on a busy machine.
  // Without isolation, input also waits for a whole transfer batch.
  const batchSeconds = isolated ? 0 : BATCH_SAMPLES / contextSampleRateHz;
  const prerollSeconds = (2 * hopGroupFrames * hopSamples) / analysisSampleRateHz + 0.12 + batchSeconds;
  return {
    contextSampleRateHz,
    analysisSampleRateHz,
    nFft: 512,
    hopSamples,
    hopGroupFrames,
    historyFrames: 173,
    wetStartQuanta: Math.ceil((prerollSeconds * contextSampleRateHz) / QUANTUM_FRAMES),
    pageUrl: globalThis.location?.href ?? '',
  };
}

const LOG_LIMIT = 50;
/** Input below this RMS for NO_SIGNAL_MS counts as no signal. */
const NO_SIGNAL_DB = -70;
const NO_SIGNAL_MS = 2000;

function toDb(x: number): number {
  return x > 0 ? 20 * Math.log10(x) : -Infinity;
}

/** DOM elements the app drives. */
export interface AppElements {
  stage: HTMLElement;
  message: HTMLElement;
  start: HTMLButtonElement;
  status: HTMLElement;
  meterFill: HTMLElement;
  meterText: HTMLElement;
}

export class App implements AuralscopeApi {
  private graph: AudioGraph | null = null;
  private engine: EngineClient | null = null;
  private stage: Stage | null = null;
  private config: EngineConfig | null = null;
  private caps: Capabilities | null = null;
  private readonly entries: LogEntry[] = [];
  private messageText = '';
  private latest: EngineFrame | null = null;
  private readyAtMs = -1;
  private baseline: { overruns: number; underruns: number } | null = null;
  private quietSinceMs = -1;
  private raf = 0;
  private statusTimer = 0;
  private engineStats: EngineStats | null = null;
  private dryDelaySamples = 0;
  private wetDelaySamples = 0;
  private lastNotice = '';
  private lastSource: SourceRequest = { kind: 'demo' };

  constructor(private readonly el: AppElements) {}

  /** Start-up: capability checks, audio graph, worker, renderer, default source. */
  async boot(initial: SourceRequest): Promise<void> {
    const caps = await checkCapabilities();
    this.caps = caps;
    const isolated = caps.crossOriginIsolated && caps.sharedArrayBuffer;
    if (!isolated) {
      this.warn('This page is not cross-origin isolated, so SharedArrayBuffer is unavailable: audio moves in batched transfers instead of shared rings (a little more latency). Serve it with COOP/COEP headers (npm start does).');
    }
    if (!caps.audioWorklet) {
      this.error('This browser has no AudioWorklet: Auralscope cannot process audio here. Use a current Chrome, Edge, Firefox or Safari.');
      return;
    }
    this.stage = new Stage(this.el.stage);
    this.stage.onLost = (what) => this.warn(`Graphics: ${what}; rebuilding the view.`);
    try {
      await this.stage.init();
    } catch (err) {
      this.error(`Graphics could not start (${String(err)}); audio still runs.`);
    }
    const graph = new AudioGraph({
      onSourceProblem: (text, offerDemo) => this.sourceProblem(text, offerDemo),
      onContextState: (state) => this.contextState(state),
    }, isolated);
    this.graph = graph;
    this.config = defaultEngineConfig(graph.context.sampleRate, isolated);
    await graph.start(this.config.wetStartQuanta);
    this.engine = new EngineClient(graph, this.config, {
      onReady: (info) => this.setWetDelay(info.processingLatencySamples),
      onRestart: (reason) => this.warn(`Recovering: ${reason}; restarting it.`),
    });
    await this.engine.start();
    // The model loads (and the backend benchmark runs) while the spectrogram already plays.
    void this.loadDefaultModel();
    this.info(`Audio at ${graph.context.sampleRate} Hz, analysis at ${this.config.analysisSampleRateHz} Hz, ${isolated ? 'shared-memory rings' : 'batched transfers'}.`);
    await this.setSource(initial).catch(() => undefined);
    this.contextState(graph.context.state);
    this.loop();
    this.statusTimer = window.setInterval(() => void this.tick(), 250);
  }

  // ---- log and messages -------------------------------------------------------------------

  private push(level: LogEntry['level'], text: string): void {
    this.entries.push({ timeMs: Math.round(performance.now()), level, text });
    if (this.entries.length > LOG_LIMIT) this.entries.shift();
  }

  private info(text: string): void {
    this.push('info', text);
  }

  private warn(text: string, action?: { label: string; run: () => void }): void {
    this.push('warn', text);
    this.show(text, 'warn', action);
  }

  private error(text: string, action?: { label: string; run: () => void }): void {
    this.push('error', text);
    this.show(text, 'error', action);
  }

  private show(text: string, kind: 'warn' | 'error', action?: { label: string; run: () => void }): void {
    this.messageText = text;
    const m = this.el.message;
    m.hidden = false;
    m.className = kind;
    m.textContent = text;
    if (action) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = action.label;
      b.addEventListener('click', action.run, { once: true });
      m.appendChild(b);
    }
    const dismiss = document.createElement('button');
    dismiss.type = 'button';
    dismiss.textContent = '×';
    dismiss.setAttribute('aria-label', 'Dismiss message');
    dismiss.addEventListener('click', () => this.clearMessage(), { once: true });
    m.appendChild(dismiss);
  }

  private clearMessage(): void {
    this.messageText = '';
    this.el.message.hidden = true;
    this.el.message.textContent = '';
  }

  /** Called after a source problem is shown (the booth switches to the demo piece). */
  onSourceProblem: ((text: string, offerDemo: boolean) => void) | null = null;

  private sourceProblem(text: string, offerDemo: boolean): void {
    this.warn(text, offerDemo ? { label: 'Use the demo piece', run: () => void this.setSource({ kind: 'demo' }) } : undefined);
    this.onSourceProblem?.(text, offerDemo);
  }

  private contextState(state: string): void {
    const start = this.el.start;
    if (state === 'running') {
      start.hidden = true;
      if (this.messageText.startsWith('Audio is paused')) this.clearMessage();
    } else if (state === 'suspended' || state === 'interrupted') {
      start.hidden = false;
      start.onclick = () => void this.resume();
      this.warn('Audio is paused by the browser (autoplay rules or the system). Press Start to continue.');
    } else if (state === 'closed') {
      this.error('The audio context was closed. Reload the page to start again.');
    }
  }

  /** Loads the default bundled model named by models/index.json (?model=<id> picks another). */
  private async loadDefaultModel(): Promise<void> {
    try {
      const res = await fetch('models/index.json');
      if (!res.ok) throw new Error(`models/index.json: HTTP ${res.status}`);
      const index = (await res.json()) as { default: string };
      const id = new URLSearchParams(location.search).get('model') ?? index.default;
      await this.loadModel(`models/${id}/`);
    } catch (err) {
      this.error(`No model could be loaded (${err instanceof Error ? err.message : String(err)}); the spectrogram and resynthesis still run.`);
    }
  }

  /** The dry path is delayed by the wet stream's pre-roll plus its positional delay: they line up. */
  private setWetDelay(samples: number): void {
    this.wetDelaySamples = samples;
    this.dryDelaySamples = this.config!.wetStartQuanta * QUANTUM_FRAMES + samples;
    this.graph?.setParams({ dryDelaySamples: this.dryDelaySamples });
  }

  // ---- the frame loop ---------------------------------------------------------------------

  private loop(): void {
    const frame = () => {
      this.raf = requestAnimationFrame(frame);
      const f = this.engine?.readFrame();
      if (f) {
        this.latest = f;
        this.stage?.draw(f);
      }
    };
    this.raf = requestAnimationFrame(frame);
  }

  private async tick(): Promise<void> {
    const graph = this.graph;
    const engine = this.engine;
    if (!graph || !engine) return;
    const running = graph.context.state === 'running';
    this.engineStats = await engine.poll(running);
    const es = this.engineStats;
    if (es && es.wetDelaySamples !== this.wetDelaySamples) {
      // With shared memory the worker schedules the dry delay change at the exact wet position
      // itself; here only the number is kept (and, in transfer mode, sent to the worklet).
      if (graph.shared) {
        this.wetDelaySamples = es.wetDelaySamples;
        this.dryDelaySamples = this.config!.wetStartQuanta * QUANTUM_FRAMES + es.wetDelaySamples;
        graph.syncDryDelay(this.dryDelaySamples);
      } else {
        this.setWetDelay(es.wetDelaySamples);
      }
    }
    if (es && es.notice && es.notice !== this.lastNotice) this.warn(es.notice);
    this.lastNotice = es?.notice ?? '';
    const ready = this.isReady();
    const now = performance.now();
    if (ready && this.readyAtMs < 0) this.readyAtMs = now;
    if (!ready) this.readyAtMs = -1;
    if (ready && !this.baseline && now - this.readyAtMs >= 1000) {
      const ints = graph.stats.ints;
      this.baseline = { overruns: ints[Slot.captureOverruns], underruns: ints[Slot.playbackUnderruns] };
    }
    this.updateMeter(now);
    this.renderStatus();
  }

  /** Audio runs, frames arrive, and the wet stream has caught up with its pre-roll. */
  private isReady(): boolean {
    const graph = this.graph;
    if (!graph || graph.context.state !== 'running' || !this.latest || (this.engineStats?.hopsAnalysed ?? 0) === 0) return false;
    const ints = graph.stats.ints;
    return ints[Slot.quanta] > ints[Slot.wetStartQuanta] && ints[Slot.wetSkipPending] === 0;
  }

  private updateMeter(now: number): void {
    const floats = this.graph!.stats.floats;
    const peakDb = toDb(floats[FloatSlot.inputPeak]);
    const rmsDb = toDb(floats[FloatSlot.inputRms]);
    const fill = Math.max(0, Math.min(1, (peakDb + 60) / 60));
    this.el.meterFill.style.width = `${(fill * 100).toFixed(1)}%`;
    if (rmsDb < NO_SIGNAL_DB) {
      if (this.quietSinceMs < 0) this.quietSinceMs = now;
    } else {
      this.quietSinceMs = -1;
    }
    const level = this.level();
    this.el.meterText.textContent = level.clipping ? 'CLIPPING' : level.noSignal ? 'no signal' : `${peakDb.toFixed(0)} dBFS`;
    this.el.meterText.style.color = level.clipping ? '#ff5c5c' : '';
  }

  private level(): Status['level'] {
    const floats = this.graph?.stats.floats;
    const peak = floats ? floats[FloatSlot.inputPeak] : 0;
    const rms = floats ? floats[FloatSlot.inputRms] : 0;
    return {
      inputPeakDb: toDb(peak),
      inputRmsDb: toDb(rms),
      clipping: peak >= 0.999,
      noSignal: this.quietSinceMs >= 0 && performance.now() - this.quietSinceMs > NO_SIGNAL_MS,
    };
  }

  private renderStatus(): void {
    const s = this.status();
    const item = (k: string, v: string, bad = false) => `<span>${k} <b${bad ? ' class="bad"' : ''}>${v}</b></span>`;
    this.el.status.innerHTML = [
      item('renderer', s.renderer),
      item('backend', s.backend),
      item('isolation', s.isolated ? 'yes' : 'no (transfers)', !s.isolated),
      item('rates', `${s.contextSampleRateHz} / ${s.analysisSampleRateHz} Hz`),
      item('ring', `${(s.ring.captureFill * 100).toFixed(1)}% in, ${(s.ring.outputFill * 100).toFixed(1)}% out`),
      item('overruns', String(s.counters.captureOverruns), s.counters.captureOverruns > 0),
      item('underruns', String(s.counters.playbackUnderruns), s.counters.playbackUnderruns > 0),
      item('hop', `${s.timing.hopMs.toFixed(2)} ms (p95 ${s.timing.hopP95Ms.toFixed(2)})`),
      item('mic→screen', `${s.latencyMs.micToScreen.toFixed(0)} ms`),
      item('dry delay', `${s.latencyMs.dryDelay.toFixed(0)} ms`),
    ].join('');
  }

  // ---- scripting API ----------------------------------------------------------------------

  status(): Status {
    const graph = this.graph;
    const cfg = this.config;
    const ints = graph?.stats.ints;
    const es = this.engineStats;
    const rate = graph?.context.sampleRate ?? 0;
    const b = this.baseline;
    const ringCap = 1 << 17;
    const hopMs = es?.hopMs ?? 0;
    // The engine rebuilds its path for a model with another front end (Choi's taggers: 12 kHz).
    const fe = es?.model ? { analysisSampleRateHz: es.model.sampleRateHz, nFft: es.model.nFft, hopSamples: es.model.hopSamples } : cfg;
    const windowMs = fe ? (fe.nFft / fe.analysisSampleRateHz) * 1000 : 0;
    const groupMs = fe && cfg ? ((cfg.hopGroupFrames * fe.hopSamples) / fe.analysisSampleRateHz) * 1000 : 0;
    return {
      ready: this.isReady(),
      isolated: !!graph?.shared,
      renderer: this.stage?.renderer ?? 'none',
      backend: es?.backend ?? 'none',
      backendReason: es?.backendReason ?? '',
      contextSampleRateHz: rate,
      analysisSampleRateHz: fe?.analysisSampleRateHz ?? 0,
      source: graph?.kind ?? 'none',
      message: this.messageText,
      capabilities: this.caps ?? { crossOriginIsolated: false, sharedArrayBuffer: false, audioWorklet: false, webgpu: false, setSinkId: false },
      counters: {
        captureOverruns: ints && b ? ints[Slot.captureOverruns] - b.overruns : 0,
        playbackUnderruns: ints && b ? ints[Slot.playbackUnderruns] - b.underruns : 0,
        hopsAnalysed: es?.hopsAnalysed ?? 0,
        droppedHops: es?.droppedHops ?? 0,
      },
      timing: { hopMs, hopP95Ms: es?.hopP95Ms ?? 0, stagesMs: es?.stagesMs ?? { signal: 0, analysis: 0, readback: 0 } },
      tensors: es?.tensors ?? 0,
      model: es?.model ?? null,
      selection: es?.selection ?? null,
      solo: es?.solo ?? { on: false, mode: 'solo', rectify: false, latencyMode: 'exact' },
      ring: {
        captureFill: (es?.captureAvailable ?? 0) / ringCap,
        outputFill: (es?.outputAvailable ?? 0) / ringCap,
      },
      level: this.level(),
      latencyMs: {
        micToScreen: windowMs + groupMs + hopMs + 1000 / 60,
        dryDelay: rate ? (this.dryDelaySamples / rate) * 1000 : 0,
        soloByLayer: es?.soloLatencyMs ?? [],
      },
    };
  }

  frame(): FrameSnapshot | null {
    const f = this.latest;
    if (!f) return null;
    const s = f.spectrogram;
    const data: number[][] = [];
    for (let t = 0; t < s.frames; t++) data.push(Array.from(s.data.subarray(t * s.bins, (t + 1) * s.bins)));
    const rows = (arr: Float32Array, n: number, len: number): number[][] => {
      const out: number[][] = [];
      for (let i = 0; i < n; i++) out.push(Array.from(arr.subarray(i * len, (i + 1) * len)));
      return out;
    };
    const a = f.analysis;
    const model = this.engineStats?.model ?? null;
    return {
      seq: f.seq,
      spectrogram: { bins: s.bins, frames: s.frames, hzPerBin: s.hzPerBin, data },
      layers: model ? model.layers.map((l) => ({ name: l.name, channels: l.channels, height: l.height, width: l.width })) : null,
      thumbnails: a ? { layer: a.layer, channels: a.channels, height: a.thumbHeight, width: a.thumbWidth, data: rows(a.thumbnails, a.channels, a.thumbHeight * a.thumbWidth) } : null,
      featureMap: a ? { layer: a.layer, feature: a.feature, height: a.mapHeight, width: a.mapWidth, data: rows(a.map, a.mapHeight, a.mapWidth) } : null,
      map: a ? { layer: a.layer, feature: a.feature, method: METHOD_NAMES[a.method], label: a.label, windowStartFrame: a.windowStartFrame, frames: a.windowFrames, bins: s.bins, data: rows(a.projection, a.windowFrames, s.bins) } : null,
      predictions: a && model ? Array.from(a.predictions, (p, i) => ({ label: model.labels[i] ?? String(i), p })) : null,
    };
  }

  async select(sel: SelectionRequest): Promise<void> {
    await this.requireEngine().select(sel);
  }

  async loadModel(baseUrl: string): Promise<ModelInfo> {
    try {
      const info = await this.requireEngine().loadModel(baseUrl);
      this.info(`Model: ${info.name} (${info.layers.length} layers, ${info.labels.length} labels)`);
      this.noteWindowDependence(info);
      return info;
    } catch (err) {
      this.error(`The model at ${baseUrl} was not loaded: ${err instanceof Error ? err.message : String(err)}. The previous model keeps running.`);
      throw err;
    }
  }

  async loadModelFiles(files: { name: string; bytes: ArrayBuffer }[]): Promise<ModelInfo> {
    const names = files.map((f) => f.name).join(', ');
    try {
      const info = await this.requireEngine().loadModelFiles(Object.fromEntries(files.map((f) => [f.name.split(/[\\/]/).pop() ?? f.name, f.bytes])));
      this.info(`Model: ${info.name} from picked files (${names})`);
      this.noteWindowDependence(info);
      return info;
    } catch (err) {
      this.error(`The picked model files (${names}) were not loaded: ${err instanceof Error ? err.message : String(err)}. The previous model keeps running.`);
      throw err;
    }
  }

  /** Says when a model's outputs depend on its whole window, so its pictures may shimmer. */
  private noteWindowDependence(info: ModelInfo): void {
    if (!info.windowDependent) return;
    const seconds = (info.windowFrames * info.hopSamples) / info.sampleRateHz;
    this.info(
      `${info.name} normalises each ${seconds.toFixed(1)}-s window as a whole (per-input normalisation or dB against the window's maximum), ` +
      'so its maps and the solo can change as the window slides: it is exempt from the no-shimmer rule, and its solo always uses the low-latency lookahead.',
    );
  }

  async setBackend(name: BackendName): Promise<void> {
    const used = await this.requireEngine().setBackend(name);
    this.info(`Backend: ${used}`);
  }

  async setSolo(on: boolean): Promise<void> {
    await this.requireEngine().setSolo(on);
  }

  async setSoloMode(mode: SoloMode): Promise<void> {
    await this.requireEngine().setSoloMode(mode);
  }

  async setRectify(on: boolean): Promise<void> {
    await this.requireEngine().setRectify(on);
  }

  async setLatencyMode(mode: LatencyMode): Promise<void> {
    await this.requireEngine().setLatencyMode(mode);
  }

  private requireEngine(): EngineClient {
    if (!this.engine) throw new Error('Auralscope is not started yet');
    return this.engine;
  }

  async setSource(req: SourceRequest): Promise<void> {
    if (!this.graph) throw new Error('Auralscope is not started yet');
    try {
      await this.graph.setSource(req);
      this.lastSource = req;
      this.clearMessage();
      this.info(`Source: ${this.graph.sourceName}`);
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      this.error(text, req.kind !== 'demo' ? { label: 'Use the demo piece', run: () => void this.setSource({ kind: 'demo' }) } : undefined);
      throw err;
    }
  }

  setMix(x: number): void {
    if (!(x >= 0 && x <= 1)) throw new RangeError(`setMix: expected a number in [0, 1], got ${x}`);
    this.graph?.setParams({ mix: x });
  }

  /** Highest master gain setVolume applies (booth mode: 0.7). */
  volumeCeiling = 1;

  setVolume(x: number): void {
    if (!(x >= 0 && x <= 1)) throw new RangeError(`setVolume: expected a number in [0, 1], got ${x}`);
    this.graph?.setParams({ masterGain: Math.min(x, this.volumeCeiling) });
  }

  setMonitor(on: boolean): void {
    this.graph?.setParams({ dryGain: on ? 1 : 0 });
  }

  async recordOutput(seconds: number, options: { stem?: boolean } = {}): Promise<Uint8Array> {
    if (!(seconds > 0 && seconds <= 600)) throw new RangeError(`recordOutput: expected seconds in (0, 600], got ${seconds}`);
    if (!this.graph) throw new Error('Auralscope is not started yet');
    const [samples] = await this.graph.record(seconds, [options.stem ? RecordChannel.wet : RecordChannel.mix]);
    return encodeWav([samples], this.graph.context.sampleRate, 'float32');
  }


  async resume(): Promise<void> {
    await this.graph?.context.resume();
  }

  log(): LogEntry[] {
    return [...this.entries];
  }

  readonly debug = {
    compareOn: (backend: string, sel: SelectionRequest, seed: number): Promise<BackendMaps> => this.requireEngine().compareOn(backend, sel, seed),
    benchOn: (backend: string, hops: number, maxMs?: number): Promise<BackendBench> => this.requireEngine().benchOn(backend, hops, maxMs),
    recordWithInput: async (seconds: number): Promise<Uint8Array> => {
      if (!(seconds > 0 && seconds <= 600)) throw new RangeError(`recordWithInput: expected seconds in (0, 600], got ${seconds}`);
      if (!this.graph) throw new Error('Auralscope is not started yet');
      const [mix, input] = await this.graph.record(seconds, [RecordChannel.mix, RecordChannel.input]);
      return encodeWav([mix, input], this.graph.context.sampleRate, 'float32');
    },
    inject: async (fault: Fault): Promise<void> => {
      this.push('warn', `debug: injecting '${fault}'`);
      switch (fault) {
        case 'track-ended':
          this.graph?.endSourceForReal();
          break;
        case 'worker-crash':
          await this.engine?.crash();
          break;
        case 'suspend':
          await this.graph?.context.suspend();
          break;
        case 'device-lost':
          this.stage?.loseDevice();
          break;
        case 'backend-lost':
          // Refused (rejects with the reason) unless the analysis runs on webgpu.
          this.push('warn', `debug: ${await this.requireEngine().loseBackend()}`);
          break;
        default: {
          const never: never = fault;
          throw new Error(`debug.inject: expected one of ${FAULTS.join(', ')}; got ${String(never)}`);
        }
      }
    },
  };

  /** The source set last (for the UI's pickers). */
  get currentSource(): SourceRequest {
    return this.lastSource;
  }

  /** Adds an info line to the on-screen log (the UI's controls report what they did). */
  note(text: string): void {
    this.info(text);
  }

  /** The views (for the UI's controls: colour map, freeze, feature tiles, frame interval). */
  get view(): Stage | null {
    return this.stage;
  }

  /** The audio graph (for the UI's file transport controls). */
  get audio(): AudioGraph | null {
    return this.graph;
  }

  async dispose(): Promise<void> {
    cancelAnimationFrame(this.raf);
    clearInterval(this.statusTimer);
    this.engine?.dispose();
    this.stage?.destroy();
    await this.graph?.dispose();
  }
}
