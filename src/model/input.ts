/** From STFT magnitudes to the network's input, per the manifest's scaling (no DOM). */
import * as tf from '@tensorflow/tfjs';
import type { InputScaling } from '../shared/manifest';

/**
 * Scales frame-major magnitudes [frames][bins] into a new frame-major array. log1p: log(1 + c|X|).
 * db: 10 log10(max(v, amin)) with v = |X|^2 (power) or |X|, minus the window's maximum of the
 * same, floored at -topDb (depends on the whole window: pass exactly the analysed window).
 */
export function scaleMagnitudes(mag: Float32Array, scaling: InputScaling): Float32Array {
  const out = new Float32Array(mag.length);
  if (scaling.kind === 'log1p') {
    for (let i = 0; i < mag.length; i++) out[i] = Math.log1p(scaling.c * mag[i]);
    return out;
  }
  let top = -Infinity;
  for (let i = 0; i < mag.length; i++) {
    const v = scaling.power ? mag[i] * mag[i] : mag[i];
    out[i] = 10 * Math.log10(Math.max(v, scaling.amin));
    top = Math.max(top, out[i]);
  }
  for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i] - top, -scaling.topDb);
  return out;
}

/** Frame-major [frames][bins] values as the network's input tensor [1, bins, frames, 1]. */
export function inputTensor(frameMajor: Float32Array, frames: number, bins: number): tf.Tensor4D {
  if (frameMajor.length !== frames * bins) {
    throw new RangeError(`inputTensor: expected ${frames} x ${bins} = ${frames * bins} values, got ${frameMajor.length}`);
  }
  return tf.tidy(() => tf.reshape(tf.transpose(tf.tensor2d(frameMajor, [frames, bins])), [1, bins, frames, 1]));
}
