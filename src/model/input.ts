/** From STFT magnitudes (or band energies) to the network's input, per the manifest's scaling (no DOM). */
import * as tf from '@tensorflow/tfjs';
import type { InputScaling } from '../shared/manifest';

type DbScaling = Extract<InputScaling, { kind: 'db' }>;

/**
 * Decibels of band energies e (float64, any layout) into a new Float32Array, per the manifest's db
 * scaling: x = 10 log10(max(e^exponent, amin)); reference 'max' (default, kapre): x - max(x),
 * floored at -topDb; 'one' (librosa logamplitude, ref_power 1): max(x, max(x) - topDb). Both use
 * the maximum over the whole array: pass exactly the analysed window.
 */
export function decibels(energy: Float64Array, scaling: DbScaling): Float32Array {
  const out = new Float32Array(energy.length);
  const exponent = scaling.exponent ?? 1;
  const x = new Float64Array(energy.length);
  let top = -Infinity;
  for (let i = 0; i < energy.length; i++) {
    const v = exponent === 1 ? energy[i] : energy[i] ** exponent;
    x[i] = 10 * Math.log10(Math.max(v, scaling.amin));
    if (x[i] > top) top = x[i];
  }
  if ((scaling.reference ?? 'max') === 'max') {
    for (let i = 0; i < x.length; i++) out[i] = Math.max(x[i] - top, -scaling.topDb);
  } else {
    const floor = top - scaling.topDb;
    for (let i = 0; i < x.length; i++) out[i] = Math.max(x[i], floor);
  }
  return out;
}

/**
 * Scales frame-major magnitudes [frames][bins] (STFT front ends) into a new frame-major array.
 * log1p: log(1 + c|X|). db: decibels() of |X|^2 (power) or |X| (depends on the whole window).
 */
export function scaleMagnitudes(mag: Float32Array, scaling: InputScaling): Float32Array {
  if (scaling.kind === 'log1p') {
    const out = new Float32Array(mag.length);
    for (let i = 0; i < mag.length; i++) out[i] = Math.log1p(scaling.c * mag[i]);
    return out;
  }
  const e = new Float64Array(mag.length);
  for (let i = 0; i < mag.length; i++) e[i] = scaling.power ? mag[i] * mag[i] : mag[i];
  return decibels(e, scaling);
}

/**
 * Scales band energies (mel front ends: the filterbank sum of |X|^2 or |X|, power already applied)
 * into a new array. db: decibels(); log1p: log(1 + c e).
 */
export function scaleEnergies(energy: Float64Array, scaling: InputScaling): Float32Array {
  if (scaling.kind === 'db') return decibels(energy, scaling);
  const out = new Float32Array(energy.length);
  for (let i = 0; i < energy.length; i++) out[i] = Math.log1p(scaling.c * energy[i]);
  return out;
}

/** Frame-major [frames][bins] values as the network's input tensor [1, bins, frames, 1]. */
export function inputTensor(frameMajor: Float32Array, frames: number, bins: number): tf.Tensor4D {
  if (frameMajor.length !== frames * bins) {
    throw new RangeError(`inputTensor: expected ${frames} x ${bins} = ${frames * bins} values, got ${frameMajor.length}`);
  }
  return tf.tidy(() => tf.reshape(tf.transpose(tf.tensor2d(frameMajor, [frames, bins])), [1, bins, frames, 1]));
}
