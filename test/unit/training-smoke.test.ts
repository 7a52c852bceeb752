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

  it.skipIf(reason !== null)('continues from a checkpoint (INIT) with weight averaging (EMA), and the manifest says where it started', () => {
    const init = join(work, 'runs', 'cnn4', 'best.pt');
    expect(existsSync(init), 'the first tiny run left no best.pt').toBe(true);
    // Python's json writes NaN for tags a tiny split lacks; JSON.parse does not read it.
    const first = JSON.parse(readFileSync(join(work, 'runs', 'cnn4', 'metrics.json'), 'utf8').replace(/\bNaN\b/g, 'null')) as
      { validationMeanRocAuc: number; testMeanRocAuc: number };
    const r = spawnSync('bash', ['training/train.sh', '--tiny'], {
      env: { ...process.env, WORK: work, INIT: init, EMA: '0.9', RUN_NAME: 'ft', MACHINE: 'the smoke test' },
      encoding: 'utf8',
      timeout: 80_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(readFileSync(join(work, 'runs', 'ft', 'train.log'), 'utf8')).toContain(`initialised from ${init}`);
    const m = JSON.parse(readFileSync(join(work, 'models', 'auralscope-tiny', 'manifest.json'), 'utf8')) as
      { provenance: { command: string; optimizer: string; machine: string; initialisedFrom: Record<string, unknown> } };
    expect(m.provenance.initialisedFrom).toMatchObject({
      checkpoint: init,
      validationMeanRocAuc: Math.round(first.validationMeanRocAuc * 1e4) / 1e4,
      testMeanRocAuc: Math.round(first.testMeanRocAuc * 1e4) / 1e4,
    });
    expect(m.provenance.optimizer).toMatch(/EMA, decay 0\.9 per step/);
    expect(m.provenance.machine).toBe('the smoke test');
    expect(m.provenance.command).toBe(`EMA=0.9 INIT=${init} RUN_NAME=ft npm run train -- --tiny`);
  }, 90_000);

  it.skipIf(reason !== null)('a larger render of a split keeps the clips an earlier, smaller render made, identical to rendering all at once', () => {
    const gen = (out: string, clips: number) => spawnSync(PY, ['training/gen_data.py', '--split', 'g', '--clips', String(clips),
      '--seed', '9', '--soundfont', '/usr/share/sounds/sf2/FluidR3_GM.sf2', '--out', out, '--jobs', '1', '--chunk', '4'],
    { encoding: 'utf8', timeout: 60_000 });
    const grown = join(work, 'grown');
    const once = join(work, 'once');
    for (const [out, clips] of [[grown, 4], [grown, 8], [once, 8]] as const) {
      const r = gen(out, clips);
      expect(r.status, r.stderr).toBe(0);
      if (out === grown && clips === 8) expect(r.stdout).toContain('kept the first 4 clips');
    }
    const cmp = spawnSync(PY, ['-c', [
      'import numpy as np, sys',
      `a = np.load("${grown}/g_x.npy"); b = np.load("${once}/g_x.npy")`,
      `ya = np.load("${grown}/g_y.npy"); yb = np.load("${once}/g_y.npy")`,
      'print(a.shape[0], b.shape[0], np.array_equal(a, b), np.array_equal(ya, yb), float(np.abs(a[4:].astype(float)).max()))',
    ].join('\n')], { encoding: 'utf8' });
    expect(cmp.status, cmp.stderr).toBe(0);
    const [na, nb, sameX, sameY, newMax] = cmp.stdout.trim().split(' ');
    expect([na, nb, sameX, sameY]).toEqual(['8', '8', 'True', 'True']);
    expect(Number(newMax)).toBeGreaterThan(0); // the four new clips were rendered, not left as zeros
  }, 90_000);
});

describe('exporter refuses shapes the browser model cannot load', () => {
  // [what, python statement that breaks a valid network, the refusal expected]
  const cases: [string, string, RegExp][] = [
    ['5x5 kernel', 'convs[1] = (np.zeros((8, 8, 5, 5), np.float32), np.zeros(8, np.float32))', /conv2: expected a 3x3 kernel, got shape \[8, 8, 5, 5\]/],
    ['channel mismatch', 'convs[2] = (np.zeros((8, 6, 3, 3), np.float32), np.zeros(8, np.float32))', /conv3: expected 8 input channels, got 6/],
    ['four layers', 'convs = convs[:4]', /expected 5 conv layers, got 4/],
    ['too few labels', 'dw = dw[:12]', /tags: expected a dense kernel of \[13 labels, 8 channels\], got \[12, 8\]/],
    ['non-finite weights', 'convs[0][0][0, 0, 0, 0] = np.nan', /conv1: weights are not all finite/],
    ['too small an input', 'shape = [257, 16, 1]', /expected an input of at least 32x32 \(5 poolings\), got 257x16/],
  ];
  it.skipIf(reason !== null)('names what is wrong for each bad shape and accepts a valid one', () => {
    // One python process for all cases (importing torch is slow).
    const lines = [
      'import sys; sys.path.insert(0, "training")',
      'import numpy as np, export',
      'def valid():',
      '    return ([(np.zeros((8, 1 if i == 0 else 8, 3, 3), np.float32), np.zeros(8, np.float32)) for i in range(5)],',
      '            np.zeros((13, 8), np.float32), np.zeros(13, np.float32), [257, 173, 1])',
      'convs, dw, db, shape = valid()',
      'export.check_shapes(convs, dw, db, 13, shape)',
      'print("VALID OK")',
    ];
    for (const [, mutate] of cases) {
      lines.push('convs, dw, db, shape = valid()', mutate, 'try:',
        '    export.check_shapes(convs, dw, db, 13, shape); print("ACCEPTED")',
        'except export.ExportError as e:', '    print("REFUSED", e)');
    }
    const r = spawnSync(PY, ['-c', lines.join('\n')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out[0]).toBe('VALID OK');
    cases.forEach(([what, , message], i) => {
      expect(out[i + 1], what).toMatch(/^REFUSED /);
      expect(out[i + 1], what).toMatch(message);
    });
  }, 30_000);
});
