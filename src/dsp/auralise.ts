// Auralisation (DESIGN.md §4): a feature's mask times the original complex STFT, then the inverse
// STFT by overlap-add with the analysis window. Pure (no tfjs, no DOM): the CLI, the atlas and the
// live worker share it.
import { istft } from './istft';
import { stft, validateStftConfig, type StftConfig } from './stft';

/** How a mask is applied to the complex spectrum. */
export interface MaskOptions {
  /**
   * 'solo': Y = X m, the feature alone (|X| m with the original phase; a negative m flips the phase,
   * as in Choi's code). 'mute': Y = X (1 - r), everything but the feature, with r the rectified mask
   * divided by maskScale and clipped to [0, 1].
   */
  mode: 'solo' | 'mute';
  /** Solo only: use max(m, 0) instead of the signed mask (mute always rectifies). */
  rectify: boolean;
  /**
   * Mute only: the mask value that counts as "all of the feature", normally the largest rectified mask
   * value over the analysed window (maskScaleOf); must be > 0 for mute (0 mutes nothing).
   */
  maskScale: number;
}

/** Largest rectified value of a mask (any layout): the maskScale of MaskOptions; 0 for an all-negative mask. */
export function maskScaleOf(mask: Float32Array): number {
  let top = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] > top) top = mask[i];
  return top;
}

/**
 * Applies a mask to one STFT frame: out = X g per bin, with g = m (solo), max(m, 0) (solo, rectify) or
 * 1 - clip(max(m, 0) / maskScale, 0, 1) (mute). re/im/mask/outRe/outIm have `bins` values; out may alias
 * in. Allocates nothing.
 */
export function applyMask(re: Float32Array, im: Float32Array, mask: Float32Array, options: MaskOptions, outRe: Float32Array, outIm: Float32Array): void {
  const n = re.length;
  if (im.length !== n || mask.length !== n || outRe.length !== n || outIm.length !== n) {
    throw new Error(`applyMask: expected re, im, mask, outRe, outIm of ${n} bins, got ${im.length}, ${mask.length}, ${outRe.length}, ${outIm.length}`);
  }
  if (options.mode === 'solo') {
    for (let k = 0; k < n; k++) {
      const g = options.rectify ? Math.max(mask[k], 0) : mask[k];
      outRe[k] = re[k] * g;
      outIm[k] = im[k] * g;
    }
    return;
  }
  const inv = options.maskScale > 0 ? 1 / options.maskScale : 0;
  for (let k = 0; k < n; k++) {
    const g = 1 - Math.min(1, Math.max(0, mask[k] * inv));
    outRe[k] = re[k] * g;
    outIm[k] = im[k] * g;
  }
}

/**
 * Offline auralisation of a whole signal: STFT (stft()), applyMask on every frame with maskFrames
 * (frames x bins, frame-major, frames = stftFrameCount(signal)), inverse STFT (istft()). Returns
 * signal.length samples (samples after the last whole frame are silent). For mute, a maskScale of 0 in
 * options is replaced by maskScaleOf(maskFrames).
 */
export function auraliseOffline(signal: Float32Array, maskFrames: Float32Array, cfg: StftConfig, options: MaskOptions): Float32Array {
  validateStftConfig(cfg);
  const spec = stft(signal, cfg);
  const frames = spec.re.length;
  const bins = cfg.nFft / 2 + 1;
  if (maskFrames.length !== frames * bins) {
    throw new Error(`auraliseOffline: expected a mask of ${frames} frames x ${bins} bins = ${frames * bins} values, got ${maskFrames.length}`);
  }
  const opts = options.mode === 'mute' && !(options.maskScale > 0) ? { ...options, maskScale: maskScaleOf(maskFrames) } : options;
  for (let t = 0; t < frames; t++) {
    applyMask(spec.re[t], spec.im[t], maskFrames.subarray(t * bins, (t + 1) * bins), opts, spec.re[t], spec.im[t]);
  }
  const y = istft(spec.re, spec.im, cfg);
  const out = new Float32Array(signal.length);
  out.set(y.subarray(0, Math.min(y.length, out.length)));
  return out;
}

/**
 * auraliseOffline for a signal whose STFT (stft()) is already at hand: re/im are not modified.
 * Returns lengthSamples samples. Allocates two frames of scratch and the result.
 */
export function auraliseSpectrum(re: Float32Array[], im: Float32Array[], maskFrames: Float32Array, cfg: StftConfig, options: MaskOptions, lengthSamples: number): Float32Array {
  const frames = re.length;
  const bins = cfg.nFft / 2 + 1;
  if (maskFrames.length !== frames * bins) {
    throw new Error(`auraliseSpectrum: expected a mask of ${frames} frames x ${bins} bins = ${frames * bins} values, got ${maskFrames.length}`);
  }
  const opts = options.mode === 'mute' && !(options.maskScale > 0) ? { ...options, maskScale: maskScaleOf(maskFrames) } : options;
  const outRe: Float32Array[] = [];
  const outIm: Float32Array[] = [];
  for (let t = 0; t < frames; t++) {
    const r = new Float32Array(bins);
    const i = new Float32Array(bins);
    applyMask(re[t], im[t], maskFrames.subarray(t * bins, (t + 1) * bins), opts, r, i);
    outRe.push(r);
    outIm.push(i);
  }
  const y = istft(outRe, outIm, cfg);
  const out = new Float32Array(lengthSamples);
  out.set(y.subarray(0, Math.min(y.length, lengthSamples)));
  return out;
}

/** Options of matchLevel. */
export interface LevelOptions {
  /** RMS of the reference (the dry input) the output is matched to. */
  targetRms: number;
  /** Largest gain applied in dB (default 24 dB): a near-silent feature is not blown up into noise. */
  maxGainDb?: number;
  /** Peak ceiling in dBFS (default -1 dBFS): the result never exceeds it. */
  peakCeilingDb?: number;
}

/**
 * Scales y in place to the target RMS, with the gain capped at maxGainDb, then lowers it as a whole
 * if its peak would pass the ceiling (a static limiter: no pumping, so offline files stay faithful).
 * Returns the gain applied (linear). Silence stays silence; NaN/Inf samples become 0.
 */
export function matchLevel(y: Float32Array, options: LevelOptions): number {
  let sum = 0;
  let peak = 0;
  for (let i = 0; i < y.length; i++) {
    if (!Number.isFinite(y[i])) y[i] = 0;
    sum += y[i] * y[i];
    peak = Math.max(peak, Math.abs(y[i]));
  }
  const rms = y.length ? Math.sqrt(sum / y.length) : 0;
  if (rms === 0 || !(options.targetRms > 0)) return 1;
  const maxGain = 10 ** ((options.maxGainDb ?? 24) / 20);
  const ceiling = 10 ** ((options.peakCeilingDb ?? -1) / 20);
  const gain = Math.min(options.targetRms / rms, maxGain, ceiling / peak);
  for (let i = 0; i < y.length; i++) y[i] *= gain;
  return gain;
}
