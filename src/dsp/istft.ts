// Inverse STFT by weighted overlap-add with the analysis window:
// y[j] = sum_t w[j - t hop] frame_t[j - t hop] / sum_t w[j - t hop]^2. The denominator depends only on
// j mod hop away from the edges, so it is precomputed per hop phase.
import { RealFft } from './fft';
import { validateStftConfig, type StftConfig } from './stft';
import { hannPeriodic } from './window';

/** 1 / (sum over m of w[p + m hop]^2) for each hop phase p; throws where that sum is ~0 (hop too large). */
export function overlapAddInverseNorm(window: Float32Array, hopSamples: number): Float64Array {
  const n = window.length;
  let peak = 0;
  for (let i = 0; i < n; i++) peak = Math.max(peak, window[i] * window[i]);
  const inv = new Float64Array(hopSamples);
  for (let p = 0; p < hopSamples; p++) {
    let sum = 0;
    for (let i = p; i < n; i += hopSamples) sum += window[i] * window[i];
    if (!(sum > 1e-3 * peak)) {
      throw new Error(`expected a hop whose overlapped squared windows never vanish (hop <= nFft / 2), got hopSamples ${hopSamples} with nFft ${n}`);
    }
    inv[p] = 1 / sum;
  }
  return inv;
}

/**
 * Streaming ISTFT. Each pushFrame(frame t) finishes signal samples [t hop, (t + 1) hop), so the k-th
 * sample emitted since reset is input sample k of the StftAnalyzer that made the frames (exact once
 * k >= nFft - hop, where every overlapping frame exists). A loop that pushes hop samples into the analyzer
 * and plays the hop samples this returns (silence until the first frame) therefore plays the input delayed
 * by latencySamples = nFft - hop.
 */
export class IstftSynth {
  /** Delay in samples of analyzer -> synth in a hop-blocked loop: nFft - hopSamples. */
  readonly latencySamples: number;
  /** Bins per frame: nFft / 2 + 1. */
  readonly bins: number;
  private readonly nFft: number;
  private readonly hopSamples: number;
  private readonly window: Float32Array;
  private readonly invNorm: Float64Array;
  private readonly fft: RealFft;
  private readonly frame: Float32Array;
  private readonly acc: Float64Array; // overlap-add accumulator; acc[0] is the next sample to finish

  constructor(cfg: StftConfig) {
    validateStftConfig(cfg);
    this.nFft = cfg.nFft;
    this.hopSamples = cfg.hopSamples;
    this.bins = cfg.nFft / 2 + 1;
    this.latencySamples = cfg.nFft - cfg.hopSamples;
    this.window = hannPeriodic(cfg.nFft);
    this.invNorm = overlapAddInverseNorm(this.window, cfg.hopSamples);
    this.fft = new RealFft(cfg.nFft);
    this.frame = new Float32Array(cfg.nFft);
    this.acc = new Float64Array(cfg.nFft);
  }

  /** Adds one frame (re/im of length bins) and writes the hop finished samples to out. Allocates nothing. */
  pushFrame(re: Float32Array, im: Float32Array, out: Float32Array): void {
    const { nFft, hopSamples, window, frame, acc, invNorm } = this;
    if (out.length < hopSamples) throw new Error(`expected out to hold >= ${hopSamples} samples, got ${out.length}`);
    this.fft.inverse(re, im, frame);
    for (let i = 0; i < nFft; i++) acc[i] += window[i] * frame[i];
    for (let j = 0; j < hopSamples; j++) out[j] = acc[j] * invNorm[j];
    acc.copyWithin(0, hopSamples, nFft);
    acc.fill(0, nFft - hopSamples);
  }

  /** Clears the overlap-add state; the next frame is frame 0. */
  reset(): void {
    this.acc.fill(0);
  }
}

/** Offline ISTFT, the inverse of stft(): returns (frames - 1) hop + nFft samples, exact away from the first and last nFft - hop. */
export function istft(re: Float32Array[], im: Float32Array[], cfg: StftConfig): Float32Array {
  if (re.length !== im.length) throw new Error(`expected as many im frames as re frames (${re.length}), got ${im.length}`);
  const frames = re.length;
  if (frames === 0) return new Float32Array(0);
  const synth = new IstftSynth(cfg);
  const hop = cfg.hopSamples;
  const out = new Float32Array((frames - 1) * hop + cfg.nFft);
  for (let t = 0; t < frames; t++) synth.pushFrame(re[t], im[t], out.subarray(t * hop, (t + 1) * hop));
  // Flush the tail with silent frames so the last frame's remaining nFft - hop samples come out too.
  const zeros = new Float32Array(synth.bins);
  const tail = new Float32Array(hop);
  for (let start = frames * hop; start < out.length; start += hop) {
    synth.pushFrame(zeros, zeros, tail);
    out.set(tail.subarray(0, Math.min(hop, out.length - start)), start);
  }
  return out;
}
