/**
 * Smoke test of `npm run train -- --tiny`: render a few dozen clips with fluidsynth, train one
 * epoch, export to a temp folder, then load the export with stock tfjs and check it reproduces
 * the trainer's outputs. Skips, saying why, where fluidsynth, the soundfonts or torch are missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelManifest } from '../../src/shared/manifest';
import { loadLayersModelFromDir, readFixture, runCase } from './model-parity-load';

const PY = '/usr/bin/python3';

function skipReason(): string | null {
  if (!existsSync(PY)) return `${PY} not found (Debian package python3)`;
  if (spawnSync(PY, ['-c', 'import numpy, torch'], { encoding: 'utf8' }).status !== 0) {
    return `torch/numpy not importable by ${PY} (Debian packages python3-torch, python3-numpy)`;
  }
  if (spawnSync('fluidsynth', ['--version'], { encoding: 'utf8' }).status !== 0) return 'fluidsynth not found (Debian package fluidsynth)';
  if (!existsSync('/usr/share/sounds/sf2/FluidR3_GM.sf2')) return 'FluidR3_GM.sf2 not found (Debian package fluid-soundfont-gm)';
  if (!existsSync('/usr/share/sounds/sf2/TimGM6mb.sf2')) return 'TimGM6mb.sf2 not found (Debian package timgm6mb-soundfont)';
  return null;
}
const reason = skipReason();
if (reason) console.warn(`training-smoke skipped: ${reason}`);

describe('training smoke run (tiny config)', () => {
  const work = mkdtempSync(join(tmpdir(), 'auralscope-smoke-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it.skipIf(reason !== null)('renders, trains one epoch, exports, and the export runs in tfjs', async () => {
    const r = spawnSync('bash', ['training/train.sh', '--tiny'], {
      env: { ...process.env, WORK: work },
      encoding: 'utf8',
      timeout: 80_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const dir = join(work, 'models', 'auralscope-tiny');
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ModelManifest;
    expect(manifest.format).toBe('auralscope-model@1');
    expect(manifest.frontEnd).toEqual({
      sampleRateHz: 11025, nFft: 512, hopSamples: 256, window: 'hann', frequency: { kind: 'stft' },
      scaling: { kind: 'log1p', c: manifest.frontEnd.scaling.kind === 'log1p' ? manifest.frontEnd.scaling.c : NaN },
    });
    expect(manifest.inputShape).toEqual([257, 173, 1]);
    expect(manifest.taps.map((t) => t.displayName)).toEqual(['Layer 1', 'Layer 2', 'Layer 3', 'Layer 4', 'Layer 5']);
    expect(manifest.labels.length).toBeGreaterThanOrEqual(12);
    expect(manifest.provenance.command).toBe('npm run train -- --tiny');

    await tf.setBackend('cpu');
    const model = await loadLayersModelFromDir(dir);
    const fixture = readFixture(join(work, 'fixtures', 'auralscope-tiny.json'));
    for (const c of fixture.cases) {
      const got = await runCase(model, c, manifest.taps.map((t) => t.layer));
      expect(got.tags.length).toBe(manifest.labels.length);
      got.tags.forEach((v, i) => {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
        expect(Math.abs(v - (c.tags[i] ?? NaN))).toBeLessThanOrEqual(1e-4);
      });
    }
    model.dispose();
  }, 90_000);
});
