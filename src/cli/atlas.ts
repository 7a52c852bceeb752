/**
 * `atlas` (issue 7): for every song, layer and feature, the deconvolved spectrogram (|X| x mask)
 * as a PNG and its auralisation as a WAV; per song and layer one grid PNG with every feature as a
 * labelled tile; an offline index.html to browse them, songs side by side. Each song is one window
 * (the whole file, or its first --seconds). Per song one forward pass; per layer all features in
 * batches through one backward chain (BatchedDeconv). Work units (song, layer) are shared by
 * worker_threads, each with its own tfjs-wasm backend, so both cores are busy.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { auraliseSpectrum, matchLevel } from '../dsp/auralise';
import { stft } from '../dsp/stft';
import { encodeWav } from '../dsp/wav';
import { BatchedDeconv, INDEX_DEFINITIONS } from '../model/features';
import type { FeatureReport } from '../model/features';
import { inputBins, networkInput, projectionToStft } from '../model/frontend';
import { inputTensor } from '../model/input';
import type { LoadedModel } from '../model/load';
import { loadModelFromDir } from '../model/node-io';
import type { ModelManifest } from '../shared/manifest';
import { blit, drawText, encodePng, gridLayout, maskedRasters, raster, spectrogramRaster } from './atlas-image';
import type { Raster } from './atlas-image';
import { readAnalysisSignal } from './audio-input';
import { defaultModelDir } from './explain';
import { parseCommandArgs, runCommand, UsageError } from './command';

/** Help text of the atlas command. */
export const ATLAS_USAGE = `usage: npm run cli -- atlas <song.wav>... --out DIR [--layers 1-5] [--features all|LIST] [--model DIR]
                     [--whole | --seconds N] [--workers N] [--force]

  --layers R     1-based layers: a range (1-5) or a list (1,3); default all
  --features F   'all' (default) or 0-based feature indices (0,3,7-9)
  --whole        each song as one window (default); --seconds N: its first N seconds as one window
  --workers N    worker threads (default: min(songs x layers, CPU cores)); 0 = run in this thread
  --force        replace DIR if it exists
  Per song/layer/feature: L<l>/f<k>.png (deconvolved spectrogram |X| x mask, dB) and .wav (16-bit,
  analysis rate, RMS matched to the song, gain <= +24 dB, peak <= -1 dBFS); per song/layer grid.png;
  DIR/index.html (offline, relative links) and DIR/atlas.json.`;

/** Most features per work unit: small enough for the threads to finish together, large enough to batch. */
const UNIT_FEATURES = 16;

/** Parsed atlas options. */
export interface AtlasOptions {
  songs: string[];
  outDir: string;
  /** 1-based layers, or null for all. */
  layers: number[] | null;
  /** 0-based features, or null for all. */
  features: number[] | null;
  modelDir: string | null;
  /** First N seconds of each song, or null for the whole song. */
  seconds: number | null;
  /** Worker threads; 0 runs in this thread. null: automatic. */
  workers: number | null;
  force: boolean;
  /** Most features per work unit (default 16); the output does not depend on it. */
  unitFeatures?: number;
}

