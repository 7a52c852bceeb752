/** The atlas on a fixture network and a test-made song: page, files, WAVs, PNG sizes, bad input. */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atlas, featureImageSize } from '../../src/cli/atlas';
import { gridLayout } from '../../src/cli/atlas-image';
import { auralise } from '../../src/cli/auralise';
import { decodeWav, encodeWav } from '../../src/dsp/wav';
import { FIXTURE_A, makeFixture, writeFixture } from '../fixtures/fixture-net/make';

let dir = '';
let modelDir = '';
let song = '';
const RATE = 8000;

beforeAll(async () => {
  await tf.setBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'auralscope-atlas-'));
  modelDir = join(dir, 'model');
  await writeFixture(await makeFixture({ ...FIXTURE_A, windowFrames: 48 }), modelDir);
  const x = new Float32Array(2 * RATE).map((_, i) => 0.3 * Math.sin((2 * Math.PI * 600 * i) / RATE) * (i % 4000 < 2000 ? 1 : 0.2) + (i % 2000 === 0 ? 0.8 : 0));
  song = join(dir, 'test song.wav');
  await writeFile(song, encodeWav([x], RATE, 'float32'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('atlas', () => {
  it('makes a page that parses, whose files exist, whose WAVs decode and PNGs have the expected sizes; skips a non-audio file with its reason', async () => {
    const bad = join(dir, 'notes.txt');
    await writeFile(bad, 'not audio at all');
    const out = join(dir, 'atlas');
    const lines: string[] = [];
    const index = await atlas({ songs: [song, bad], outDir: out, layers: null, features: null, modelDir, seconds: null, workers: 0, force: false }, (l) => lines.push(l));
    expect(index.skipped).toHaveLength(1);
    expect(index.skipped[0].path).toBe(bad);
    expect(index.skipped[0].reason).toMatch(/expected a RIFF\/WAVE file/);
    expect(lines.some((l) => l.includes('skipped') && l.includes('notes.txt'))).toBe(true);
    expect(index.songs.map((s) => s.id)).toEqual(['test_song']);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    // The embedded data parses and equals atlas.json; every referenced file exists, links are relative.
    const embedded = /<script type="application\/json" id="atlas-data">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
    expect(JSON.parse(embedded)).toEqual(JSON.parse(readFileSync(join(out, 'atlas.json'), 'utf8')));
    expect(html).not.toMatch(/https?:\/\//);
    const refs = [...html.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(0);
    const frames = index.songs[0].frames;
    const want = featureImageSize(frames, 17);
    for (const [li, l] of index.layers.entries()) {
      const f = index.files.test_song[li];
      expect(f.features).toHaveLength(l.features.length);
      const grid = PNG.sync.read(readFileSync(join(out, f.grid)));
      const g = gridLayout(l.features.length);
      expect([grid.width, grid.height]).toEqual([g.width, g.height]);
      for (const ff of f.features) {
        refs.push(ff.png, ff.wav);
        const png = PNG.sync.read(readFileSync(join(out, ff.png)));
        expect([png.width, png.height]).toEqual([want.width, want.height]);
        const wav = decodeWav(new Uint8Array(readFileSync(join(out, ff.wav))));
        expect(wav.sampleRateHz).toBe(RATE);
        expect(wav.channels[0].length).toBe(2 * RATE);
        expect(wav.channels[0].every(Number.isFinite)).toBe(true);
      }
    }
    for (const r of refs) expect(existsSync(join(out, r)), r).toBe(true);
    expect(index.layers.map((l) => l.features.length)).toEqual([4, 6, 8]);
  }, 120_000);

  it('gives the same files, byte for byte, on 2 threads with units of 3 features as in one thread with whole layers', async () => {
    const second = join(dir, 'song two.wav');
    const r = new Float32Array(2 * RATE).map((_, i) => 0.2 * Math.sin((2 * Math.PI * 220 * i) / RATE) + 0.1 * Math.sin((2 * Math.PI * 1700 * i) / RATE) * (i % 3000 < 600 ? 1 : 0));
    await writeFile(second, encodeWav([r], RATE, 'float32'));
    const base = { songs: [song, second], layers: null, features: null, modelDir, seconds: null, force: false };
    const a = await atlas({ ...base, outDir: join(dir, 'one-thread'), workers: 0 });
    const b = await atlas({ ...base, outDir: join(dir, 'two-threads'), workers: 2, unitFeatures: 3 });
    expect({ ...b, seconds: 0 }).toEqual({ ...a, seconds: 0 });
    const paths = [...Object.values(a.files).flatMap((layers) => layers.flatMap((l) => [l.grid, ...l.features.flatMap((f) => [f.png, f.wav])])), ...a.songs.map((s) => s.spectrogram)];
    expect(paths.length).toBe(2 * (1 + 3 + 2 * (4 + 6 + 8)));
    for (const p of paths) expect(Buffer.compare(readFileSync(join(dir, 'one-thread', p)), readFileSync(join(dir, 'two-threads', p))), p).toBe(0);
  }, 180_000);

  it('refuses an existing folder without --force, replaces it with --force', async () => {
    const out = join(dir, 'existing');
    await mkdir(out);
    await writeFile(join(out, 'keep.txt'), 'x');
    const opts = { songs: [song], outDir: out, layers: [1], features: [0, 2], modelDir, seconds: 1, workers: 0, force: false };
    await expect(atlas(opts)).rejects.toThrow(/expected a new or empty folder, got one with 1 entries \(pass --force/);
    expect(readFileSync(join(out, 'keep.txt'), 'utf8')).toBe('x');
    const index = await atlas({ ...opts, force: true });
    expect(existsSync(join(out, 'keep.txt'))).toBe(false);
    expect(index.songs[0].seconds).toBeCloseTo(1, 3);
    expect(index.files.test_song[0].features).toHaveLength(2);
  }, 60_000);

  it('auralise CLI: a float32 WAV at the analysis rate, level-matched, peak below 0 dBFS; --whole and live agree', async () => {
    const a = await auralise({ wavPath: song, layer: 2, feature: 1, method: 'deconvnet', label: null, rectify: false, mute: false, whole: true, hopGroupFrames: 2, modelDir, outPath: join(dir, 'a.wav') });
    const b = await auralise({ wavPath: song, layer: 2, feature: 1, method: 'deconvnet', label: null, rectify: false, mute: false, whole: false, hopGroupFrames: 2, modelDir, outPath: join(dir, 'b.wav') });
    const wa = decodeWav(new Uint8Array(readFileSync(join(dir, 'a.wav'))));
    expect(wa.sampleRateHz).toBe(RATE);
    expect(wa.channels[0].length).toBe(2 * RATE);
    expect(Math.max(...wa.channels[0].map(Math.abs))).toBeLessThanOrEqual(10 ** (-1 / 20) + 1e-6);
    expect(a.windows).toBe(1);
    expect(b.windows).toBeGreaterThan(1);
    let num = 0, den = 0;
    for (let i = 0; i < a.samples.length; i++) { num += (a.samples[i] / a.gain - b.samples[i] / b.gain) ** 2; den += (a.samples[i] / a.gain) ** 2; }
    expect(den).toBeGreaterThan(0);
    expect(Math.sqrt(num / den)).toBeLessThan(1e-3);
  }, 60_000);
});
