/**
 * The model's front end between the engine's STFT magnitudes and the network's input grid (no
 * DOM): linear-STFT models take the scaled magnitudes as they are; mel models sum them through a
 * mel filterbank first, and their projections are mapped back onto STFT bins for the solo synth
 * and the spectrogram view. Also the offline framing of a whole clip (FrontEnd.padding).
 */
import { melFilterbank } from '../dsp/mel';
import type { FrontEnd } from '../shared/manifest';
import { scaleEnergies, scaleMagnitudes } from './input';

/** STFT bins per frame the engine computes for a front end: nFft / 2 + 1. */
export function stftBins(fe: FrontEnd): number {
  return fe.nFft / 2 + 1;
}

/** Rows of the network's input: STFT bins, or mel bands. */
export function inputBins(fe: FrontEnd): number {
  return fe.frequency.kind === 'mel' ? fe.frequency.bands : stftBins(fe);
}

/** A mel filterbank with the bin range each band and each bin covers, for sparse products. */
export interface MelBank {
  bands: number;
  /** STFT bins, nFft / 2 + 1. */
  bins: number;
  /** Row-major bands x bins weights (melFilterbank's layout). */
  weights: Float32Array;
  /** Band m is non-zero only on bins [first[m], end[m]). */
  first: Int32Array;
  end: Int32Array;
  /** Per bin: sum over bands of the weights (0 above fMax and below fMin). */
  columnSums: Float64Array;
}

const banks = new Map<string, MelBank>();

/** The front end's mel filterbank (cached per parameter set), or null for STFT front ends. */
export function melBank(fe: FrontEnd): MelBank | null {
  const f = fe.frequency;
  if (f.kind !== 'mel') return null;
  const key = JSON.stringify([fe.sampleRateHz, fe.nFft, f.bands, f.fMinHz, f.fMaxHz, f.htk, f.norm]);
  const hit = banks.get(key);
  if (hit) return hit;
  const bins = stftBins(fe);
  const weights = melFilterbank(fe.sampleRateHz, fe.nFft, f.bands, f.fMinHz, f.fMaxHz, f.htk, f.norm);
  const first = new Int32Array(f.bands), end = new Int32Array(f.bands);
  const columnSums = new Float64Array(bins);
  for (let m = 0; m < f.bands; m++) {
    let lo = bins, hi = 0;
    for (let k = 0; k < bins; k++) {
      const w = weights[m * bins + k];
      if (w !== 0) {
        lo = Math.min(lo, k);
        hi = k + 1;
        columnSums[k] += w;
      }
    }
    first[m] = lo < hi ? lo : 0;
    end[m] = lo < hi ? hi : 0;
  }
  const bank: MelBank = { bands: f.bands, bins, weights, first, end, columnSums };
  banks.set(key, bank);
  return bank;
}

/**
 * Mel band energies of frame-major STFT magnitudes [frames][nFft / 2 + 1]: e[t][m] = sum_k
 * fb[m][k] |X[t][k]|^(power ? 2 : 1), frame-major [frames][bands], accumulated in float64.
 */
export function melEnergies(mag: Float32Array, frames: number, bank: MelBank, power: boolean): Float64Array {
  const { bands, bins, weights, first, end } = bank;
  if (mag.length !== frames * bins) throw new RangeError(`melEnergies: expected ${frames} x ${bins} = ${frames * bins} magnitudes, got ${mag.length}`);
  const out = new Float64Array(frames * bands);
  for (let t = 0; t < frames; t++) {
    const row = t * bins;
    for (let m = 0; m < bands; m++) {
      let s = 0;
      const wRow = m * bins;
      for (let k = first[m]; k < end[m]; k++) {
        const a = mag[row + k];
        s += weights[wRow + k] * (power ? a * a : a);
      }
      out[t * bands + m] = s;
    }
  }
  return out;
}

/**
 * The network's input for frame-major STFT magnitudes [frames][nFft / 2 + 1]: frame-major
 * [frames][inputBins(fe)]. STFT: scaleMagnitudes; mel: filterbank energies (|X|^2 when
 * scaling.power), then the scaling (exponent, dB against the window, or log1p).
 */
export function networkInput(mag: Float32Array, frames: number, fe: FrontEnd): Float32Array {
  const bins = stftBins(fe);
  if (mag.length !== frames * bins) throw new RangeError(`networkInput: expected ${frames} x ${bins} = ${frames * bins} magnitudes, got ${mag.length}`);
  const bank = melBank(fe);
  if (!bank) return scaleMagnitudes(mag, fe.scaling);
  const power = fe.scaling.kind === 'db' && fe.scaling.power;
  return scaleEnergies(melEnergies(mag, frames, bank, power), fe.scaling);
}

/**
 * Maps a projection on the network's input grid (frame-major [frames][inputBins]) to STFT bins
 * (frame-major [frames][nFft / 2 + 1]); STFT front ends return it unchanged. Mel: the normalised
 * transpose of the filterbank, P_k = sum_m fb[m][k] P_m / sum_m fb[m][k] (0 where no band covers
 * bin k, i.e. outside fMin..fMax): each bin gets a weighted mean of the one or two bands over it.
 * Not the pseudo-inverse: the mask multiplies the STFT, so it must keep its sign and stay local
 * (a non-negative mel mask gives a non-negative STFT mask, a band touches only its own bins),
 * whereas pinv(fb) rings across the spectrum and goes negative.
 */