/** Parses "1-5" / "1,3,7-9" into sorted unique integers >= min. */
export function parseList(v: string, what: string, min: number): number[] {
  const out = new Set<number>();
  for (const part of v.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new UsageError(`--${what}: expected a list like 1-5 or 1,3, got '${v}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < min || b < a) throw new UsageError(`--${what}: expected ranges of integers >= ${min}, got '${part}'`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/** Parses `atlas` arguments (without the command name). */
export function parseAtlasArgs(argv: string[]): AtlasOptions {
  const { values: v, positionals } = parseCommandArgs(argv, {
    out: { type: 'string' }, layers: { type: 'string' }, features: { type: 'string', default: 'all' }, model: { type: 'string' },
    whole: { type: 'boolean', default: false }, seconds: { type: 'string' }, workers: { type: 'string' }, force: { type: 'boolean', default: false },
  });
  if (positionals.length === 0) throw new UsageError('expected at least one song (WAV file), got none');
  if (!v.out) throw new UsageError('--out: expected an output folder, got nothing');
  if (v.whole && v.seconds !== undefined) throw new UsageError('expected --whole or --seconds N, got both');
  const seconds = v.seconds === undefined ? null : Number(v.seconds);
  if (seconds !== null && !(seconds > 0)) throw new UsageError(`--seconds: expected a number > 0, got '${v.seconds}'`);
  const workers = v.workers === undefined ? null : Number(v.workers);
  if (workers !== null && !(Number.isInteger(workers) && workers >= 0)) throw new UsageError(`--workers: expected an integer >= 0, got '${v.workers}'`);
  return {
    songs: positionals,
    outDir: v.out,
    layers: v.layers === undefined ? null : parseList(v.layers, 'layers', 1),
    features: v.features === 'all' ? null : parseList(v.features, 'features', 0),
    modelDir: v.model ?? null,
    seconds,
    workers,
    force: v.force === true,
  };
}

/** One song in atlas.json. */
export interface AtlasSong {
  id: string;
  path: string;
  /** Seconds analysed. */
  seconds: number;
  frames: number;
  /** Spectrogram of the analysed part. */
  spectrogram: string;
}

/** atlas.json: everything index.html shows. */
export interface AtlasIndex {
  model: { id: string; name: string; sampleRateHz: number };
  songs: AtlasSong[];
  skipped: { path: string; reason: string }[];
  layers: { layer: number; name: string; displayName: string; features: number[]; labels: (string | null)[] }[];
  /** files[song][layer-index][feature-index] = { png, wav } relative to the atlas folder. */
  files: Record<string, { grid: string; features: { png: string; wav: string }[] }[]>;
  probes: FeatureReport[][] | null;
  seconds: number;
}

interface UnitJob {
  modelDir: string;
  songPath: string;
  songId: string;
  seconds: number | null;
  /** 0-based tap. */
  tap: number;
  /** This unit's features: a chunk of the layer's list, starting at list position `first`. */
  features: number[];
  first: number;
  outDir: string;
}

interface UnitResult {
  songId: string;
  tap: number;
  first: number;
  frames: number;
  secondsAnalysed: number;
  spectrogram: string;
  files: { png: string; wav: string }[];
  /** Grid tiles (RGBA, gridLayout's tile size) of the unit's features, in order. */
  tiles: Uint8Array[];
  /** Thread time per stage (ms). */
  stageMs: Record<string, number>;
}

/** Reads a song for the atlas (resampled, cut), its STFT and scaled input; throws with the reason. */
async function readSong(path: string, man: ModelManifest, seconds: number | null, minFrames: number) {
  const fe = man.frontEnd;
  const { signal: full } = await readAnalysisSignal(path, fe.sampleRateHz);
  const signal = seconds === null ? full : full.subarray(0, Math.min(full.length, Math.round(seconds * fe.sampleRateHz)));
  const spec = stft(signal, { nFft: fe.nFft, hopSamples: fe.hopSamples });
  const frames = spec.mag.length;
  if (frames < minFrames) throw new Error(`expected at least ${minFrames} STFT frames (${((minFrames * fe.hopSamples + fe.nFft) / fe.sampleRateHz).toFixed(2)} s), got ${frames}`);
  const bins = fe.nFft / 2 + 1;
  const mag = new Float32Array(frames * bins);
  spec.mag.forEach((m, t) => mag.set(m, t * bins));
  let sum = 0;
  for (const v of signal) sum += v * v;
  return { signal, spec, mag, frames, bins, rms: Math.sqrt(sum / Math.max(1, signal.length)) };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A mono 16-bit PCM WAV (44-byte header), byte for byte what encodeWav([samples], rate, 'pcm16')
 * writes (samples x 32768 rounded, clipped to [-32768, 32767], NaN as 0), without wavefile's
 * per-sample packing (~50x faster for a 30-s song).
 */
export function encodeWavPcm16Mono(samples: Float32Array, sampleRateHz: number): Uint8Array {
  const bytes = new Uint8Array(44 + 2 * samples.length);
  const v = new DataView(bytes.buffer);
  const tag = (at: number, s: string): void => { for (let i = 0; i < 4; i++) bytes[at + i] = s.charCodeAt(i); };
  tag(0, 'RIFF');
  v.setUint32(4, 36 + 2 * samples.length, true);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, sampleRateHz, true);
  v.setUint32(28, 2 * sampleRateHz, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  tag(36, 'data');
  v.setUint32(40, 2 * samples.length, true);
  if (LITTLE_ENDIAN) {
    // Int16Array stores NaN as 0, like wavefile.
    const pcm = new Int16Array(bytes.buffer, 44, samples.length);
    for (let i = 0; i < samples.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32768)));
  } else {
    for (let i = 0; i < samples.length; i++) {
      const q = Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32768)));
      v.setInt16(44 + 2 * i, q === q ? q : 0, true);
    }
  }
  return bytes;
}

/** Picture size of one feature's deconvolved spectrogram. */
export function featureImageSize(frames: number, bins: number): { width: number; height: number } {
  const step = Math.ceil(frames / 640);
  return { width: Math.ceil(frames / step), height: bins };
}

/** Runs work units of the atlas in this thread, reusing the model and the last song's forward pass. */
class UnitRunner {
  private model: LoadedModel | null = null;
  private deconv: BatchedDeconv | null = null;
  private song: { id: string; data: Awaited<ReturnType<typeof readSong>>; state: ReturnType<BatchedDeconv['forward']> } | null = null;

  async run(job: UnitJob, progress: (done: number) => void): Promise<UnitResult> {
    if (!this.model) {
      if (tf.getBackend() !== 'wasm' && !(await tf.setBackend('wasm'))) throw new Error("backend 'wasm': expected it to start, got unavailable");
      this.model = await loadModelFromDir(job.modelDir);
      this.deconv = new BatchedDeconv(this.model);
    }
    const model = this.model;
    const bd = this.deconv as BatchedDeconv;
    const man = model.manifest;
    const fe = man.frontEnd;
    const stageMs: Record<string, number> = {};
    let clock = performance.now();
    const lap = (stage: string): void => {
      const now = performance.now();
      stageMs[stage] = (stageMs[stage] ?? 0) + now - clock;
      clock = now;
    };
    if (this.song?.id !== job.songId) {
      this.song?.state.dispose();
      this.song = null;
      const data = await readSong(job.songPath, man, job.seconds, bd.minFrames);
      const x = inputTensor(networkInput(data.mag, data.frames, fe), data.frames, inputBins(fe));
      const state = bd.forward(x);
      x.dispose();
      this.song = { id: job.songId, data, state };
    }
    lap('song');
    const { data, state } = this.song;
    const { frames, bins } = data;
    const songDir = join(job.outDir, job.songId);
    const layerDir = join(songDir, `L${job.tap + 1}`);
    await mkdir(layerDir, { recursive: true });
    const size = featureImageSize(frames, bins);
    const spectrogram = `${job.songId}/spectrogram.png`;
    if (!existsSync(join(job.outDir, spectrogram))) await writeFile(join(job.outDir, spectrogram), encodePng(spectrogramRaster(data.mag, frames, bins, size.width, size.height)));
    const grid = gridLayout(1);
    const files: { png: string; wav: string }[] = [];
    const tiles: Uint8Array[] = [];
    const batch = bd.batchFor(frames);
    const cfg = { nFft: fe.nFft, hopSamples: fe.hopSamples };
    const deconvolved = new Float32Array(frames * bins);
    // Files are written while the next features are computed (fs runs on libuv's threads).
    const writes: Promise<void>[] = [];
    for (let i0 = 0; i0 < job.features.length; i0 += batch) {
      lap('other');
      const feats = job.features.slice(i0, i0 + batch);
      const masks = await bd.project(state, job.tap, feats);
      lap('deconv');
      const inBins = inputBins(fe);
      for (let j = 0; j < feats.length; j++) {
        const k = feats[j];
        // Mel models: the mask on the mel grid, mapped back onto the STFT bins.
        const mask = projectionToStft(masks.subarray(j * frames * inBins, (j + 1) * frames * inBins), frames, fe);
        // |X| x mask, as Choi plotted it (the rectified part: a negative mask flips the phase in the sound),
        // as the feature's picture and its grid tile.
        const [img, tile] = maskedRasters(data.mag, mask, deconvolved, frames, bins, [size, { width: grid.tileW, height: grid.tileH }]);
        lap('raster');
        const base = `${job.songId}/L${job.tap + 1}/f${k}`;
        writes.push(writeFile(join(job.outDir, `${base}.png`), encodePng(img)));
        lap('png');
        const y = auraliseSpectrum(data.spec.re, data.spec.im, mask, cfg, { mode: 'solo', rectify: false, maskScale: 0 }, data.signal.length);
        lap('istft');
        matchLevel(y, { targetRms: data.rms, maxGainDb: 24, peakCeilingDb: -1 });
        writes.push(writeFile(join(job.outDir, `${base}.wav`), encodeWavPcm16Mono(y, fe.sampleRateHz)));
        lap('wav');
        files.push({ png: `${base}.png`, wav: `${base}.wav` });
        tiles.push(tile.data);
        progress(1);
      }
    }
    await Promise.all(writes);
    lap('write');
    return { songId: job.songId, tap: job.tap, first: job.first, frames, secondsAnalysed: data.signal.length / fe.sampleRateHz, spectrogram, files, tiles, stageMs };
  }

  dispose(): void {
    this.song?.state.dispose();
    this.deconv?.dispose();
    this.model?.dispose();
    this.song = null;
    this.deconv = null;
    this.model = null;
  }
}

type WorkerMsg = { kind: 'progress'; done: number } | { kind: 'result'; result: UnitResult } | { kind: 'error'; songId: string; message: string } | { kind: 'idle' };

// Worker entry: runs the units the main thread sends, one at a time.
if (!isMainThread && (workerData as { kind?: string } | null)?.kind === 'auralscope-atlas') {
  const runner = new UnitRunner();
  const port = parentPort;
  port?.on('message', (job: UnitJob | null) => {
    if (job === null) {
      runner.dispose();
      port.close();
      return;
    }
    runner.run(job, (done) => port.postMessage({ kind: 'progress', done } satisfies WorkerMsg))
      .then((result) => port.postMessage({ kind: 'result', result } satisfies WorkerMsg, result.tiles.map((t) => t.buffer as ArrayBuffer)))
      .catch((e: unknown) => port.postMessage({ kind: 'error', songId: job.songId, message: (e as Error).message } satisfies WorkerMsg));
  });
  port?.postMessage({ kind: 'idle' } satisfies WorkerMsg);
}

/** Runs units on `workers` threads (0: this thread), handing each result to onResult; songs that fail are reported once and their other units dropped. */
async function runUnits(jobs: UnitJob[], workers: number, onProgress: (n: number) => void, onResult: (r: UnitResult) => Promise<void>): Promise<{ results: UnitResult[]; failed: Map<string, string> }> {
  const results: UnitResult[] = [];
  const pending: Promise<void>[] = [];
  const take = (r: UnitResult): void => {
    results.push(r);
    pending.push(onResult(r));
  };
  const failed = new Map<string, string>();
  const queue = [...jobs];
  const next = (): UnitJob | null => {
    while (queue.length) {
      const j = queue.shift() as UnitJob;
      if (!failed.has(j.songId)) return j;
    }
    return null;
  };
  if (workers === 0) {
    const runner = new UnitRunner();
    try {
      for (let j = next(); j; j = next()) {
        try {
          take(await runner.run(j, onProgress));
        } catch (e) {
          failed.set(j.songId, (e as Error).message);
        }
      }
    } finally {
      runner.dispose();
    }
    await Promise.all(pending);
    return { results, failed };
  }
  await Promise.all(Array.from({ length: workers }, () => new Promise<void>((resolve, reject) => {
    // Run from TypeScript source (tsx), the worker registers tsx's loader before importing this file.
    const url = new URL(import.meta.url);
    const w = url.pathname.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`, { eval: true, workerData: { kind: 'auralscope-atlas' } })
      : new Worker(url, { workerData: { kind: 'auralscope-atlas' } });
    const feed = (): void => {
      const j = next();
      w.postMessage(j);
    };
    w.on('message', (m: WorkerMsg) => {
      if (m.kind === 'progress') onProgress(m.done);
      else if (m.kind === 'result') { feed(); take(m.result); } else if (m.kind === 'error') { failed.set(m.songId, m.message); feed(); } else feed();
    });
    w.on('error', reject);
    w.on('exit', () => resolve());
  })));
  await Promise.all(pending);
  return { results, failed };
}

