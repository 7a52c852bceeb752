/**
 * The UI's settings (pure: no DOM): defaults, validation, and the two places they are kept —
 * localStorage (JSON) and the URL hash (`#layer=3&feature=5&method=guided`, layer 1-based).
 */
import { METHOD_NAMES, type MethodName, type SourceKind } from '../shared/api';
import { COLORMAPS, type ColormapName } from './colormap';

/** Everything the UI remembers. */
export interface Settings {
  colormap: ColormapName;
  /** 0-based tap index (shown and written to the hash 1-based). */
  layer: number;
  feature: number;
  method: MethodName;
  /** 0 = dry only .. 1 = resynthesis / solo only. */
  mix: number;
  /** Master volume 0..1. */
  volume: number;
  /** Seconds per booth-tour step, 2..600. */
  tourSeconds: number;
  /** Source to start with ('file' cannot be restored: it becomes 'demo'). */
  source: SourceKind;
}

/** Defaults of every setting. */
export const DEFAULT_SETTINGS: Readonly<Settings> = {
  colormap: 'magma', layer: 0, feature: 0, method: 'deconvnet', mix: 0, volume: 0.8, tourSeconds: 8, source: 'demo',
};

/** localStorage key. */
export const STORAGE_KEY = 'auralscope.settings.v1';

function num(v: unknown, lo: number, hi: number, integer: boolean): number | undefined {
  const x = typeof v === 'string' ? Number(v) : v;
  if (typeof x !== 'number' || !Number.isFinite(x)) return undefined;
  if (integer && !Number.isInteger(x)) return undefined;
  return Math.min(hi, Math.max(lo, x));
}

/** Keeps the valid fields of an untrusted record (from storage or the hash); `layerBase` 1 for the hash. */
export function sanitize(raw: Record<string, unknown>, layerBase: 0 | 1): Partial<Settings> {
  const out: Partial<Settings> = {};
  if (typeof raw.colormap === 'string' && (COLORMAPS as readonly string[]).includes(raw.colormap)) out.colormap = raw.colormap as ColormapName;
  const layer = num(raw.layer, layerBase, 64, true);
  if (layer !== undefined) out.layer = layer - layerBase;
  const feature = num(raw.feature, 0, 4096, true);
  if (feature !== undefined) out.feature = feature;
  if (typeof raw.method === 'string' && (METHOD_NAMES as readonly string[]).includes(raw.method)) out.method = raw.method as MethodName;
  const mix = num(raw.mix, 0, 1, false);
  if (mix !== undefined) out.mix = mix;
  const volume = num(raw.volume, 0, 1, false);
  if (volume !== undefined) out.volume = volume;
  const tour = num(raw.tour ?? raw.tourSeconds, 2, 600, false);
  if (tour !== undefined) out.tourSeconds = tour;
  if (raw.source === 'mic' || raw.source === 'demo') out.source = raw.source;
  if (raw.source === 'file') out.source = 'demo';
  return out;
}

/** Parses a URL hash ('#a=1&b=2' or 'a=1&b=2'). */
export function fromHash(hash: string): Partial<Settings> {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const raw: Record<string, unknown> = {};
  for (const [k, v] of p) raw[k] = v;
  return sanitize(raw, 1);
}

/** The URL hash for settings (without '#'; layer 1-based; only fields that differ from the defaults). */
export function toHash(s: Settings): string {
  const p = new URLSearchParams();
  const d = DEFAULT_SETTINGS;
  if (s.layer !== d.layer) p.set('layer', String(s.layer + 1));
  if (s.feature !== d.feature) p.set('feature', String(s.feature));
  if (s.method !== d.method) p.set('method', s.method);
  if (s.colormap !== d.colormap) p.set('colormap', s.colormap);
  if (s.mix !== d.mix) p.set('mix', String(s.mix));
  if (s.volume !== d.volume) p.set('volume', String(s.volume));
  if (s.tourSeconds !== d.tourSeconds) p.set('tour', String(s.tourSeconds));
  if (s.source !== d.source) p.set('source', s.source);
  return p.toString();
}

/** Parses stored JSON (anything invalid is dropped). */
export function fromStorage(json: string | null): Partial<Settings> {
  if (!json) return {};
  try {
    const v: unknown = JSON.parse(json);
    return v && typeof v === 'object' ? sanitize(v as Record<string, unknown>, 0) : {};
  } catch {
    return {};
  }
}

/** Defaults, then stored settings, then the hash (a shared link wins). */
export function resolveSettings(stored: string | null, hash: string): Settings {
  return { ...DEFAULT_SETTINGS, ...fromStorage(stored), ...fromHash(hash) };
}
