/**
 * `npm run bench [-- --model DIR] [--hops N] [--no-build] [--no-browser] [--no-torch] [--no-atlas]`:
 * times the analysis of one 257 x 173 window per hop, in Node (tfjs wasm and cpu), in headless
 * Chromium (wasm, webgl, webgpu through debug.benchOn, on the app's analysis worker), in PyTorch
 * (training/bench_torch.py, as a ratio row) and the whole atlas (src/cli/atlas.ts atlasBench).
 * Writes bench/report.json and the table between the bench markers in README.md. Not run by CI.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, getPriority, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Analyzer, disposeAnalysis, type Selection } from '../src/model/analyzer';
import { inputTensor, scaleMagnitudes } from '../src/model/input';
import { loadModelFromFiles, type LoadedModel } from '../src/model/load';
import { renderDemo } from '../src/dsp/demo';
import { stft } from '../src/dsp/stft';
import { atlasBench } from '../src/cli/atlas';
import type { ModelManifest } from '../src/shared/manifest';
import type { AuralscopeApi, BackendBench, Status } from '../src/shared/api';
import { fixtureFiles, makeFixture, paperSpec, writeFixture } from '../test/fixtures/fixture-net/make';
import { browserSkipReason, launch, openApp, ROOT, serve, waitForStatus } from '../test/browser/harness';

const RATE_HZ = 11_025;
const N_FFT = 512;
const HOP_SAMPLES = 256;
const WINDOW_FRAMES = 173;
/** Frames per hop group: the live loop analyses once per 2 frames. */
const HOP_GROUP_FRAMES = 2;
const HOP_MS = (HOP_GROUP_FRAMES * HOP_SAMPLES * 1000) / RATE_HZ;
/** Channels of the fixture network when no real model is bundled (the planned default width). */
const FIXTURE_CHANNELS = 16;

/** Median, p95 (nearest rank) and count of a list of ms. */
interface Stat { medianMs: number; p95Ms: number; runs: number }

function stat(ms: number[]): Stat {
  const s = [...ms].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { medianMs: NaN, p95Ms: NaN, runs: 0 };
  const medianMs = n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
  return { medianMs, p95Ms: s[Math.max(0, Math.ceil(0.95 * n) - 1)], runs: n };
}

interface BenchModel {
  /** What was measured, in words. */
  description: string;
  /** Why this network and not the bundled one (null when it is the bundled one or --model). */
  note: string | null;
  id: string;
  files: Map<string, ArrayBuffer>;
  /** A folder holding the model (for the atlas). */
  dir: string;
  manifest: ModelManifest;
  cleanup(): void;
}

function readModelDir(dir: string): Map<string, ArrayBuffer> {
  const files = new Map<string, ArrayBuffer>();
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.json') && !name.endsWith('.bin')) continue;
    const b = readFileSync(join(dir, name));
    files.set(name, b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
  }
  return files;
}

