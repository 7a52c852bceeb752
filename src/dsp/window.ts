// Analysis/synthesis windows.

/** Periodic Hann window of length n: w[i] = 0.5 - 0.5 cos(2 pi i / n) (the DFT-even form used for STFT). */
export function hannPeriodic(n: number): Float32Array {
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a window length >= 1, got ${n}`);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}
