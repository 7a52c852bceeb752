/**
 * An independent slow reference for the auralisation, written with plain loops in float64: a DFT of
 * each Hann-windowed frame, the mask, a real inverse DFT and a weighted overlap-add. Tests only.
 */
export function referenceAuralise(x: Float32Array, mask: Float32Array, nFft: number, hop: number): Float64Array {
  const bins = nFft / 2 + 1;
  const frames = x.length < nFft ? 0 : Math.floor((x.length - nFft) / hop) + 1;
  const w = new Float64Array(nFft);
  for (let i = 0; i < nFft; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / nFft);
  const acc = new Float64Array(x.length);
  const norm = new Float64Array(x.length);
  for (let t = 0; t < frames; t++) {
    const re = new Float64Array(bins);
    const im = new Float64Array(bins);
    for (let k = 0; k < bins; k++) {
      for (let i = 0; i < nFft; i++) {
        const v = w[i] * x[t * hop + i];
        re[k] += v * Math.cos((2 * Math.PI * k * i) / nFft);
        im[k] -= v * Math.sin((2 * Math.PI * k * i) / nFft);
      }
      re[k] *= mask[t * bins + k];
      im[k] *= mask[t * bins + k];
    }
    for (let i = 0; i < nFft; i++) {
      // Real inverse DFT: bins 0 and nFft/2 once, the others twice (their conjugate mirrors).
      let s = 0;
      for (let k = 0; k < bins; k++) {
        const c = k === 0 || k === nFft / 2 ? 1 : 2;
        s += c * (re[k] * Math.cos((2 * Math.PI * k * i) / nFft) - (k === 0 || k === nFft / 2 ? 0 : im[k] * Math.sin((2 * Math.PI * k * i) / nFft)));
      }
      acc[t * hop + i] += (w[i] * s) / nFft;
      norm[t * hop + i] += w[i] * w[i];
    }
  }
  for (let j = 0; j < x.length; j++) acc[j] = norm[j] > 1e-6 ? acc[j] / norm[j] : 0;
  return acc;
}