/** Builds the whole atlas; returns its index (also written as atlas.json). `log` gets progress lines; stageMs gets the threads' time per stage (ms, summed). */
export async function atlas(opts: AtlasOptions, log: (line: string, sameLine?: boolean) => void = () => {}, stageMs: Record<string, number> = {}): Promise<AtlasIndex> {
  if (existsSync(opts.outDir) && readdirSync(opts.outDir).length > 0) {
    if (!opts.force) throw new Error(`--out '${opts.outDir}': expected a new or empty folder, got one with ${readdirSync(opts.outDir).length} entries (pass --force to replace it)`);
    await rm(opts.outDir, { recursive: true, force: true });
  }
  await mkdir(opts.outDir, { recursive: true });
  const modelDir = opts.modelDir ?? defaultModelDir();
  const man = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8')) as ModelManifest;
  const taps = man.taps;
  const layers = opts.layers ?? taps.map((_, i) => i + 1);
  for (const l of layers) if (l > taps.length) throw new UsageError(`--layers: expected 1..${taps.length}, got ${l}`);
  const featuresOf = (tap: number): number[] => {
    const c = taps[tap].channels;
    const f = opts.features ?? Array.from({ length: c }, (_, i) => i);
    for (const k of f) if (k >= c) throw new UsageError(`--features: expected 0..${c - 1} for ${taps[tap].displayName}, got ${k}`);
    return f;
  };
  // Songs: unique ids from their file names; non-audio files are found here, before any work.
  const skipped: { path: string; reason: string }[] = [];
  const songs: { path: string; id: string }[] = [];
  const used = new Set<string>();
  for (const path of opts.songs) {
    try {
      const head = readFileSync(path).subarray(0, 12);
      if (head.length < 12 || !['RIFF', 'RIFX', 'RF64'].includes(head.subarray(0, 4).toString('latin1')) || head.subarray(8, 12).toString('latin1') !== 'WAVE') {
        throw new Error(`expected a RIFF/WAVE file, got ${head.length} bytes starting "${head.toString('latin1').replace(/[^\x20-\x7e]/g, '.')}"`);
      }
    } catch (e) {
      skipped.push({ path, reason: (e as Error).message });
      continue;
    }
    let id = basename(path).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_-]+/g, '_') || 'song';
    for (let n = 2; used.has(id); n++) id = `${id.replace(/-\d+$/, '')}-${n}`;
    used.add(id);
    songs.push({ path, id });
  }
  for (const s of skipped) log(`atlas: skipped ${s.path}: ${s.reason}`);
  // Units of at most UNIT_FEATURES features, per song the deepest (slowest) layers first, so the
  // threads finish together on small units; threads on the same song each run its forward pass once.
  const jobs: UnitJob[] = [];
  for (const s of songs) {
    for (const l of [...layers].reverse()) {
      const f = featuresOf(l - 1);
      const unit = Math.max(1, opts.unitFeatures ?? UNIT_FEATURES);
      for (let first = 0; first < f.length; first += unit) {
        jobs.push({ modelDir, songPath: s.path, songId: s.id, seconds: opts.seconds, tap: l - 1, features: f.slice(first, first + unit), first, outDir: opts.outDir });
      }
    }
  }
  const total = jobs.reduce((n, j) => n + j.features.length, 0);
  const workers = Math.min(opts.workers ?? Math.min(jobs.length, availableParallelism()), jobs.length);
  // Per song and layer, the grid is filled in this thread as units come back, written once complete.
  const grids = new Map<string, { img: Raster; left: number }>();
  const onResult = async (r: UnitResult): Promise<void> => {
    for (const [k, v] of Object.entries(r.stageMs)) stageMs[k] = (stageMs[k] ?? 0) + v;
    const key = `${r.songId}/L${r.tap + 1}`;
    const feats = featuresOf(r.tap);
    const layout = gridLayout(feats.length);
    let g = grids.get(key);
    if (!g) {
      g = { img: raster(layout.width, layout.height, [24, 24, 28]), left: feats.length };
      grids.set(key, g);
    }
    r.tiles.forEach((tile, j) => {
      const n = r.first + j;
      const gx = layout.pad + (n % layout.columns) * (layout.tileW + layout.pad);
      const gy = layout.pad + Math.floor(n / layout.columns) * (layout.labelH + layout.tileH + layout.pad);
      drawText((g as { img: Raster }).img, String(feats[n]), gx + 1, gy + 2, 2, [230, 230, 230]);
      blit((g as { img: Raster }).img, { width: layout.tileW, height: layout.tileH, data: tile }, gx, gy + layout.labelH);
    });
    g.left -= r.tiles.length;
    if (g.left === 0) {
      await writeFile(join(opts.outDir, `${key}/grid.png`), encodePng(g.img));
      grids.delete(key);
    }
  };
  let done = 0;
  const t0 = performance.now();
  const { results, failed } = await runUnits(jobs, workers, (n) => {
    done += n;
    const s = (performance.now() - t0) / 1000;
    log(`atlas: ${done}/${total} features (${((100 * done) / Math.max(1, total)).toFixed(0)} %), ${s.toFixed(1)} s, ${workers || 1} thread${workers > 1 ? 's' : ''}`, true);
  }, onResult);
  for (const [songId, reason] of failed) {
    const s = songs.find((x) => x.id === songId);
    skipped.push({ path: s?.path ?? songId, reason });
    log(`atlas: skipped ${s?.path ?? songId}: ${reason}`);
  }
  const ok = songs.filter((s) => !failed.has(s.id));
  const files: AtlasIndex['files'] = {};
  const songInfo: AtlasSong[] = [];
  for (const s of ok) {
    const rs = results.filter((r) => r.songId === s.id);
    files[s.id] = layers.map((l) => {
      const parts = rs.filter((x) => x.tap === l - 1).sort((a, b) => a.first - b.first);
      return { grid: `${s.id}/L${l}/grid.png`, features: parts.flatMap((x) => x.files) };
    });
    songInfo.push({ id: s.id, path: s.path, seconds: rs[0].secondsAnalysed, frames: rs[0].frames, spectrogram: rs[0].spectrogram });
  }
  const index: AtlasIndex = {
    model: { id: man.id, name: man.name, sampleRateHz: man.frontEnd.sampleRateHz },
    songs: songInfo,
    skipped,
    layers: layers.map((l) => ({
      layer: l, name: taps[l - 1].layer, displayName: taps[l - 1].displayName, features: featuresOf(l - 1),
      labels: featuresOf(l - 1).map((k) => man.featureLabels?.[taps[l - 1].layer]?.[k] ?? null),
    })),
    files,
    probes: readProbeReport(modelDir, man),
    seconds: (performance.now() - t0) / 1000,
  };
  await writeFile(join(opts.outDir, 'atlas.json'), JSON.stringify(index, null, 1));
  await writeFile(join(opts.outDir, 'index.html'), atlasHtml(index));
  log(`atlas: wrote ${opts.outDir}/index.html: ${ok.length} song${ok.length === 1 ? '' : 's'} x ${layers.length} layers, ${done} features in ${index.seconds.toFixed(1)} s${skipped.length ? `, ${skipped.length} skipped` : ''}`);
  return index;
}

