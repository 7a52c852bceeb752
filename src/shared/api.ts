/**
 * The typed contracts between threads (STYLE.md §4): the scripting API on `window.auralscope`
 * (main thread, used by tests and booth scripts; documented in the README) and the worker's
 * control API exposed with comlink. One module, imported by both sides.
 */

/** Where the sound comes from. */
export type SourceKind = 'mic' | 'file' | 'demo';

/** Argument of setSource. */
export interface SourceRequest {
  kind: SourceKind;
  /** Input device for 'mic' (from navigator.mediaDevices.enumerateDevices); default device when absent. */
  deviceId?: string;
  /** URL of an audio file for 'file' (a blob: URL for picked files). */
  url?: string;
  /** Name shown in messages (defaults to the URL's last segment). */
  name?: string;
}

/**
 * Faults that debug.inject makes happen for real. 'device-lost' loses the views' GPU device;
 * 'backend-lost' destroys the analysis worker's WebGPU device (refused unless tfjs runs on webgpu).
 */
export type Fault = 'track-ended' | 'worker-crash' | 'suspend' | 'device-lost' | 'backend-lost';

/** Every fault, for exhaustive iteration in tests and the UI. */
export const FAULTS: readonly Fault[] = ['track-ended', 'worker-crash', 'suspend', 'device-lost', 'backend-lost'];

/** Projection methods, in the order frames index them (AnalysisFrame.method). */
export const METHOD_NAMES = ['deconvnet', 'saliency', 'guided', 'gradcam'] as const;
/** A projection method. */
export type MethodName = (typeof METHOD_NAMES)[number];

/** The one current selection: the visuals and the solo share it (one projection per hop). */
export interface SelectionRequest {
  /** 0-based tap index (Layer 1 = 0). */
  layer: number;
  /** Feature (channel) of that layer. */
  feature: number;
  method: MethodName;
  /** Label index: saliency/guided project that label's score; gradcam explains it (default: the top label). */
  label?: number;
}

/** What the solo plays. */
export type SoloMode = 'solo' | 'mute';
/** Exact: only settled columns (full receptive-field lookahead); low: a smaller lookahead, edge effects accepted. */
export type LatencyMode = 'exact' | 'low';
/** tfjs backends, or 'auto' (a short start-up benchmark picks the fastest). */
export type BackendName = 'auto' | 'webgpu' | 'wasm' | 'webgl' | 'cpu';

/** One tap layer of the running model. */
export interface LayerInfo {
  name: string;
  displayName: string;
  channels: number;
  /** Cells along frequency and time for the minimum window. */
  height: number;
  width: number;
  /** Receptive field width in frames (RF_L) and total time stride in frames. */
  receptiveFieldFrames: number;
  timeStrideFrames: number;
  /** Feature labels from the atlas (label-features), when the model folder has them. */
  featureLabels: string[] | null;
}

/** The running model. */
export interface ModelInfo {
  id: string;
  name: string;
  labels: string[];
  layers: LayerInfo[];
  /** Minimum window W in frames and the time stride of the pooling grid. */
  windowFrames: number;
  strideFrames: number;
  sampleRateHz: number;
  nFft: number;
  hopSamples: number;
  /** True for models whose per-input normalisation depends on the whole window (no no-shimmer guarantee). */
  windowDependent: boolean;
  /**
   * True when the model takes exactly windowFrames frames (a Flatten head, e.g. Choi's taggers):
   * the live window is then the newest windowFrames frames, zero-padded at the start until that
   * many exist, instead of the pool-grid-anchored window.
   */
  fixedWindow: boolean;
}

/** One line of the on-screen log. */
export interface LogEntry {
  /** Milliseconds since the page loaded. */
  timeMs: number;
  level: 'info' | 'warn' | 'error';
  text: string;
}

/** What the platform offers, checked at start-up. */
export interface Capabilities {
  crossOriginIsolated: boolean;
  sharedArrayBuffer: boolean;
  audioWorklet: boolean;
  webgpu: boolean;
  setSinkId: boolean;
}

