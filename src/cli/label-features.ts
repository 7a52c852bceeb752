/**
 * `label-features`: the probe analysis of every feature (src/cli/probes.ts, src/model/features.ts),
 * written as feature-analysis.json beside the model and as `featureLabels` in its manifest.json
 * (every other byte of the manifest kept).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stft } from '../dsp/stft';
import { analyseFeatures } from '../model/features';
import type { FeatureReport, ProbeInput } from '../model/features';
import { scaleMagnitudes } from '../model/input';
import { loadModelFromDir } from '../model/node-io';
import { defaultModelDir } from './explain';
import { UsageError } from './command';
import { makeProbes, QUALITIES } from './probes';
import type { Timbre } from './probes';

/** Help text of the label-features command. */
export const LABEL_FEATURES_USAGE = `usage: npm run cli -- label-features [--model DIR]

  Plays the probe sounds (chords/intervals in 4 keys on 5 timbres, clicks, drums, noise, a sweep)
  through the model and writes DIR/feature-analysis.json (every index per feature) and
  featureLabels in DIR/manifest.json.`;

/** Where the value of a top-level key of a JSON object text starts and ends, or null. */
export function topLevelValueSpan(text: string, key: string): [number, number] | null {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const s = JSON.parse(text.slice(i, j + 1)) as string;
      const after = text.slice(j + 1).match(/^\s*:\s*/);
      if (depth === 1 && after && s === key) {
        const start = j + 1 + after[0].length;
        // The value ends where the parser's depth returns to 1 before a ',' or '}'.
        let d = 0;
        let k = start;
        for (; k < text.length; k++) {
          const c = text[k];
          if (c === '"') { k++; while (text[k] !== '"') k += text[k] === '\\' ? 2 : 1; continue; }
          if (c === '{' || c === '[') d++;
          else if (c === '}' || c === ']') { if (d === 0) break; d--; if (d === 0) { k++; break; } }
          else if (c === ',' && d === 0) break;
        }
        return [start, k];
      }
      i = j;
    } else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
  }
  return null;
}

/** manifest.json text with featureLabels set to `labels`, every other byte unchanged. */
export function withFeatureLabels(text: string, labels: Record<string, string[]>): string {
  const value = JSON.stringify(labels);
  const span = topLevelValueSpan(text, 'featureLabels');
  if (span) return text.slice(0, span[0]) + value + text.slice(span[1]);
  const end = text.lastIndexOf('}');
  let body = end;
  while (body > 0 && /\s/.test(text[body - 1])) body--;
  const indent = /\n(\s+)"/.exec(text)?.[1] ?? '';
  const sep = text[body - 1] === '{' ? '' : ',';
  return `${text.slice(0, body)}${sep}${indent ? `\n${indent}` : ''}"featureLabels": ${value}${text.slice(body)}`;
}

/** Runs the probe analysis for the model in dir; returns reports[tap][feature]. */
export async function labelFeatures(dir: string, options: { keys?: number[]; timbres?: readonly Timbre[]; write?: boolean } = {}, log: (line: string) => void = () => {}): Promise<FeatureReport[][]> {
  if (tf.getBackend() !== 'wasm' && !(await tf.setBackend('wasm'))) throw new Error("backend 'wasm': expected it to start, got unavailable");
  const model = await loadModelFromDir(dir);
  try {
    const man = model.manifest;
    const fe = man.frontEnd;
    if (fe.frequency.kind !== 'stft') throw new Error(`model '${man.id}': frontEnd.frequency: expected 'stft', got '${fe.frequency.kind}'`);
    const t0 = performance.now();
    const probes = makeProbes(fe.sampleRateHz, options);
    const bins = fe.nFft / 2 + 1;
    let frames = 0;
    const inputs: ProbeInput[] = probes.map((p) => {
      const spec = stft(p.samples, { nFft: fe.nFft, hopSamples: fe.hopSamples });
      frames = spec.mag.length;
      const mag = new Float32Array(frames * bins);
      spec.mag.forEach((m, t) => mag.set(m, t * bins));
      return {
        kind: p.kind, key: p.key, quality: p.quality, chordQuality: p.quality !== null && QUALITIES[p.quality].chord, timbre: p.timbre,
        input: scaleMagnitudes(mag, fe.scaling), onsetsSec: p.onsetsSec, steadySec: p.steadySec,
      };
    });
    // Masks for centroid/bandwidth: one chord per timbre (first key, major), the drums, the noise and the sweep.
    const maskProbes = probes.flatMap((p, i) => ((p.kind === 'chord' && p.key === probes[0].key && p.quality === 'major') || p.kind === 'drums' || p.name === 'noise burst' || p.kind === 'sweep' ? [i] : []));
    const frameTime = (f: number): number => (f * fe.hopSamples + fe.nFft / 2) / fe.sampleRateHz;
    const reports = await analyseFeatures(model, inputs, frames, frameTime, fe.sampleRateHz / fe.nFft, maskProbes);
    log(`label-features: ${probes.length} probes, ${reports.reduce((n, r) => n + r.length, 0)} features in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (options.write !== false) {
      const labels: Record<string, string[]> = {};
      model.graph.taps.forEach((t, i) => { labels[t.name] = reports[i].map((r) => r.label); });
      const path = join(dir, 'manifest.json');
      await writeFile(path, withFeatureLabels(readFileSync(path, 'utf8'), labels));
      await writeFile(join(dir, 'feature-analysis.json'), JSON.stringify({ model: man.id, layers: reports }, null, 1));
      for (const [i, t] of model.graph.taps.entries()) {
        const count = (s: string): number => reports[i].filter((r) => r.label.includes(s)).length;
        log(`  ${t.displayName}: ${reports[i].length} features, ${count('onset detector')} onset detectors, ${count('key-invariant')} key-invariant, ${count('pitch-specific')} pitch-specific, ${count('inactive')} inactive`);
      }
    }
    return reports;
  } finally {
    model.dispose();
  }
}

/** The label-features command. */
export async function runLabelFeatures(argv: string[]): Promise<number> {
  let dir: string;
  try {
    const { values } = parseArgs({ args: argv, options: { model: { type: 'string' } } });
    dir = values.model ?? defaultModelDir();
  } catch (e) {
    console.error(`label-features: ${(e as Error).message}\n\n${LABEL_FEATURES_USAGE}`);
    return 2;
  }
  try {
    await labelFeatures(dir, {}, (l) => console.error(l));
    return 0;
  } catch (e) {
    console.error(`label-features: ${(e as Error).message}`);
    return e instanceof UsageError ? 2 : 1;
  }
}