/** The probe analysis saved beside the model by label-features (feature-analysis.json), if any. */
function readProbeReport(modelDir: string, man: ModelManifest): FeatureReport[][] | null {
  const p = join(modelDir, 'feature-analysis.json');
  if (!existsSync(p)) return null;
  try {
    const r = JSON.parse(readFileSync(p, 'utf8')) as { model?: string; layers?: FeatureReport[][] };
    return r.model === man.id && Array.isArray(r.layers) ? r.layers : null;
  } catch {
    return null;
  }
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The offline page: layer and feature pickers, songs side by side, grids, the index definitions and the probe table. */
export function atlasHtml(index: AtlasIndex): string {
  const data = JSON.stringify(index).replace(/</g, '\\u003c');
  const defs = Object.entries(INDEX_DEFINITIONS).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('');
  const probeTable = index.probes
    ? index.layers.map((l) => {
      const rows = (index.probes?.[l.layer - 1] ?? []).map((r, k) => `<tr><td>${k}</td><td>${esc(r.label)}</td>${(['onsetSelectivity', 'keyInvariance', 'instrumentInvariance', 'chordSelectivity', 'harmonicity', 'centroidHz', 'bandwidthHz', 'activity'] as const).map((f) => `<td>${Number.isFinite(r[f]) ? r[f].toFixed(f.endsWith('Hz') ? 0 : 2) : '-'}</td>`).join('')}<td>${esc(r.preferredQuality)}</td></tr>`).join('');
      return `<h3>${esc(l.displayName)}</h3><table><tr><th>feature</th><th>label</th><th>OSI</th><th>KI</th><th>II</th><th>CQS</th><th>HI</th><th>centroid Hz</th><th>bandwidth Hz</th><th>activity</th><th>quality</th></tr>${rows}</table>`;
    }).join('')
    : '<p>No probe analysis for this model yet (run <code>npm run cli -- label-features --model DIR</code>).</p>';
  const skipped = index.skipped.length ? `<p class="skip">Skipped: ${index.skipped.map((s) => `${esc(s.path)} (${esc(s.reason)})`).join('; ')}</p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Auralscope atlas: ${esc(index.model.name)}</title>
<style>
body{font:14px system-ui,sans-serif;background:#111;color:#ddd;margin:1em}a{color:#9cf}
.songs{display:flex;gap:1em;flex-wrap:wrap}.song{flex:1;min-width:320px}.song img{width:100%;image-rendering:pixelated;background:#000}
audio{width:100%}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #444;padding:2px 6px;text-align:right}
td:nth-child(2){text-align:left}dt{font-weight:bold}dd{margin:0 0 .5em 1em}.skip{color:#f96}.grid img{max-width:100%}
</style></head><body>
<h1>Auralscope atlas: ${esc(index.model.name)}</h1>
<p>${index.songs.length} song(s), analysed as one window each at ${index.model.sampleRateHz} Hz; deconvolved spectrograms |X| &times; mask (dB, 80 dB range) and their auralisations.</p>
${skipped}
<p>Layer <select id="layer"></select> Feature <select id="feature"></select> <span id="label"></span></p>
<div class="songs" id="songs"></div>
<h2>All features of this layer</h2><div class="songs grid" id="grids"></div>
<h2>Feature analysis (probe sounds)</h2>${probeTable}
<h2>Index definitions</h2><dl>${defs}</dl>
<script type="application/json" id="atlas-data">${data}</script>
<script>
const A = JSON.parse(document.getElementById('atlas-data').textContent);
const L = document.getElementById('layer'), F = document.getElementById('feature');
A.layers.forEach((l, i) => L.add(new Option(l.displayName, String(i))));
function features() {
  const l = A.layers[Number(L.value)];
  F.innerHTML = '';
  l.features.forEach((k, i) => F.add(new Option(k + (l.labels[i] ? ' - ' + l.labels[i] : ''), String(i))));
}
function show() {
  const li = Number(L.value), fi = Number(F.value), l = A.layers[li];
  document.getElementById('label').textContent = l.labels[fi] || '';
  const songs = document.getElementById('songs'), grids = document.getElementById('grids');
  songs.innerHTML = ''; grids.innerHTML = '';
  for (const s of A.songs) {
    const f = A.files[s.id][li].features[fi];
    const d = document.createElement('div'); d.className = 'song';
    d.innerHTML = '<h3></h3><img alt="deconvolved spectrogram"><audio controls preload="none"></audio><img alt="spectrogram">';
    d.querySelector('h3').textContent = s.id + ' (' + s.seconds.toFixed(1) + ' s)';
    const imgs = d.querySelectorAll('img'); imgs[0].src = f.png; imgs[1].src = s.spectrogram;
    d.querySelector('audio').src = f.wav;
    songs.appendChild(d);
    const g = document.createElement('div'); g.className = 'song';
    g.innerHTML = '<h3></h3><a><img alt="grid"></a>';
    g.querySelector('h3').textContent = s.id;
    g.querySelector('a').href = A.files[s.id][li].grid; g.querySelector('img').src = A.files[s.id][li].grid;
    grids.appendChild(g);
  }
}
L.onchange = () => { features(); show(); }; F.onchange = show;
features(); show();
</script>
<noscript>${index.songs.map((s) => index.layers.map((l, li) => `<p>${esc(s.id)} ${esc(l.displayName)}: <a href="${esc(index.files[s.id][li].grid)}">grid</a> ${index.files[s.id][li].features.map((f, fi) => `<a href="${esc(f.png)}">f${l.features[fi]}.png</a> <a href="${esc(f.wav)}">wav</a>`).join(' ')}</p>`).join('')).join('')}</noscript>
</body></html>
`;
}

/** The atlas command: parses argv, runs, prints errors; returns the exit code. */
export async function runAtlas(argv: string[]): Promise<number> {
  return runCommand('atlas', ATLAS_USAGE, argv, parseAtlasArgs, async (opts) => {
    const tty = process.stderr.isTTY;
    const index = await atlas(opts, (line, same) => {
      if (same && tty) process.stderr.write(`\r${line}`);
      else if (!same) process.stderr.write(`${tty ? '\n' : ''}${line}\n`);
    });
    return index.songs.length > 0 ? 0 : 1;
  });
}

/**
 * Bench hook for `npm run bench`: the whole atlas for the model in modelDir (all layers x all
 * features) over 3 songs of 30 s made in code (the demo piece at three offsets, looped), each song
 * one window, into a temporary folder that is removed afterwards.
 */
export async function atlasBench(modelDir: string, options: { workers?: number; seconds?: number } = {}): Promise<{ seconds: number; songs: number; features: number; workers: number; outBytes: number; stageSeconds: Record<string, number> }> {
  const { mkdtemp, stat } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { renderDemo } = await import('../dsp/demo');
  const man = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8')) as ModelManifest;
  const rate = man.frontEnd.sampleRateHz;
  const dir = await mkdtemp(join(tmpdir(), 'auralscope-atlas-bench-'));
  try {
    const demo = renderDemo(rate);
    const len = Math.round((options.seconds ?? 30) * rate);
    const songs: string[] = [];
    for (let s = 0; s < 3; s++) {
      const x = new Float32Array(len);
      const off = Math.round((s * demo.length) / 3);
      for (let i = 0; i < len; i++) x[i] = demo[(off + i) % demo.length] * (s === 1 ? 0.5 : 1);
      const p = join(dir, `song${s + 1}.wav`);
      await writeFile(p, encodeWav([x], rate, 'float32'));
      songs.push(p);
    }
    const out = join(dir, 'atlas');
    const workers = options.workers ?? Math.min(2, availableParallelism());
    const t0 = performance.now();
    const stageMs: Record<string, number> = {};
    const index = await atlas({ songs, outDir: out, layers: null, features: null, modelDir, seconds: null, workers, force: false }, () => {}, stageMs);
    const seconds = (performance.now() - t0) / 1000;
    let outBytes = 0;
    const walk = async (d: string): Promise<void> => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(join(d, e.name));
        else outBytes += (await stat(join(d, e.name))).size;
      }
    };
    await walk(out);
    const features = index.layers.reduce((n, l) => n + l.features.length, 0) * index.songs.length;
    const stageSeconds = Object.fromEntries(Object.entries(stageMs).map(([k, v]) => [k, Math.round(v) / 1000]));
    return { seconds, songs: index.songs.length, features, workers, outBytes, stageSeconds };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