/** status() of the scripting API. */
export interface Status {
  /** True once audio flows through the worklet and the worker publishes frames. */
  ready: boolean;
  /** crossOriginIsolated: SharedArrayBuffer rings in use (else batched transfers). */
  isolated: boolean;
  /** pixi renderer in use: 'webgpu' | 'webgl' | 'none'. */
  renderer: string;
  /** tfjs backend in use, or 'none' while no model runs. */
  backend: string;
  /** Why that backend was chosen. */
  backendReason: string;
  contextSampleRateHz: number;
  analysisSampleRateHz: number;
  source: SourceKind | 'none';
  /** The newest user-facing message ('' when all is well). */
  message: string;
  capabilities: Capabilities;
  counters: {
    /** Render quanta whose input did not fit the capture ring (counted from 1 s after ready). */
    captureOverruns: number;
    /** Render quanta with missing resynthesised audio (counted from 1 s after ready). */
    playbackUnderruns: number;
    hopsAnalysed: number;
    droppedHops: number;
  };
  timing: {
    /** Median worker compute time per hop group over the last second, ms. */
    hopMs: number;
    /** 95th percentile of the same, ms. */
    hopP95Ms: number;
    /** Median per stage (signal path, model forward + projection, read-back), ms. */
    stagesMs: { signal: number; analysis: number; readback: number };
  };
  /** tfjs tensors alive in the worker (constant while streaming; the soak watches it). */
  tensors: number;
  /** The running model, or null while none is loaded. */
  model: ModelInfo | null;
  /** The current selection, or null while no model runs. */
  selection: SelectionRequest | null;
  solo: { on: boolean; mode: SoloMode; rectify: boolean; latencyMode: LatencyMode };
  /** Fill of the capture and output rings in [0, 1]. */
  ring: { captureFill: number; outputFill: number };
  /** Input level over the last meter period. */
  level: { inputPeakDb: number; inputRmsDb: number; clipping: boolean; noSignal: boolean };
  latencyMs: {
    /** Estimate: STFT window + hop group + compute + one display frame. */
    micToScreen: number;
    /** Delay applied to the dry signal so it lines up with the resynthesis. */
    dryDelay: number;
    /** Solo latency per tap layer (empty until a model with auralisation runs). */
    soloByLayer: number[];
  };
}

/** The newest frame in plain arrays (what tests read). */
export interface FrameSnapshot {
  seq: number;
  spectrogram: {
    bins: number;
    frames: number;
    hzPerBin: number;
    /** frames arrays of bins magnitudes in dB, newest frame last. */
    data: number[][];
  };
  /** Tap layers of the model (null while no model runs). */
  layers: { name: string; channels: number; height: number; width: number }[] | null;
  /** Every feature of the selected layer, downsampled: channels arrays of height x width values (row-major). */
  thumbnails: { layer: number; channels: number; height: number; width: number; data: number[][] } | null;
  /** The selected feature's activation map at full resolution (rows: frequency cells, low first). */
  featureMap: { layer: number; feature: number; height: number; width: number; data: number[][] } | null;
  /** The projection of the selection on the input grid: frames arrays of bins values, for the analysed window. */
  map: { layer: number; feature: number; method: MethodName; label: number; windowStartFrame: number; frames: number; bins: number; data: number[][] } | null;
  /** One probability per label. */
  predictions: { label: string; p: number }[] | null;
}

/** One backend's maps for the same seeded window. */
export interface BackendMaps {
  backend: string;
  projection: Float32Array;
  featureMap: Float32Array;
  predictions: Float32Array;
}

