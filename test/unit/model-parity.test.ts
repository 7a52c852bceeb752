/**
 * Parity: every bundled model exported by training/export.py, loaded with stock
 * tf.loadLayersModel on the cpu and wasm backends, reproduces the trainer's outputs on the saved
 * fixture inputs (tags and pool5 within 1e-4 absolute), and agrees with its manifest.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import type { ModelManifest } from '../../src/shared/manifest';
import { decodeFloat32Base64, loadLayersModelFromDir, readFixture, runCase } from './model-parity-load';

const FIXTURES = 'test/fixtures/model-parity';
const MODELS = 'models';
const TOL_ABS = 1e-4;
const ids = existsSync(FIXTURES)
  ? readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5))
  : [];
if (ids.length === 0) console.warn(`model-parity: no fixtures in ${FIXTURES}: run training/export.py first`);

describe.skipIf(ids.length === 0)('exported model parity', () => {
  for (const id of ids) {
    const dir = join(MODELS, id);
    const fixture = readFixture(join(FIXTURES, `${id}.json`));
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ModelManifest;
    const tapNames = manifest.taps.map((t) => t.layer);

    it(`${id}: manifest matches the model graph`, async () => {
      await tf.setBackend('cpu');
      const model = await loadLayersModelFromDir(dir);
      expect(manifest.format).toBe('auralscope-model@1');
      expect(manifest.id).toBe(id);
      expect(model.inputs[0]?.shape).toEqual([null, manifest.inputShape[0], null, 1]);
      expect(model.inputs[0]?.name).toContain('spectrogram');
      expect(manifest.labels).toEqual(fixture.labels);
      for (const tap of manifest.taps) {
        const shape = model.getLayer(tap.layer).outputShape as (number | null)[];
        expect(shape[3]).toBe(tap.channels);
      }
      const out = model.getLayer(manifest.output.layer).outputShape as (number | null)[];
      expect(out[1]).toBe(manifest.labels.length);
      expect(manifest.metrics?.validationMeanRocAuc).toBeGreaterThan(0.5);
      model.dispose();
    });

    for (const backend of ['cpu', 'wasm']) {
      it(`${id}: ${backend} backend reproduces the trainer within ${TOL_ABS}`, async () => {
        expect(await tf.setBackend(backend)).toBe(true);
        await tf.ready();
        const model = await loadLayersModelFromDir(dir);
        const before = tf.memory().numTensors;
        for (const c of fixture.cases) {
          const got = await runCase(model, c, tapNames);
          expect(Array.from(got.tags).length).toBe(c.tags.length);
          for (let i = 0; i < c.tags.length; i++) expect(Math.abs((got.tags[i] ?? NaN) - (c.tags[i] ?? NaN))).toBeLessThanOrEqual(TOL_ABS);
          const pool5 = got.taps.pool5;
          const want = decodeFloat32Base64(c.pool5Base64);
          expect(pool5?.shape).toEqual(c.taps.pool5?.shape);
          expect(pool5?.values.length).toBe(want.length);
          let maxErr = 0;
          for (let i = 0; i < want.length; i++) maxErr = Math.max(maxErr, Math.abs((pool5?.values[i] ?? NaN) - (want[i] ?? NaN)));
          expect(maxErr).toBeLessThanOrEqual(TOL_ABS);
          for (const name of tapNames) {
            const tap = got.taps[name];
            const ref = c.taps[name];
            expect(tap?.shape).toEqual(ref?.shape);
            let sum = 0;
            let max = -Infinity;
            for (const v of tap?.values ?? []) {
              sum += v;
              max = Math.max(max, v);
            }
            const mean = sum / (tap?.values.length ?? 1);
            expect(Math.abs(mean - (ref?.mean ?? NaN))).toBeLessThanOrEqual(TOL_ABS * Math.max(1, Math.abs(ref?.mean ?? 0)));
            expect(Math.abs(max - (ref?.max ?? NaN))).toBeLessThanOrEqual(TOL_ABS * Math.max(1, Math.abs(ref?.max ?? 0)));
          }
        }
        expect(tf.memory().numTensors).toBe(before);
        model.dispose();
      }, 60_000);
    }
  }
});
