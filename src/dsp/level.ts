// Level and similarity measures (dB) used by tests, the CLI and the browser test harness.

/** Peak absolute level in dBFS (1.0 = 0 dB); -Infinity for silence or an empty signal. */
export function peakDb(signal: Float32Array): number {
  let peak = 0;
  for (let i = 0; i < signal.length; i++) peak = Math.max(peak, Math.abs(signal[i]));
  return 20 * Math.log10(peak);
}

/** RMS level in dBFS (a full-scale sine is -3.01 dB); -Infinity for silence or an empty signal. */
export function rmsDb(signal: Float32Array): number {
  if (signal.length === 0) return -Infinity;
  let sum = 0;
  for (let i = 0; i < signal.length; i++) sum += signal[i] * signal[i];
  return 10 * Math.log10(sum / signal.length);
}

/** SNR in dB of test against reference over their common length: 10 log10(sum ref^2 / sum (ref - test)^2); Infinity if equal. */
export function snrDb(reference: Float32Array, test: Float32Array): number {
  const n = Math.min(reference.length, test.length);
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < n; i++) {
    signal += reference[i] * reference[i];
    const d = reference[i] - test[i];
    noise += d * d;
  }
  return 10 * Math.log10(signal / noise);
}

/**
 * Finds the lag L in [-maxLagSamples, maxLagSamples] maximising the normalised correlation
 * sum ref[i] test[i + L] / sqrt(sum ref[i]^2 sum test[i + L]^2) over the overlap: test is ref delayed by L.
 * O(length x lags); meant for tests and short clips.
 */
export function alignByCrossCorrelation(
  reference: Float32Array,
  test: Float32Array,
  maxLagSamples: number,
): { lagSamples: number; correlation: number } {
  let bestLag = 0;
  let best = -Infinity;
  for (let lag = -maxLagSamples; lag <= maxLagSamples; lag++) {
    const start = Math.max(0, -lag);
    const end = Math.min(reference.length, test.length - lag);
    let cross = 0;
    let refEnergy = 0;
    let testEnergy = 0;
    for (let i = start; i < end; i++) {
      const r = reference[i];
      const t = test[i + lag];
      cross += r * t;
      refEnergy += r * r;
      testEnergy += t * t;
    }
    const denom = Math.sqrt(refEnergy * testEnergy);
    const c = denom > 0 ? cross / denom : 0;
    if (c > best) {
      best = c;
      bestLag = lag;
    }
  }
  return { lagSamples: bestLag, correlation: best };
}
