// Short-time Fourier transform: frame t covers samples [t * hop, t * hop + nFft), no centre padding,
// periodic Hann analysis window, unnormalised magnitude |rfft(w * x)|.
import { RealFft } from './fft';
import { hannPeriodic } from './window';

/** STFT framing shared by analysis and synthesis. */
export interface StftConfig {
  /** FFT length in samples; a power of two >= 4 (e.g. 512). */
  nFft: number;
  /** Hop between frames in samples; 1..nFft (resynthesis needs hop <= nFft / 2). */
  hopSamples: number;
}

/** Throws "expected X, got Y" unless cfg is a valid STFT framing. */
export function validateStftConfig(cfg: StftConfig): void {
  const { nFft, hopSamples } = cfg;
  if (!Number.isInteger(nFft) || nFft < 4 || (nFft & (nFft - 1)) !== 0) {
    throw new Error(`expected nFft to be a power of two >= 4, got ${nFft}`);
  }
  if (!Number.isInteger(hopSamples) || hopSamples < 1 || hopSamples > nFft) {
    throw new Error(`expected hopSamples to be an integer in 1..${nFft}, got ${hopSamples}`);
  }
}

/** Number of complete frames in a signal of lengthSamples samples. */
export function stftFrameCount(lengthSamples: number, cfg: StftConfig): number {
  return lengthSamples < cfg.nFft ? 0 : Math.floor((lengthSamples - cfg.nFft) / cfg.hopSamples) + 1;
}

/** Called once per frame; re, im, mag (length bins) are reused buffers: copy them to keep them. */
export type StftFrameCallback = (re: Float32Array, im: Float32Array, mag: Float32Array) => void;

/** Streaming STFT: push samples in chunks of any size and receive every complete frame, in order. */
export class StftAnalyzer {
  /** Bins per frame: nFft / 2 + 1. */
  readonly bins: number;
  private readonly nFft: number;
  private readonly hopSamples: number;
  private readonly window: Float32Array;
  private readonly fft: RealFft;
  private readonly pending: Float32Array; // the next frame's samples, filled up to `filled`
  private filled = 0;
  private readonly windowed: Float32Array;
  private readonly re: Float32Array;
  private readonly im: Float32Array;
  private readonly mag: Float32Array;

  constructor(cfg: StftConfig) {
    validateStftConfig(cfg);
    this.nFft = cfg.nFft;
    this.hopSamples = cfg.hopSamples;
    this.bins = cfg.nFft / 2 + 1;
    this.window = hannPeriodic(cfg.nFft);
    this.fft = new RealFft(cfg.nFft);
    this.pending = new Float32Array(cfg.nFft);
    this.windowed = new Float32Array(cfg.nFft);
    this.re = new Float32Array(this.bins);
    this.im = new Float32Array(this.bins);
    this.mag = new Float32Array(this.bins);
  }

  /** Appends samples; calls onFrame synchronously for each frame completed (buffers reused: copy them). Allocates nothing. */
  push(samples: Float32Array, onFrame: StftFrameCallback): void {
    const n = this.nFft;
    let i = 0;
    while (i < samples.length) {
      const take = Math.min(n - this.filled, samples.length - i);
      this.pending.set(samples.subarray(i, i + take), this.filled);
      this.filled += take;
      i += take;
      if (this.filled === n) {
        this.emit(onFrame);
        // Keep the overlap (nFft - hop samples) for the next frame.
        this.pending.copyWithin(0, this.hopSamples, n);
        this.filled = n - this.hopSamples;
      }
    }
  }

  /** Forgets buffered samples; the next pushed sample is sample 0 of frame 0. */
  reset(): void {
    this.filled = 0;
    this.pending.fill(0);
  }

  private emit(onFrame: StftFrameCallback): void {
    const { pending, windowed, window, re, im, mag } = this;
    for (let i = 0; i < this.nFft; i++) windowed[i] = pending[i] * window[i];
    this.fft.forward(windowed, re, im);
    for (let k = 0; k < this.bins; k++) mag[k] = Math.sqrt(re[k] * re[k] + im[k] * im[k]);
    onFrame(re, im, mag);
  }
}

/** Offline STFT of a whole signal (allocates one array per frame and field). */
export function stft(signal: Float32Array, cfg: StftConfig): { re: Float32Array[]; im: Float32Array[]; mag: Float32Array[] } {
  const analyzer = new StftAnalyzer(cfg);
  const re: Float32Array[] = [];
  const im: Float32Array[] = [];
  const mag: Float32Array[] = [];
  analyzer.push(signal, (r, i, m) => {
    re.push(Float32Array.from(r));
    im.push(Float32Array.from(i));
    mag.push(Float32Array.from(m));
  });
  return { re, im, mag };
}