/** Per-run times of debug.benchOn on one backend, ms (one entry per timed analysis, after a warm-up). */
export interface BackendBench {
  /** The backend that ran (the forced one). */
  backend: string;
  /** Untimed first analysis (shader compilation on GPU backends), ms. */
  warmUpMs: number;
  /** Input scaling + forward + projection, until the kernels are queued (wasm/cpu: run), ms per run. */
  computeMs: number[];
  /** Reading the results back (GPU backends: waits for the queued kernels), ms per run. */
  readbackMs: number[];
  /** Whole analysis (compute + read-back), ms per run. */
  totalMs: number[];
}

/** The scripting API on window.auralscope. */
export interface AuralscopeApi {
  status(): Status;
  frame(): FrameSnapshot | null;
  setSource(req: SourceRequest): Promise<void>;
  /** x in [0, 1]: 0 = dry only, 1 = resynthesis only. */
  setMix(x: number): void;
  /** Master output gain in [0, 1]. */
  setVolume(x: number): void;
  /** Monitors the dry input (default: on for file and demo, off for a live microphone: feedback). */
  setMonitor(on: boolean): void;
  /**
   * Records `seconds` of the output mix (or, with `stem`, the soloed feature alone before mixing);
   * resolves with 32-bit float WAV bytes at the context rate.
   */
  recordOutput(seconds: number, options?: { stem?: boolean }): Promise<Uint8Array>;
  /** Starts audio after a user gesture (autoplay rules); no-op when already running. */
  resume(): Promise<void>;
  /** Sets the one current selection; rejects with a RangeError (and changes nothing) when out of range. */
  select(sel: SelectionRequest): Promise<void>;
  /** Loads a model folder by URL (model.json + manifest.json); on failure the previous model keeps running. */
  loadModel(baseUrl: string): Promise<ModelInfo>;
  /** Loads a model from files the user picked (model.json, manifest.json and the weight shards, matched by name). */
  loadModelFiles(files: { name: string; bytes: ArrayBuffer }[]): Promise<ModelInfo>;
  /** Forces a tfjs backend, or 'auto'. */
  setBackend(name: BackendName): Promise<void>;
  /** Solos the current selection (mixes its auralisation in place of the identity resynthesis). */
  setSolo(on: boolean): Promise<void>;
  setSoloMode(mode: SoloMode): Promise<void>;
  /** Rectified mask (clipped at 0) instead of Choi's signed mask. */
  setRectify(on: boolean): Promise<void>;
  setLatencyMode(mode: LatencyMode): Promise<void>;
  /** The on-screen log. */
  log(): LogEntry[];
  debug: {
    /** Runs the current model on one seeded window on `backend` and returns the selection's maps (the live backend is kept). */
    compareOn(backend: string, sel: SelectionRequest, seed: number): Promise<BackendMaps>;
    /** Times up to `hops` analyses (current selection) of one seeded window on `backend`, stopping after `maxMs`; the live backend is kept. */
    benchOn(backend: string, hops: number, maxMs?: number): Promise<BackendBench>;
    /** Records the output mix (left) and the raw mono input (right) on one clock: a stereo WAV, for latency measurements. */
    recordWithInput(seconds: number): Promise<Uint8Array>;
    /** Makes a fault happen for real so tests can prove the recovery. */
    inject(fault: Fault): Promise<void>;
  };
}

/** How the worker receives audio and publishes frames. */
export type EngineTransport =
  | {
    kind: 'shared';
    captureRing: SharedArrayBuffer;
    outputRing: SharedArrayBuffer;
    stats: SharedArrayBuffer;
    mailbox: SharedArrayBuffer;
  }
  | {
    kind: 'transfer';
    /** Port to the worklet: batches of captured samples in, batches of output samples out. */
    audioPort: MessagePort;
    /** Port to the main thread: packed frames (transferred Float32Arrays). */
    framePort: MessagePort;
  };

