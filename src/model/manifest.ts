/**
 * Validation of manifest.json against the contract in src/shared/manifest.ts. Every field is
 * checked; errors read "manifest.frontEnd.nFft: expected a positive integer, got -3".
 */
import type { FrontEnd, InputScaling, Metrics, ModelManifest, TapLayer } from '../shared/manifest';

/** Thrown for any manifest or model that does not match its contract. */
export class ModelValidationError extends Error {
  override name = 'ModelValidationError';
}

type Obj = Record<string, unknown>;

/** Short printable form of a value for error messages. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function fail(path: string, expected: string, got: unknown): never {
  throw new ModelValidationError(`${path}: expected ${expected}, got ${describeValue(got)}`);
}

function obj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'an object', v);
  return v as Obj;
}

function str(v: unknown, path: string, nonEmpty = true): string {
  if (typeof v !== 'string' || (nonEmpty && v.length === 0)) fail(path, nonEmpty ? 'a non-empty string' : 'a string', v);
  return v;
}

function posInt(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(path, 'a positive integer', v);
  return v;
}

function posNum(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(path, 'a positive finite number', v);
  return v;
}

function finiteNum(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, 'a finite number', v);
  return v;
}

function oneOf<T extends string>(v: unknown, path: string, options: readonly T[]): T {
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) {
    fail(path, `one of ${options.map((o) => `'${o}'`).join(', ')}`, v);
  }
  return v as T;
}

function arr(v: unknown, path: string, nonEmpty = true): unknown[] {
  if (!Array.isArray(v) || (nonEmpty && v.length === 0)) fail(path, nonEmpty ? 'a non-empty array' : 'an array', v);
  return v;
}

function scoreMap(v: unknown, path: string): Record<string, number> {
  const o = obj(v, path);
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(o)) out[k] = finiteNum(x, `${path}.${k}`);
  return out;
}

function validateScaling(v: unknown, path: string): InputScaling {
  const o = obj(v, path);
  const kind = oneOf(o.kind, `${path}.kind`, ['log1p', 'db'] as const);
  if (kind === 'log1p') return { kind, c: posNum(o.c, `${path}.c`) };
  if (typeof o.power !== 'boolean') fail(`${path}.power`, 'a boolean', o.power);
  const out: InputScaling = { kind, power: o.power, amin: posNum(o.amin, `${path}.amin`), topDb: posNum(o.topDb, `${path}.topDb`) };
  if (o.reference !== undefined) out.reference = oneOf(o.reference, `${path}.reference`, ['max', 'one'] as const);
  if (o.exponent !== undefined) out.exponent = posNum(o.exponent, `${path}.exponent`);
  return out;
}

function validateFrontEnd(v: unknown, path: string): FrontEnd {
  const o = obj(v, path);
  const sampleRateHz = posNum(o.sampleRateHz, `${path}.sampleRateHz`);
  const nFft = posInt(o.nFft, `${path}.nFft`);
  const hopSamples = posInt(o.hopSamples, `${path}.hopSamples`);
  if (hopSamples > nFft) fail(`${path}.hopSamples`, `at most nFft (${nFft})`, hopSamples);
  const window = oneOf(o.window, `${path}.window`, ['hann'] as const);
  const f = obj(o.frequency, `${path}.frequency`);
  const fkind = oneOf(f.kind, `${path}.frequency.kind`, ['stft', 'mel'] as const);
  let frequency: FrontEnd['frequency'];
  if (fkind === 'stft') {
    frequency = { kind: 'stft' };
  } else {
    const fp = `${path}.frequency`;
    const fMinHz = finiteNum(f.fMinHz, `${fp}.fMinHz`);
    if (fMinHz < 0) fail(`${fp}.fMinHz`, 'a number >= 0', fMinHz);
    const fMaxHz = posNum(f.fMaxHz, `${fp}.fMaxHz`);
    if (fMaxHz <= fMinHz || fMaxHz > sampleRateHz / 2) fail(`${fp}.fMaxHz`, `a number in (fMinHz, ${sampleRateHz / 2}]`, fMaxHz);
    if (typeof f.htk !== 'boolean') fail(`${fp}.htk`, 'a boolean', f.htk);
    if (f.norm !== null && f.norm !== 'slaney') fail(`${fp}.norm`, "'slaney' or null", f.norm);
    frequency = { kind: 'mel', bands: posInt(f.bands, `${fp}.bands`), fMinHz, fMaxHz, htk: f.htk, norm: f.norm };
  }
  const fe: FrontEnd = { sampleRateHz, nFft, hopSamples, window, frequency, scaling: validateScaling(o.scaling, `${path}.scaling`) };
  if (o.padding !== undefined) fe.padding = oneOf(o.padding, `${path}.padding`, ['none', 'same', 'center-reflect'] as const);
  return fe;
}

function validateMetrics(v: unknown, path: string): Metrics {
  const o = obj(v, path);
  return {
    validationRocAuc: scoreMap(o.validationRocAuc, `${path}.validationRocAuc`),
    validationMeanRocAuc: finiteNum(o.validationMeanRocAuc, `${path}.validationMeanRocAuc`),
    testRocAuc: scoreMap(o.testRocAuc, `${path}.testRocAuc`),
    testMeanRocAuc: finiteNum(o.testMeanRocAuc, `${path}.testMeanRocAuc`),
  };
}

/** Checks every field of a parsed manifest.json and returns it typed; throws ModelValidationError. */
export function validateManifest(json: unknown): ModelManifest {
  const p = 'manifest';
  const o = obj(json, p);
  if (o.format !== 'auralscope-model@1') fail(`${p}.format`, "'auralscope-model@1'", o.format);
  const frontEnd = validateFrontEnd(o.frontEnd, `${p}.frontEnd`);
  const shape = arr(o.inputShape, `${p}.inputShape`);
  if (shape.length !== 3) fail(`${p}.inputShape`, '[bins, windowFrames, 1]', shape);
  const bins = posInt(shape[0], `${p}.inputShape[0]`);
  const windowFrames = posInt(shape[1], `${p}.inputShape[1]`);
  if (shape[2] !== 1) fail(`${p}.inputShape[2]`, '1 (one input channel)', shape[2]);
  const expectedBins = frontEnd.frequency.kind === 'stft' ? frontEnd.nFft / 2 + 1 : frontEnd.frequency.bands;
  if (bins !== Math.floor(expectedBins)) {
    const why = frontEnd.frequency.kind === 'stft' ? 'nFft / 2 + 1' : 'frequency.bands';
    fail(`${p}.inputShape[0]`, `${Math.floor(expectedBins)} (${why})`, bins);
  }
  const taps: TapLayer[] = arr(o.taps, `${p}.taps`).map((t, i) => {
    const tp = `${p}.taps[${i}]`;
    const to = obj(t, tp);
    return { layer: str(to.layer, `${tp}.layer`), displayName: str(to.displayName, `${tp}.displayName`), channels: posInt(to.channels, `${tp}.channels`) };
  });
  const seen = new Set<string>();
  taps.forEach((t, i) => {
    if (seen.has(t.layer)) fail(`${p}.taps[${i}].layer`, 'a layer not already tapped', t.layer);
    seen.add(t.layer);
  });
  const out = obj(o.output, `${p}.output`);
  const output = { layer: str(out.layer, `${p}.output.layer`), activation: oneOf(out.activation, `${p}.output.activation`, ['sigmoid', 'softmax'] as const) };
  const labels = arr(o.labels, `${p}.labels`).map((l, i) => str(l, `${p}.labels[${i}]`));
  if (new Set(labels).size !== labels.length) fail(`${p}.labels`, 'distinct labels', labels);
  const m: ModelManifest = {
    format: 'auralscope-model@1',
    id: str(o.id, `${p}.id`),
    name: str(o.name, `${p}.name`),
    description: str(o.description, `${p}.description`, false),
    frontEnd,
    inputShape: [bins, windowFrames, 1],
    taps,
    output,
    labels,
    provenance: obj(o.provenance, `${p}.provenance`),
  };
  if (o.metrics !== undefined) m.metrics = validateMetrics(o.metrics, `${p}.metrics`);
  if (o.featureLabels !== undefined) {
    const fl = obj(o.featureLabels, `${p}.featureLabels`);
    const res: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(fl)) {
      const tap = taps.find((t) => t.layer === k);
      if (!tap) fail(`${p}.featureLabels`, `keys among the tap layers (${taps.map((t) => t.layer).join(', ')})`, k);
      const list = arr(v, `${p}.featureLabels.${k}`, false).map((s, i) => str(s, `${p}.featureLabels.${k}[${i}]`, false));
      if (list.length !== tap.channels) fail(`${p}.featureLabels.${k}`, `${tap.channels} entries (the tap's channels)`, `${list.length} entries`);
      res[k] = list;
    }
    m.featureLabels = res;
  }
  return m;
}