/** The model to measure: --model DIR, else the bundled default, else the paper-shaped fixture (saying why). */
async function resolveModel(modelArg: string | undefined): Promise<BenchModel> {
  const fromDir = (dir: string, description: string, note: string | null): BenchModel => {
    const files = readModelDir(dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ModelManifest;
    return { description, note, id: manifest.id, files, dir, manifest, cleanup: () => undefined };
  };
  if (modelArg) return fromDir(modelArg, `model folder ${modelArg}`, null);
  let note: string;
  const indexPath = join(ROOT, 'models', 'index.json');
  if (!existsSync(indexPath)) {
    note = 'models/index.json does not exist';
  } else {
    const id = (JSON.parse(readFileSync(indexPath, 'utf8')) as { default?: string }).default ?? '';
    const dir = join(ROOT, 'models', id);
    if (!id || !existsSync(join(dir, 'manifest.json'))) {
      note = `models/index.json names '${id}' as the default, but models/${id}/ does not exist`;
    } else {
      const man = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ModelManifest;
      const generator = String((man.provenance as { generator?: unknown } | undefined)?.generator ?? '');
      if (!/fixture/i.test(generator) && !/random/i.test(id)) return fromDir(dir, `bundled default model models/${id}/`, null);
      note = `models/index.json names '${id}' as the default, a local random fixture (provenance: ${generator || 'none'}), not a trained model`;
    }
  }
  const fixture = await makeFixture({ ...paperSpec(FIXTURE_CHANNELS), id: `paper-${FIXTURE_CHANNELS}` });
  const dir = mkdtempSync(join(tmpdir(), 'auralscope-bench-model-'));
  await writeFixture(fixture, dir);
  return {
    description: `fixture network paperSpec(${FIXTURE_CHANNELS}) from test/fixtures/fixture-net/make.ts (5 x [3x3 conv ${FIXTURE_CHANNELS} ch, ReLU, 2x2 pool], GAP, dense 10, seeded random weights)`,
    note: `${note}: measured the fixture network instead`,
    id: fixture.spec.id,
    files: fixtureFiles(fixture),
    dir,
    manifest: fixture.manifest,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The demo piece's magnitudes at 11,025 Hz, frame-major [frames][257], and the frame count. */
function demoSpectrogram(): { mag: Float32Array; frames: number; bins: number } {
  const { mag } = stft(renderDemo(RATE_HZ), { nFft: N_FFT, hopSamples: HOP_SAMPLES });
  const bins = N_FFT / 2 + 1;
  const out = new Float32Array(mag.length * bins);
  mag.forEach((m, t) => out.set(m, t * bins));
  return { mag: out, frames: mag.length, bins };
}

/** Hop h's window of the demo spectrogram: frames [2h, 2h + 173) (wrapping round the loop). */
function windowAt(spec: { mag: Float32Array; frames: number; bins: number }, hop: number): Float32Array {
  const out = new Float32Array(WINDOW_FRAMES * spec.bins);
  for (let t = 0; t < WINDOW_FRAMES; t++) {
    const src = (hop * HOP_GROUP_FRAMES + t) % spec.frames;
    out.set(spec.mag.subarray(src * spec.bins, (src + 1) * spec.bins), t * spec.bins);
  }
  return out;
}

interface NodeRow {
  backend: string;
  hops: number;
  capNote: string | null;
  /** tfjs-layers predict() of the same model.json: a pure forward pass (null when it could not load). */
  forward: Stat | null;
  forwardError?: string;
  /** analyseTensors, Grad-CAM of label 0 at the last tap: forward + head gradient. */
  gradcamLast: Stat;
  /** analyseTensors, deconvnet of feature 0 at the last tap / the first tap. */
  deconvLast: Stat;
  deconvFirst: Stat;
  /** Whole hop: scaling, input tensor, analyse() with read-back (deconvnet, last tap). */
  wholeHop: Stat;
  realTimeFactor: number;
  /** The same stages in process CPU time (user + system), which excludes waiting for a busy core. */
  cpuTime: Record<'forward' | 'gradcamLast' | 'deconvLast' | 'deconvFirst' | 'wholeHop', Stat>;
  cpuTimeRealTimeFactor: number;
}

/** Times the Node stages on one backend over `hops` hops (each stage once per hop, interleaved). */
async function benchNode(backend: string, bm: BenchModel, spec: ReturnType<typeof demoSpectrogram>, hops: number, capMs: number): Promise<NodeRow> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend '${backend}': expected it to start, got unavailable`);
  await tf.ready();
  const model: LoadedModel = await loadModelFromFiles(bm.files);
  const analyzer = new Analyzer(model);
  let layers: tf.LayersModel | null = null;
  let forwardError: string | undefined;
  try {
    const mj = JSON.parse(new TextDecoder().decode(bm.files.get('model.json'))) as { modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
    const specs = mj.weightsManifest.flatMap((g) => g.weights);
    const parts = mj.weightsManifest.flatMap((g) => g.paths.map((p) => new Uint8Array(bm.files.get(p) ?? new ArrayBuffer(0))));
    const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) { data.set(p, off); off += p.length; }
    layers = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: specs, weightData: data.buffer }));
  } catch (e) {
    forwardError = `tfjs-layers could not load model.json: ${(e as Error).message}`;
  }
  const scaling = model.manifest.frontEnd.scaling;
  const lastTap = model.graph.taps.length - 1;
  const sels: Record<'gradcamLast' | 'deconvLast' | 'deconvFirst', Selection> = {
    gradcamLast: { layer: lastTap, feature: 0, method: 'gradcam', label: 0 },
    deconvLast: { layer: lastTap, feature: 0, method: 'deconvnet' },
    deconvFirst: { layer: 0, feature: 0, method: 'deconvnet' },
  };
  type Stage = 'forward' | 'gradcamLast' | 'deconvLast' | 'deconvFirst' | 'wholeHop';
  const stages: Stage[] = ['forward', 'gradcamLast', 'deconvLast', 'deconvFirst', 'wholeHop'];
  const times = Object.fromEntries(stages.map((k) => [k, [] as number[]])) as Record<Stage, number[]>;
  const cpuTimes = Object.fromEntries(stages.map((k) => [k, [] as number[]])) as Record<Stage, number[]>;
  // Process CPU time (user + system) next to wall time: on a machine loaded by other jobs the
  // wall time includes waiting for a core, the CPU time does not (the kernels run on this thread).
  let c0 = process.cpuUsage(), w0 = 0;
  const begin = (): void => { c0 = process.cpuUsage(); w0 = performance.now(); };
  const end = (k: Stage, record: boolean): void => {
    const wall = performance.now() - w0, c = process.cpuUsage(c0);
    if (!record) return;
    times[k].push(wall);
    cpuTimes[k].push((c.user + c.system) / 1000);
  };
  const runHop = async (h: number, record: boolean): Promise<void> => {
    const mag = windowAt(spec, h);
    const input = inputTensor(scaleMagnitudes(mag, scaling), WINDOW_FRAMES, spec.bins);
    try {
      if (layers) {
        begin();
        const y = layers.predict(input) as tf.Tensor;
        await y.data();
        end('forward', record);
        y.dispose();
      }
      for (const k of ['gradcamLast', 'deconvLast', 'deconvFirst'] as const) {
        // wasm and cpu run every kernel inside analyseTensors (synchronously).
        begin();
        const t = analyzer.analyseTensors(input, sels[k]);
        end(k, record);
        disposeAnalysis(t);
      }
    } finally {
      input.dispose();
    }
    begin();
    const x = inputTensor(scaleMagnitudes(mag, scaling), WINDOW_FRAMES, spec.bins);
    try {
      await analyzer.analyse(x, sels.deconvLast);
    } finally {
      x.dispose();
    }
    end('wholeHop', record);
  };
  await runHop(0, false); // warm-up
  const start = performance.now();
  let done = 0;
  while (done < hops && (done === 0 || performance.now() - start < capMs)) {
    await runHop(done, true);
    done++;
    if (done % 10 === 0) process.stdout.write(`  ${backend}: ${done}/${hops} hops\n`);
  }
  layers?.dispose();
  analyzer.dispose();
  model.dispose();
  const wholeHop = stat(times.wholeHop);
  return {
    backend,
    hops: done,
    capNote: done < hops ? `stopped after ${done} hops (time cap ${capMs / 1000} s)` : null,
    forward: layers || !forwardError ? stat(times.forward) : null,
    ...(forwardError ? { forwardError } : {}),
    gradcamLast: stat(times.gradcamLast),
    deconvLast: stat(times.deconvLast),
    deconvFirst: stat(times.deconvFirst),
    wholeHop,
    realTimeFactor: HOP_MS / wholeHop.medianMs,
    cpuTime: Object.fromEntries(stages.map((k) => [k, stat(cpuTimes[k])])) as Record<Stage, Stat>,
    cpuTimeRealTimeFactor: HOP_MS / stat(cpuTimes.wholeHop).medianMs,
  };
}

interface BrowserRow {
  backend: string;
  requestedHops: number;
  error?: string;
  warmUpMs?: number;
  compute?: Stat;
  readback?: Stat;
  wholeHop?: Stat;
  realTimeFactor?: number;
  capNote?: string | null;
}

type Win = { auralscope: AuralscopeApi };

/** Loads the model in the app in headless Chromium and runs debug.benchOn per backend. */
async function benchBrowser(bm: BenchModel, plan: { backend: string; hops: number; maxMs: number }[]): Promise<{ rows: BrowserRow[]; status: Partial<Status> | null; errors: string[]; selection: string }> {
  const fixtures = new Map<string, Uint8Array>();
  for (const [name, bytes] of bm.files) fixtures.set(`bench-model/${name}`, new Uint8Array(bytes));
  const server = await serve({ isolated: true, fixtures });
  const browser = await launch();
  try {
    const { page, errors } = await openApp(browser, server.url, '?source=demo');
    await page.evaluate((u) => (window as unknown as Win).auralscope.loadModel(u), `${server.url}/fixtures/bench-model/`);
    await waitForStatus(page, (s) => s.model?.id === bm.id && s.counters.hopsAnalysed > 0, 120_000, `the model '${bm.id}' to run`);
    const lastTap = bm.manifest.taps.length - 1;
    await page.evaluate((l) => (window as unknown as Win).auralscope.select({ layer: l, feature: 0, method: 'deconvnet' }), lastTap);
    const rows: BrowserRow[] = [];
    for (const p of plan) {
      process.stdout.write(`  chromium ${p.backend}: up to ${p.hops} analyses or ${p.maxMs / 1000} s\n`);
      const got = await Promise.race([
        page.evaluate(async ([b, n, m]) => {
          try {
            return await (window as unknown as Win).auralscope.debug.benchOn(b as string, n as number, m as number);
          } catch (e) {
            return String((e as Error).message ?? e);
          }
        }, [p.backend, p.hops, p.maxMs] as const),
        new Promise<string>((r) => setTimeout(() => r(`no answer within ${(p.maxMs + 180_000) / 1000} s`), p.maxMs + 180_000)),
      ]);
      if (typeof got === 'string') {
        rows.push({ backend: p.backend, requestedHops: p.hops, error: got });
        continue;
      }
      const r = got as BackendBench;
      const wholeHop = stat(r.totalMs);
      rows.push({
        backend: r.backend, requestedHops: p.hops, warmUpMs: r.warmUpMs, compute: stat(r.computeMs), readback: stat(r.readbackMs), wholeHop,
        realTimeFactor: HOP_MS / wholeHop.medianMs,
        capNote: r.totalMs.length < p.hops ? `stopped after ${r.totalMs.length} analyses (time cap ${p.maxMs / 1000} s)` : null,
      });
    }
    const s = await page.evaluate(() => (window as unknown as Win).auralscope.status());
    return {
      rows,
      status: { backend: s.backend, backendReason: s.backendReason, renderer: s.renderer, isolated: s.isolated },
      errors,
      selection: `deconvnet, feature 0 of Layer ${lastTap + 1}`,
    };
  } finally {
    await browser.close();
    await server.close();
  }
}

interface TorchResult {
  torch: string;
  channels: number[];
  threads: Record<string, { forward: Stat; forwardBackward: Stat }>;
}

function benchTorch(bm: BenchModel, runs: number): TorchResult | { error: string } {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return { error: `${py} not found` };
  const channels = bm.manifest.taps.map((t) => t.channels).join('-');
  const r = spawnSync(py, [join(ROOT, 'training/bench_torch.py'), '--channels', channels, '--tags', String(bm.manifest.labels.length), '--runs', String(runs), '--threads', '1,2'], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) return { error: `bench_torch.py exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}` };
  const out = JSON.parse(r.stdout) as TorchResult | { error: string };
  return out;
}

const f1 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ms = (s: Stat | null | undefined): string => (s && s.runs ? `${f1(s.medianMs)} / ${f1(s.p95Ms)}` : '–');

/** The README table (markdown) from the report. */
function readmeTable(rep: Report): string {
  const lines: string[] = [];
  const m = rep.machine;
  lines.push(`Measured ${rep.date.slice(0, 10)} on ${m.cpus}x ${m.cpuModel} (${m.arch}), Node ${m.node}, load average ${m.loadAverageStart.map((x) => x.toFixed(1)).join(' / ')} at the start (1/5/15 min; other jobs share the machine), nice ${m.nice}. ` +
    `Network: ${rep.model.description}${rep.model.note ? ` — ${rep.model.note}` : ''}. Input: 257 x 173 windows of the demo piece (11,025 Hz, n_fft 512, hop 256), scaled like live input. ` +
    `Times are median / p95 in ms of wall time ("Node, CPU time" rows: the process's user + system time for the same calls, which leaves out waiting for a core on the loaded machine); the real-time factor is the hop group (${HOP_MS.toFixed(1)} ms) / the median whole hop (above 1: keeps up).`);
  lines.push('');
  lines.push('| where | backend | runs | forward | fwd + head gradient (Grad-CAM, last layer) | fwd + deconv (last layer) | fwd + deconv (layer 1) | read-back | whole hop | real-time factor |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rep.node) {
    const c = r.cpuTime;
    lines.push(`| Node | ${r.backend} | ${r.hops}${r.capNote ? ' (capped)' : ''} | ${ms(r.forward)} | ${ms(r.gradcamLast)} | ${ms(r.deconvLast)} | ${ms(r.deconvFirst)} | in whole hop | ${ms(r.wholeHop)} | ${f1(r.realTimeFactor)} |`);
    lines.push(`| Node, CPU time | ${r.backend} | ${r.hops} | ${ms(c.forward)} | ${ms(c.gradcamLast)} | ${ms(c.deconvLast)} | ${ms(c.deconvFirst)} | in whole hop | ${ms(c.wholeHop)} | ${f1(r.cpuTimeRealTimeFactor)} |`);
  }
  if ('error' in rep.browser) {
    lines.push(`| Chromium | – | – | not run: ${rep.browser.error} | | | | | | |`);
  } else {
    for (const r of rep.browser.rows) {
      if (r.error) lines.push(`| Chromium | ${r.backend} | 0 | failed: ${r.error.replace(/\|/g, '/').slice(0, 160)} | | | | | | |`);
      else lines.push(`| Chromium | ${r.backend} | ${r.wholeHop?.runs ?? 0}${r.capNote ? ' (capped)' : ''} | – | – | ${ms(r.compute)} (queued on GPU backends) | – | ${ms(r.readback)} | ${ms(r.wholeHop)} | ${f1(r.realTimeFactor)} |`);
    }
  }
  if ('error' in rep.torch) {
    lines.push(`| PyTorch | – | – | not run: ${rep.torch.error} | | | | | | |`);
  } else {
    for (const [n, t] of Object.entries(rep.torch.threads)) {
      lines.push(`| PyTorch ${rep.torch.torch} | cpu, ${n} thread${n === '1' ? '' : 's'} | ${t.forward.runs} | ${ms(t.forward)} | – | ${ms(t.forwardBackward)} (backward to the input) | – | – | – | – |`);
    }
  }
  lines.push('');
  for (const r of rep.ratios) lines.push(`- ${r.what}: **${f1(r.ratio)}x** (${f1(r.tfjsMs)} ms / ${f1(r.torchMs)} ms)`);
  if (rep.atlas) {
    lines.push(`- Atlas (${'error' in rep.atlas ? 'failed' : `${rep.atlas.songs} songs of 30 s x 5 layers x all features = ${rep.atlas.features} deconvolved features, ${rep.atlas.workers} workers`}): ` +
      ('error' in rep.atlas ? rep.atlas.error : `**${rep.atlas.seconds.toFixed(1)} s** (target < 60 s)`));
  } else {
    lines.push('- Atlas: not run (`--no-atlas`)');
  }
  for (const n of rep.notes) lines.push(`- ${n}`);
  return lines.join('\n');
}

interface Report {
  date: string;
  machine: { cpus: number; cpuModel: string; arch: string; node: string; nice: number; loadAverageStart: number[]; loadAverageEnd: number[] };
  model: { description: string; note: string | null; id: string; taps: { layer: string; channels: number }[] };
  hopGroupMs: number;
  node: NodeRow[];
  browser: { rows: BrowserRow[]; selection: string; status: Partial<Status> | null; pageErrors: string[] } | { error: string };
  torch: TorchResult | { error: string };
  ratios: { what: string; tfjsMs: number; torchMs: number; ratio: number }[];
  atlas: Awaited<ReturnType<typeof atlasBench>> | { error: string } | null;
  notes: string[];
  seconds: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' }, hops: { type: 'string', default: '50' }, 'cpu-hops': { type: 'string', default: '10' },
      'no-build': { type: 'boolean', default: false }, 'no-browser': { type: 'boolean', default: false },
      'no-torch': { type: 'boolean', default: false }, 'no-atlas': { type: 'boolean', default: false },
    },
  });
  const hops = Number(values.hops), cpuHops = Number(values['cpu-hops']);
  if (!(Number.isInteger(hops) && hops >= 1 && hops <= 300)) throw new Error(`--hops: expected an integer in 1..300, got ${values.hops}`);
  if (!(Number.isInteger(cpuHops) && cpuHops >= 1)) throw new Error(`--cpu-hops: expected a positive integer, got ${values['cpu-hops']}`);
  const t0 = performance.now();
  const notes: string[] = [];
  const loadAverageStart = loadavg();
  if (!(await tf.setBackend('wasm'))) throw new Error("backend 'wasm': expected it to start, got unavailable");
  const bm = await resolveModel(values.model);
  console.log(`bench: ${bm.description}${bm.note ? `\n  (${bm.note})` : ''}`);
  try {
    const spec = demoSpectrogram();
    if (bm.files.size === 0) throw new Error('no model files');
    const node: NodeRow[] = [];
    console.log(`node wasm: ${hops} hops`);
    node.push(await benchNode('wasm', bm, spec, hops, 300_000));
    console.log(`node cpu: ${cpuHops} hops (plain JS kernels are slow: capped)`);
    node.push(await benchNode('cpu', bm, spec, cpuHops, 120_000));
    notes.push(`Node cpu capped at ${cpuHops} hops (plain-JS kernels take seconds per window); wasm ran ${node[0].hops}.`);
    if (node[0].forwardError) notes.push(node[0].forwardError);

    let browser: Report['browser'];
    const skip = values['no-browser'] ? '--no-browser' : null;
    if (skip) {
      browser = { error: skip };
    } else {
      if (!values['no-build']) {
        console.log('vite build (for dist/) ...');
        execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
      }
      const why = browserSkipReason();
      if (why) {
        browser = { error: why };
      } else {
        console.log('chromium: wasm, webgl, webgpu through debug.benchOn');
        try {
          const r = await benchBrowser(bm, [
            { backend: 'wasm', hops, maxMs: 120_000 },
            { backend: 'webgl', hops: 20, maxMs: 40_000 },
            { backend: 'webgpu', hops: 10, maxMs: 40_000 },
          ]);
          browser = { rows: r.rows, selection: r.selection, status: r.status, pageErrors: r.errors };
          notes.push(`Chromium: headless Debian Chromium, GPU backends on SwiftShader (software), so webgl and webgpu are capped (20 and 10 analyses, 40 s) after one untimed warm-up (shader compilation: ${r.rows.filter((x) => x.warmUpMs !== undefined).map((x) => `${x.backend} ${f1(x.warmUpMs)} ms`).join(', ')}); ` +
            `each analysis is the app's own (scaling, forward, ${r.selection}, thumbnails, read-back) run by debug.benchOn in the analysis worker while the live loop (demo piece) keeps running beside it.`);
        } catch (e) {
          browser = { error: (e as Error).message.split('\n')[0] };
        }
      }
    }

    const torch: Report['torch'] = values['no-torch'] ? { error: '--no-torch' } : benchTorch(bm, 50);
    const ratios: Report['ratios'] = [];
    if (!('error' in torch)) {
      const w = node[0], t1 = torch.threads['1'], t2 = torch.threads['2'];
      if (w.forward?.runs) ratios.push({ what: 'tfjs-wasm (Node) / PyTorch 1 thread, forward', tfjsMs: w.forward.medianMs, torchMs: t1.forward.medianMs, ratio: w.forward.medianMs / t1.forward.medianMs });
      ratios.push({ what: 'tfjs-wasm (Node) deconvolution from the last layer / PyTorch 1 thread forward + backward to the input', tfjsMs: w.deconvLast.medianMs, torchMs: t1.forwardBackward.medianMs, ratio: w.deconvLast.medianMs / t1.forwardBackward.medianMs });
      if (t2) ratios.push({ what: 'the same against PyTorch 2 threads', tfjsMs: w.deconvLast.medianMs, torchMs: t2.forwardBackward.medianMs, ratio: w.deconvLast.medianMs / t2.forwardBackward.medianMs });
    }

    let atlas: Report['atlas'] = null;
    if (!values['no-atlas']) {
      console.log('atlas: 3 songs of 30 s x 5 layers x all features ...');
      try {
        atlas = await atlasBench(bm.dir);
      } catch (e) {
        atlas = { error: (e as Error).message.split('\n')[0] };
      }
    }

    const report: Report = {
      date: new Date().toISOString(),
      machine: {
        cpus: availableParallelism(), cpuModel: cpus()[0]?.model.trim() ?? 'unknown', arch: execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim(),
        node: process.version, nice: getPriority(), loadAverageStart, loadAverageEnd: loadavg(),
      },
      model: { description: bm.description, note: bm.note, id: bm.id, taps: bm.manifest.taps.map((t) => ({ layer: t.layer, channels: t.channels })) },
      hopGroupMs: HOP_MS,
      node, browser, torch, ratios, atlas, notes,
      seconds: (performance.now() - t0) / 1000,
    };
    mkdirSync(join(ROOT, 'bench'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    const table = readmeTable(report);
    const readmePath = join(ROOT, 'README.md');
    const readme = readFileSync(readmePath, 'utf8');
    const re = /<!-- bench:start -->[\s\S]*?<!-- bench:end -->/;
    if (re.test(readme)) {
      writeFileSync(readmePath, readme.replace(re, `<!-- bench:start -->\n${table}\n<!-- bench:end -->`));
      console.log('README.md: bench table replaced');
    } else {
      console.log('README.md has no <!-- bench:start --> / <!-- bench:end --> markers: table not written');
    }
    console.log(`\n${table}\n\nbench/report.json written (${report.seconds.toFixed(0)} s)`);
  } finally {
    bm.cleanup();
  }
}

main().catch((e: unknown) => {
  console.error(`bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  process.exit(1);
});
