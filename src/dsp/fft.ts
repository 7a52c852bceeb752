// Real FFT of a power-of-two length over fft.js (radix-4).
import FFT from 'fft.js';

/** Real-input FFT of length n (a power of two >= 4); forward and inverse allocate nothing per call. */
export class RealFft {
  /** Transform length in samples. */
  readonly size: number;
  /** Number of non-negative-frequency bins, n / 2 + 1. */
  readonly bins: number;
  private readonly fft: FFT;
  // Float64 work buffers (fft.js accepts any indexable array); allocated once.
  private readonly complexOut: Float64Array;
  private readonly complexIn: Float64Array;
  private readonly realIn: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 4 || (n & (n - 1)) !== 0) {
      throw new Error(`expected an FFT length that is a power of two >= 4, got ${n}`);
    }
    this.size = n;
    this.bins = n / 2 + 1;
    this.fft = new FFT(n);
    this.complexOut = new Float64Array(2 * n);
    this.complexIn = new Float64Array(2 * n);
    this.realIn = new Float64Array(n);
  }

  /** Unnormalised forward transform: X[k] = sum x[i] e^{-2 pi i k / n}, k = 0..n/2, into re/im (length n/2+1). */
  forward(input: Float32Array, re: Float32Array, im: Float32Array): void {
    const n = this.size;
    if (input.length < n || re.length < this.bins || im.length < this.bins) {
      throw new Error(`expected input >= ${n} and re/im >= ${this.bins} samples, got ${input.length}, ${re.length}, ${im.length}`);
    }
    const x = this.realIn;
    for (let i = 0; i < n; i++) x[i] = input[i];
    const out = this.complexOut;
    this.fft.realTransform(out, x);
    for (let k = 0; k < this.bins; k++) {
      re[k] = out[2 * k];
      im[k] = out[2 * k + 1];
    }
  }

  /** Inverse of forward: out[i] = (1/n) sum X[k] e^{+2 pi i k / n}, with the negative bins taken as conj(X); im of bins 0 and n/2 ignored. */
  inverse(re: Float32Array, im: Float32Array, out: Float32Array): void {
    const n = this.size;
    const half = n / 2;
    if (out.length < n || re.length < this.bins || im.length < this.bins) {
      throw new Error(`expected out >= ${n} and re/im >= ${this.bins} samples, got ${out.length}, ${re.length}, ${im.length}`);
    }
    const c = this.complexIn;
    c[0] = re[0];
    c[1] = 0;
    c[2 * half] = re[half];
    c[2 * half + 1] = 0;
    for (let k = 1; k < half; k++) {
      c[2 * k] = re[k];
      c[2 * k + 1] = im[k];
      c[2 * (n - k)] = re[k];
      c[2 * (n - k) + 1] = -im[k];
    }
    const y = this.complexOut;
    this.fft.inverseTransform(y, c); // fft.js scales the inverse by 1/n
    for (let i = 0; i < n; i++) out[i] = y[2 * i];
  }
}
