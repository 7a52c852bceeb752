/**
 * `import-keras`: Choi's released Keras 1 weights (HDF5) -> an Auralscope model folder (tfjs
 * model.json + weights + manifest.json) that the engine, the CLI and the browser load like any other.
 * HDF5 is read with h5wasm (the HDF5 C library compiled to WebAssembly); the conversion and its
 * checks live in src/model/keras1.ts.
 */
import '@tensorflow/tfjs-backend-cpu';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { KerasArch, KerasArray, KerasWeightsFile } from '../model/keras1';
import { importKeras, KerasImportError } from '../model/keras1';
import { parseCommandArgs, runCommand, UsageError } from './command';

/** Help text of the import-keras command. */
export const IMPORT_KERAS_USAGE = `usage: npm run cli -- import-keras <weights.h5> --arch compact_cnn|music_tagger_cnn
                        [--dense-from <other.h5>] [--labels tags.txt] [--out models/<id>]

  --arch A        compact_cnn (Choi et al. 2017, transfer learning) or music_tagger_cnn (Choi et al. 2016)
  --dense-from F  take the dense (tag) layer from F: compact_cnn's TensorFlow file lacks it, the Theano file
                  has it; the conv kernels of both files must agree
  --labels F      the 50 tag names, one per line (default: tags.txt beside the weights or up to two folders up)
  --out DIR       model folder to write (default models/choi-<arch>); never commit Choi's weights`;

/** Parsed options of import-keras. */
export interface ImportKerasOptions {
  weightsPath: string;
  arch: KerasArch;
  denseFrom: string | null;
  labelsPath: string | null;
  outDir: string;
}

const ARCHS: readonly KerasArch[] = ['compact_cnn', 'music_tagger_cnn'];

