/** Node-only model loading from a folder (fs): model.json, its weight shards and manifest.json. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedModel, LoadOptions } from './load';
import { loadModelFromFiles } from './load';

/** Loads and validates the model in `dir` (model.json + shards + manifest.json). */
export async function loadModelFromDir(dir: string, options: LoadOptions = {}): Promise<LoadedModel> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new Error(`model folder '${dir}': expected a readable folder, got ${(e as Error).message}`);
  }
  const files = new Map<string, ArrayBuffer>();
  for (const name of names) {
    if (!name.endsWith('.json') && !name.endsWith('.bin')) continue;
    const b = await readFile(join(dir, name));
    files.set(name, b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
  }
  return loadModelFromFiles(files, options);
}