/** Configuration of the engine; each field: default and range. */
export interface EngineConfig {
  /** AudioContext rate, Hz (the device's own rate). */
  contextSampleRateHz: number;
  /** Analysis rate, Hz; default 11025 (from the model manifest once a model runs). */
  analysisSampleRateHz: number;
  /** FFT size in samples; default 512, power of two 64..8192. */
  nFft: number;
  /** STFT hop in samples; default 256, 1..nFft/2. */
  hopSamples: number;
  /** Frames per hop group (one analysis per group); default 2, 1..16. */
  hopGroupFrames: number;
  /** Frames kept in the rolling spectrogram published to the UI; default 173 (4 s), 16..2048. */
  historyFrames: number;
  /** Wet pre-roll in render quanta before the worklet reads the output ring; default enough for 2 hop groups + 120 ms. */
  wetStartQuanta: number;
  /** The page's URL: the worker resolves model and wasm URLs against it (its own location is under assets/). */
  pageUrl: string;
}

/** What the engine reports once it is set up. */
export interface EngineInfo {
  /** Delay from a sample entering the capture ring to its resynthesis leaving the output ring's writer, device samples. */
  processingLatencySamples: number;
  /** Resampler latencies in device samples (down and up, each referred to the device rate). */
  resamplerLatencySamples: { down: number; up: number };
}

/** Worker-side stats the main thread polls (cheap, once per UI tick). */
export interface EngineStats {
  hopMs: number;
  hopP95Ms: number;
  hopsAnalysed: number;
  droppedHops: number;
  /** Samples of the capture ring waiting to be read. */
  captureAvailable: number;
  /** Samples in the output ring waiting to be played. */
  outputAvailable: number;
  backend: string;
  backendReason: string;
  stagesMs: { signal: number; analysis: number; readback: number };
  model: ModelInfo | null;
  selection: SelectionRequest | null;
  solo: { on: boolean; mode: SoloMode; rectify: boolean; latencyMode: LatencyMode };
  /** Positional delay of the wet stream now (device samples): the dry delay must equal wetStart x 128 + this. */
  wetDelaySamples: number;
  /** Solo latency per tap layer in the current latency mode, ms (empty without a model). */
  soloLatencyMs: number[];
  /** The newest error the engine wants the user to see ('' when none), e.g. a backend fallback. */
  notice: string;
  /** tf.memory().numTensors in the worker (constant while streaming). */
  tensors: number;
  /** Solo frames synthesised with a held (older) mask because the analysis came back late. */
  lateMasks: number;
  /** The solo's level-matching gain now (linear). */
  levelGain: number;
}

/** The worker's control API (comlink). */
export interface EngineApi {
  /**
   * Sets up resamplers, STFT and the transport; starts draining. Call once. `analysisPort` reaches
   * the analysis worker (the CNN runs there, so it never delays the audio path).
   */
  init(config: EngineConfig, transport: EngineTransport, analysisPort: MessagePort): Promise<EngineInfo>;
  stats(): EngineStats;
  /** Loads and validates a model folder by URL; warms it up. The previous model runs until the new one is ready. */
  loadModel(baseUrl: string, backend: BackendName): Promise<ModelInfo>;
  /** The same from user-picked files (file name -> bytes). */
  loadModelFiles(files: Record<string, ArrayBuffer>, backend: BackendName): Promise<ModelInfo>;
  setBackend(name: BackendName): Promise<string>;
  /** Rejects with a RangeError, changing nothing, when out of range. */
  select(sel: SelectionRequest): Promise<void>;
  setSolo(on: boolean): void;
  setSoloMode(mode: SoloMode): void;
  setRectify(on: boolean): void;
  setLatencyMode(mode: LatencyMode): void;
  /** Stops draining and frees everything; the worker can then be terminated. */
  dispose(): void;
  /** Debug: throws from the worker's event loop, as a real crash would. */
  crash(): void;
  /** Debug: the selection's maps for one seeded window computed on `backend` (see AuralscopeApi.debug). */
  compareOn(backend: string, sel: SelectionRequest, seed: number): Promise<BackendMaps>;
  /** Debug: per-run analysis times on `backend` (see AuralscopeApi.debug). */
  benchOn(backend: string, hops: number, maxMs?: number): Promise<BackendBench>;
}