/** Parses `import-keras` arguments (without the command name). */
export function parseImportKerasArgs(argv: string[]): ImportKerasOptions {
  const { values: v, positionals } = parseCommandArgs(argv, { arch: { type: 'string' }, 'dense-from': { type: 'string' }, labels: { type: 'string' }, out: { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError(`expected one weights file, got ${positionals.length ? positionals.join(' ') : 'none'}`);
  if (!ARCHS.includes(v.arch as KerasArch)) throw new UsageError(`--arch: expected one of ${ARCHS.join(', ')}, got ${v.arch === undefined ? 'nothing' : `'${v.arch}'`}`);
  const arch = v.arch as KerasArch;
  return {
    weightsPath: positionals[0], arch, denseFrom: v['dense-from'] ?? null, labelsPath: v.labels ?? null,
    outDir: v.out ?? join('models', `choi-${arch.replace(/_/g, '-')}`),
  };
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** True when the file starts with (or has at 512, 1024, ... bytes) the HDF5 signature. */
async function isHdf5(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(8);
    for (let off = 0; off <= 8192; off = off === 0 ? 512 : off * 2) {
      const { bytesRead } = await fh.read(buf, 0, 8, off);
      if (bytesRead < 8) return false;
      if (HDF5_SIGNATURE.every((b, i) => buf[i] === b)) return true;
    }
    return false;
  } finally {
    await fh.close();
  }
}

type H5Module = typeof import('h5wasm/node');

let h5: H5Module | null = null;

async function h5wasm(): Promise<H5Module> {
  if (!h5) {
    const mod = await import('h5wasm/node');
    await mod.ready;
    h5 = mod;
  }
  return h5;
}

function stringList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map((x) => String(x));
  if (typeof v === 'string') return [v];
  return [];
}

/** Reads a Keras 1 weights file: `layer_names`, and per layer its `weight_names` datasets as float32. */
export async function readKerasWeights(path: string): Promise<KerasWeightsFile> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new KerasImportError(`${path}: expected a Keras weights file (HDF5), found no such file`);
  if (!(await isHdf5(abs))) throw new KerasImportError(`${path}: expected an HDF5 file (Keras weights, signature \\x89HDF), found something else`);
  const mod = await h5wasm();
  const f = new mod.File(abs, 'r');
  try {
    const names = stringList(f.attrs.layer_names?.value);
    if (names.length === 0) throw new KerasImportError(`${path}: expected a Keras 1 weights file (a 'layer_names' attribute at the root), found ${f.keys().length ? `groups ${f.keys().join(', ')}` : 'an empty file'}`);
    const layers = new Map<string, Map<string, KerasArray>>();
    for (const layer of names) {
      const g = f.get(layer);
      const ws = new Map<string, KerasArray>();
      if (g instanceof mod.Group) {
        for (const wn of stringList(g.attrs.weight_names?.value)) {
          const d = f.get(`${layer}/${wn}`);
          if (!(d instanceof mod.Dataset)) throw new KerasImportError(`${path}: layer '${layer}': expected dataset '${wn}' (listed in weight_names), found none`);
          const value = d.value;
          if (!(value instanceof Float32Array)) throw new KerasImportError(`${path}: '${layer}/${wn}': expected float32 values, found ${d.dtype}`);
          ws.set(wn, { shape: d.shape ?? [], data: value });
        }
      }
      layers.set(layer, ws);
    }
    return { path, layerNames: names, layers };
  } finally {
    f.close();
  }
}

/** Finds tags.txt beside the weights file or up to two folders above it. */
function findLabels(weightsPath: string): string | null {
  let dir = dirname(resolve(weightsPath));
  for (let i = 0; i < 3; i++) {
    const p = join(dir, 'tags.txt');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return null;
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Imports, writes the model folder and returns the check report. */
export async function importKerasToDir(opts: ImportKerasOptions): Promise<{ outDir: string; report: string[] }> {
  const labelsPath = opts.labelsPath ?? findLabels(opts.weightsPath);
  if (!labelsPath) throw new UsageError(`--labels: expected a file of tag names (no tags.txt beside ${opts.weightsPath} or above it)`);
  const labels = (await readFile(labelsPath, 'utf8')).split('\n').map((s) => s.trim()).filter((s) => s.length > 0);
  const file = await readKerasWeights(opts.weightsPath);
  const denseFrom = opts.denseFrom ? await readKerasWeights(opts.denseFrom) : undefined;
  const id = basename(resolve(opts.outDir));
  const provenance: Record<string, unknown> = {
    weightsFile: basename(opts.weightsPath),
    weightsSha256: await sha256(opts.weightsPath),
    ...(opts.denseFrom ? { denseFrom: basename(opts.denseFrom), denseFromSha256: await sha256(opts.denseFrom) } : {}),
    labelsFile: basename(labelsPath),
    command: `npm run cli -- import-keras ${basename(opts.weightsPath)} --arch ${opts.arch}${opts.denseFrom ? ` --dense-from ${basename(opts.denseFrom)}` : ''}`,
  };
  const out = await importKeras(file, { arch: opts.arch, id, labels, denseFrom, provenance });
  await mkdir(opts.outDir, { recursive: true });
  await writeFile(join(opts.outDir, 'model.json'), JSON.stringify(out.modelJson));
  await writeFile(join(opts.outDir, 'group1-shard1of1.bin'), new Uint8Array(out.weightsBin));
  await writeFile(join(opts.outDir, 'manifest.json'), `${JSON.stringify(out.manifest, null, 1)}\n`);
  return { outDir: opts.outDir, report: out.report };
}

/** Entry point for `npm run cli -- import-keras ...`; returns the exit code. */
export function runImportKeras(argv: string[]): Promise<number> {
  return runCommand('import-keras', IMPORT_KERAS_USAGE, argv, parseImportKerasArgs, async (opts) => {
    const { outDir, report } = await importKerasToDir(opts);
    for (const line of report) console.log(`import-keras: ${line}`);
    console.log(`import-keras: wrote ${outDir} (model.json, group1-shard1of1.bin, manifest.json); do not commit it: the weights are Choi's (MIT), fetched by the user`);
    return 0;
  });
}
