/**
 * The live signal path inside the worker, without any threading: device-rate samples in ->
 * resample to the analysis rate -> STFT -> rolling spectrogram and complex STFT -> (synthesis of
 * the current mask; identity until a model runs) -> ISTFT -> resample back -> device-rate samples out.
 * Allocates per call (worker side, not the audio thread).
 */
import { StreamResampler } from '../dsp/resample';
import { StftAnalyzer } from '../dsp/stft';
import { IstftSynth } from '../dsp/istft';
import type { EngineConfig } from '../shared/api';
import { SoloSynth, type SynthSettings } from './synth';

/** Smallest magnitude shown in the spectrogram (dB floor of 20 log10 |X|). */
const DB_FLOOR = -120;

/** Rolling history of STFT frames: magnitudes in dB for the UI, complex values for synthesis. */
export class FrameHistory {
  /** frames x bins, dB, ring-indexed by absolute frame % capacity. */
  readonly db: Float32Array;
  /** frames x bins, linear magnitude. */
  readonly mag: Float32Array;
  readonly re: Float32Array;
  readonly im: Float32Array;
  /** Absolute index of the next frame to be written. */
  total = 0;
  constructor(readonly capacity: number, readonly bins: number) {
    this.db = new Float32Array(capacity * bins);
    this.mag = new Float32Array(capacity * bins);
    this.re = new Float32Array(capacity * bins);
    this.im = new Float32Array(capacity * bins);
  }
  push(re: Float32Array, im: Float32Array, mag: Float32Array): void {
    const off = (this.total % this.capacity) * this.bins;
    this.re.set(re, off);
    this.im.set(im, off);
    this.mag.set(mag, off);
    for (let k = 0; k < this.bins; k++) {
      const m = mag[k];
      this.db[off + k] = m > 0 ? Math.max(DB_FLOOR, 20 * Math.log10(m)) : DB_FLOOR;
    }
    this.total++;
  }
  /** Copies the complex frame at absolute index t into re/im (it must still be held). */
  frame(t: number, re: Float32Array, im: Float32Array): void {
    if (t < this.total - this.capacity || t >= this.total) throw new RangeError(`FrameHistory.frame: expected a frame in [${Math.max(0, this.total - this.capacity)}, ${this.total}), got ${t}`);
    const off = (t % this.capacity) * this.bins;
    re.set(this.re.subarray(off, off + this.bins));
    im.set(this.im.subarray(off, off + this.bins));
  }

  /** Copies absolute frames [start, start + frames) of `field` into out (frames x bins); they must still be held. */
  range(field: 'db' | 'mag' | 're' | 'im', start: number, frames: number, out: Float32Array): void {
    if (start < this.total - this.capacity || start + frames > this.total) {
      throw new RangeError(`FrameHistory.range: expected frames within [${Math.max(0, this.total - this.capacity)}, ${this.total}), got [${start}, ${start + frames})`);
    }
    const src = this[field];
    for (let j = 0; j < frames; j++) {
      const off = ((start + j) % this.capacity) * this.bins;
      out.set(src.subarray(off, off + this.bins), j * this.bins);
    }
  }

  /** Copies the newest `frames` frames of `field` (oldest first) into out (frames x bins). */
  newest(field: 'db' | 'mag', frames: number, out: Float32Array): void {
    const src = this[field];
    const n = Math.min(frames, this.total, this.capacity);
    out.fill(field === 'db' ? DB_FLOOR : 0);
    const pad = frames - n;
    for (let j = 0; j < n; j++) {
      const abs = this.total - n + j;
      const off = (abs % this.capacity) * this.bins;
      out.set(src.subarray(off, off + this.bins), (pad + j) * this.bins);
    }
  }
}