export function projectionToStft(proj: Float32Array, frames: number, fe: FrontEnd): Float32Array {
  const bank = melBank(fe);
  if (!bank) return proj;
  const { bands, bins, weights, first, end, columnSums } = bank;
  if (proj.length !== frames * bands) throw new RangeError(`projectionToStft: expected ${frames} x ${bands} = ${frames * bands} values, got ${proj.length}`);
  const out = new Float32Array(frames * bins);
  const acc = new Float64Array(bins);
  for (let t = 0; t < frames; t++) {
    acc.fill(0);
    for (let m = 0; m < bands; m++) {
      const p = proj[t * bands + m];
      if (p === 0) continue;
      for (let k = first[m]; k < end[m]; k++) acc[k] += weights[m * bins + k] * p;
    }
    for (let k = 0; k < bins; k++) out[t * bins + k] = columnSums[k] > 0 ? acc[k] / columnSums[k] : 0;
  }
  return out;
}

/** A whole clip padded for offline framing: frame t covers padded samples [t hop, t hop + nFft). */
export interface PaddedClip {
  /** The padded signal. */
  signal: Float32Array;
  /** Samples added before the clip: original sample i is padded sample i + leftPadSamples. */
  leftPadSamples: number;
  /** Frames the padded signal holds (floor((length - nFft) / hop) + 1, or 0). */
  frames: number;
}

/**
 * Pads a whole clip per fe.padding (see FrontEnd.padding): 'none' (default) as it is; 'same'
 * (kapre) ceil(L / hop) frames with floor(total / 2) zeros on the left and the rest on the right,
 * total = (frames - 1) hop + nFft - L; 'center-reflect' (librosa) nFft / 2 samples reflected about
 * each end sample (numpy 'reflect', the end sample not repeated), 1 + floor(L / hop) frames.
 */
export function padClip(signal: Float32Array, fe: FrontEnd): PaddedClip {
  const L = signal.length, n = fe.nFft, hop = fe.hopSamples;
  const mode = fe.padding ?? 'none';
  if (mode === 'none') return { signal, leftPadSamples: 0, frames: L < n ? 0 : Math.floor((L - n) / hop) + 1 };
  if (mode === 'same') {
    const frames = Math.ceil(L / hop);
    if (frames === 0) return { signal, leftPadSamples: 0, frames: 0 };
    const total = Math.max(0, (frames - 1) * hop + n - L);
    const left = Math.floor(total / 2);
    const out = new Float32Array(L + total);
    out.set(signal, left);
    return { signal: out, leftPadSamples: left, frames };
  }
  const half = n / 2;
  if (L <= half) throw new RangeError(`padClip: 'center-reflect' padding needs more than nFft / 2 = ${half} samples, got ${L}`);
  const out = new Float32Array(L + 2 * half);
  out.set(signal, half);
  for (let i = 1; i <= half; i++) {
    out[half - i] = signal[i];
    out[half + L - 1 + i] = signal[L - 1 - i];
  }
  return { signal: out, leftPadSamples: half, frames: 1 + Math.floor(L / hop) };
}

/** Clip length in samples that padClip frames into exactly `frames` frames (the shortest such length). */
export function samplesForFrames(frames: number, fe: FrontEnd): number {
  if (!Number.isInteger(frames) || frames < 1) throw new RangeError(`samplesForFrames: expected frames >= 1, got ${frames}`);
  const hop = fe.hopSamples;
  const mode = fe.padding ?? 'none';
  if (mode === 'same') return (frames - 1) * hop + 1;
  if (mode === 'center-reflect') {
    const need = Math.max((frames - 1) * hop, fe.nFft / 2 + 1);
    if (1 + Math.floor(need / hop) !== frames) throw new RangeError(`samplesForFrames: 'center-reflect' needs more than nFft / 2 samples, so at least ${1 + Math.floor((fe.nFft / 2 + 1) / hop)} frames, got ${frames}`);
    return need;
  }
  return (frames - 1) * hop + fe.nFft;
}

/**
 * Fits a whole clip to a network with a fixed number of input frames, the way Choi's
 * audio_processor did for MusicTaggerCNN: a short clip is zero-padded at the end, a long one
 * cut to its middle. The result frames into exactly `frames` frames (padClip); original sample
 * i is result sample i - startSample.
 */
export function fitClipToFrames(signal: Float32Array, frames: number, fe: FrontEnd): { signal: Float32Array; startSample: number } {
  const need = samplesForFrames(frames, fe);
  if (signal.length === need) return { signal, startSample: 0 };
  if (signal.length < need) {
    const out = new Float32Array(need);
    out.set(signal);
    return { signal: out, startSample: 0 };
  }
  const start = Math.floor((signal.length - need) / 2);
  return { signal: signal.subarray(start, start + need), startSample: start };
}
