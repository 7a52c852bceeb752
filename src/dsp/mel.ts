// Mel scales and the triangular mel filterbank used by mel-spectrogram front ends (kapre, librosa).

/** Slaney's mel scale: linear below 1000 Hz (200/3 Hz per mel), logarithmic above. */
const SLANEY_HZ_PER_MEL = 200 / 3;
const SLANEY_BREAK_HZ = 1000;
const SLANEY_BREAK_MEL = SLANEY_BREAK_HZ / SLANEY_HZ_PER_MEL; // 15
const SLANEY_LOG_STEP = Math.log(6.4) / 27;

/** Hz to mel: HTK (2595 log10(1 + f/700)) or Slaney (linear below 1 kHz, log above). */
export function hzToMel(hz: number, htk: boolean): number {
  if (htk) return 2595 * Math.log10(1 + hz / 700);
  if (hz < SLANEY_BREAK_HZ) return hz / SLANEY_HZ_PER_MEL;
  return SLANEY_BREAK_MEL + Math.log(hz / SLANEY_BREAK_HZ) / SLANEY_LOG_STEP;
}

/** Mel to Hz, the inverse of hzToMel. */
export function melToHz(mel: number, htk: boolean): number {
  if (htk) return 700 * (10 ** (mel / 2595) - 1);
  if (mel < SLANEY_BREAK_MEL) return mel * SLANEY_HZ_PER_MEL;
  return SLANEY_BREAK_HZ * Math.exp(SLANEY_LOG_STEP * (mel - SLANEY_BREAK_MEL));
}

/**
 * Triangular mel filterbank as a row-major Float32Array of bands x (nFft / 2 + 1): weight of FFT
 * bin k (frequency k sampleRateHz / nFft) in band m is at [m * (nFft / 2 + 1) + k]. bands + 2
 * points are equally spaced in mel between fMinHz and fMaxHz; band m rises from point m to m + 1
 * and falls to m + 2; norm 'slaney' scales band m by 2 / (f[m + 2] - f[m]) (equal area), null
 * leaves peaks at 1. Computed in float64, stored as float32.
 */
export function melFilterbank(sampleRateHz: number, nFft: number, bands: number, fMinHz: number, fMaxHz: number, htk: boolean, norm: 'slaney' | null): Float32Array {
  if (!Number.isInteger(nFft) || nFft < 2 || nFft % 2 !== 0) throw new RangeError(`melFilterbank: expected an even nFft >= 2, got ${nFft}`);
  if (!Number.isInteger(bands) || bands < 1) throw new RangeError(`melFilterbank: expected bands >= 1, got ${bands}`);
  if (!(sampleRateHz > 0)) throw new RangeError(`melFilterbank: expected a positive sample rate, got ${sampleRateHz}`);
  if (!(fMinHz >= 0 && fMaxHz > fMinHz)) throw new RangeError(`melFilterbank: expected 0 <= fMinHz < fMaxHz, got ${fMinHz}..${fMaxHz}`);
  const bins = nFft / 2 + 1;
  const melLo = hzToMel(fMinHz, htk);
  const melHi = hzToMel(fMaxHz, htk);
  const pointsHz = new Float64Array(bands + 2);
  for (let i = 0; i < bands + 2; i++) pointsHz[i] = melToHz(melLo + ((melHi - melLo) * i) / (bands + 1), htk);
  const fb = new Float32Array(bands * bins);
  for (let m = 0; m < bands; m++) {
    const lo = pointsHz[m], mid = pointsHz[m + 1], hi = pointsHz[m + 2];
    const scale = norm === 'slaney' ? 2 / (hi - lo) : 1;
    for (let k = 0; k < bins; k++) {
      const f = (k * sampleRateHz) / nFft;
      const w = Math.max(0, Math.min((f - lo) / (mid - lo), (hi - f) / (hi - mid)));
      fb[m * bins + k] = w * scale;
    }
  }
  return fb;
}