/** The signal path; create with LivePipeline.create. */
export class LivePipeline {
  readonly history: FrameHistory;
  /** Device samples from a sample entering process() to its resynthesis leaving it. */
  readonly processingLatencySamples: number;
  private readonly synthOut: Float32Array;
  /** Chooses each synthesised frame: identity or the soloed feature's mask x STFT. */
  readonly synth: SoloSynth;
  /** What the synthesis plays now. */
  settings: SynthSettings = { solo: false, mode: 'solo', rectify: false };
  private pendingAnalysis: Float32Array[] = [];

  private constructor(
    readonly config: EngineConfig,
    private readonly down: StreamResampler,
    private readonly up: StreamResampler,
    private readonly stft: StftAnalyzer,
    private readonly istft: IstftSynth,
    minHistoryFrames: number,
  ) {
    const ratio = config.contextSampleRateHz / config.analysisSampleRateHz;
    // Positional delay: the resamplers have zero group delay and the k-th sample IstftSynth emits
    // is input sample k, so output stream position p carries input position p - latency. What they
    // hold back (about nFft + hop analysis samples) only makes output arrive later, which the
    // worklet's wet pre-roll absorbs.
    this.processingLatencySamples = Math.round(down.latencySamples * ratio + up.latencySamples);
    // Enough history for the spectrogram view and for the deepest layer's lookahead plus its window.
    this.history = new FrameHistory(Math.max(Math.max(config.historyFrames, 64) * 4, minHistoryFrames), stft.bins);
    this.synthOut = new Float32Array(config.hopSamples);
    this.synth = new SoloSynth(stft.bins, this.history.capacity, config.hopSamples / config.analysisSampleRateHz);
  }

  /** minHistoryFrames: the analysed window plus its lookahead and slack (long windows need more than the view's 4x). */
  static async create(config: EngineConfig, minHistoryFrames = 0): Promise<LivePipeline> {
    const down = await StreamResampler.create(config.contextSampleRateHz, config.analysisSampleRateHz);
    const up = await StreamResampler.create(config.analysisSampleRateHz, config.contextSampleRateHz);
    const cfg = { nFft: config.nFft, hopSamples: config.hopSamples };
    return new LivePipeline(config, down, up, new StftAnalyzer(cfg), new IstftSynth(cfg), minHistoryFrames);
  }

  /** Device samples of output that the up-resampler and ISTFT still hold (not yet written), approximately. */
  get heldOutputSamples(): number {
    const ratio = this.config.contextSampleRateHz / this.config.analysisSampleRateHz;
    return Math.round((this.config.nFft - this.config.hopSamples) * ratio + 626 * (this.config.contextSampleRateHz / 48_000));
  }

  /** Resampler latencies referred to the device rate. */
  get resamplerLatencySamples(): { down: number; up: number } {
    const ratio = this.config.contextSampleRateHz / this.config.analysisSampleRateHz;
    return { down: this.down.latencySamples * ratio, up: this.up.latencySamples };
  }

  /**
   * Feeds device-rate input; returns device-rate output (the resynthesis) and how many new STFT
   * frames were added to the history.
   */
  process(input: Float32Array): { output: Float32Array; newFrames: number } {
    const analysisRate = this.down.process(input);
    const pieces = this.pendingAnalysis;
    pieces.length = 0;
    let newFrames = 0;
    this.stft.push(analysisRate, (re, im, mag) => {
      this.history.push(re, im, mag);
      newFrames++;
      // One output frame per input frame keeps the wet stream locked to the input.
      const y = this.synth.next(this.history, this.settings);
      this.istft.pushFrame(y.re, y.im, this.synthOut);
      pieces.push(this.synthOut.slice());
    });
    let total = 0;
    for (const p of pieces) total += p.length;
    const joined = new Float32Array(total);
    let o = 0;
    for (const p of pieces) {
      joined.set(p, o);
      o += p.length;
    }
    return { output: this.up.process(joined), newFrames };
  }

  dispose(): void {
    this.down.dispose();
    this.up.dispose();
  }
}
