/**
 * The probe analysis on a fixture network with hand-set weights: a 'valid' conv spanning all bins
 * (output height 1) with three features: an onset detector (later frame minus earlier frame, summed
 * over frequency), an energy detector (uniform over frequency: transposition-invariant) and a
 * narrow band detector (a few bins: pitch-specific). Also: featureLabels written byte-for-byte.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelFeatures, withFeatureLabels } from '../../src/cli/label-features';
import type { FeatureReport } from '../../src/model/features';
import { makeFixture, writeFixture } from '../fixtures/fixture-net/make';
import type { FixtureSpec } from '../fixtures/fixture-net/make';

const BINS = 129; // nFft 256 at 8 kHz: 31.25 Hz per bin
const SPEC: FixtureSpec = {
  id: 'fixture-probe', bins: BINS, windowFrames: 16, api: 'functional',
  layers: [
    { type: 'conv', name: 'conv1', filters: 3, kernel: [BINS, 3], padding: 'valid', activation: 'relu' },
    { type: 'pool', name: 'pool1', pool: [1, 2] },
    { type: 'gap', name: 'gap' },
    { type: 'dense', name: 'tags', units: 2, activation: 'sigmoid' },
  ],
  taps: ['pool1'], labels: ['a', 'b'], seed: 3,
};

let dir = '';
let reports: FeatureReport[] = [];

beforeAll(async () => {
  await tf.setBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'auralscope-labels-'));
  const f = await makeFixture(SPEC);
  // Hand-set conv1: kernel [BINS, 3, 1, 3] (row-major), bias [3].
  const k = new Float32Array(BINS * 3 * 3);
  const at = (r: number, t: number, o: number): number => (r * 3 + t) * 3 + o;
  for (let r = 0; r < BINS; r++) {
    k[at(r, 0, 0)] = -1 / 8;
    k[at(r, 2, 0)] = 1 / 8;
    for (let t = 0; t < 3; t++) k[at(r, t, 1)] = 1 / (3 * 8);
  }
  for (const r of [5, 6]) for (let t = 0; t < 3; t++) k[at(r, t, 2)] = 1 / 3; // ~156-187 Hz
  const bias = new Float32Array([-0.05, 0, -0.3]);
  const bin = new Float32Array(f.weightsBin);
  let off = 0;
  for (const s of f.modelJson.weightsManifest[0].weights) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (s.name.endsWith('conv1/kernel')) bin.set(k, off);
    if (s.name.endsWith('conv1/bias')) bin.set(bias, off);
    off += n;
  }
  await writeFixture(f, dir);
  reports = (await labelFeatures(dir, { write: true }))[0];
}, 240_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('feature labels', () => {
  it('the temporal-difference feature is labelled an onset detector; the others are not', () => {
    const [onset, energy, band] = reports;
    console.info(reports.map((r) => `${r.label}: OSI ${r.onsetSelectivity.toFixed(2)} KI ${r.keyInvariance.toFixed(2)} II ${r.instrumentInvariance.toFixed(2)} HI ${r.harmonicity.toFixed(2)} c ${r.centroidHz.toFixed(0)} bw ${r.bandwidthHz.toFixed(0)}`).join('\n'));
    expect(onset.onsetSelectivity).toBeGreaterThan(0.5);
    expect(onset.label).toContain('onset detector');
    expect(energy.label).not.toContain('onset detector');
    expect(band.label).not.toContain('onset detector');
  });

  it('the uniform feature is key-invariant, the narrow-band one pitch-specific', () => {
    const [, energy, band] = reports;
    expect(energy.keyInvariance).toBeGreaterThanOrEqual(0.8);
    // Chord tones of several probe keys reach the band, so it is not 0; it must still be clearly lower.
    expect(band.keyInvariance).toBeLessThan(0.7);
    expect(band.keyInvariance).toBeLessThan(energy.keyInvariance - 0.2);
    expect(band.centroidHz).toBeLessThan(400);
  });

  it('featureLabels lands in manifest.json and every other byte is kept', async () => {
    const text = await readFile(join(dir, 'manifest.json'), 'utf8');
    const m = JSON.parse(text) as { featureLabels: Record<string, string[]> };
    expect(m.featureLabels.pool1).toEqual(reports.map((r) => r.label));
    const original = '{\n  "format": "x",\n  "labels": ["a", "b"],\n  "featureLabels": {"old": ["q"]},\n  "z": 1\n}\n';
    const updated = withFeatureLabels(original, { pool1: ['onset detector'] });
    expect(updated).toBe('{\n  "format": "x",\n  "labels": ["a", "b"],\n  "featureLabels": {"pool1":["onset detector"]},\n  "z": 1\n}\n');
    const fresh = withFeatureLabels('{\n  "a": {"featureLabels": 1}\n}\n', { p: ['x'] });
    expect(fresh).toBe('{\n  "a": {"featureLabels": 1},\n  "featureLabels": {"p":["x"]}\n}\n');
    await writeFile(join(dir, 'x.json'), fresh);
  });
});
