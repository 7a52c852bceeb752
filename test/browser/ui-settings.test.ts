/**
 * The UI's pure modules, in Node (no browser needed): settings from storage and the URL hash,
 * shortcut table, frame-interval statistics and the byte scaling behind the GPU colour mapping,
 * each against a plain reference written here.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, fromHash, fromStorage, resolveSettings, toHash, type Settings } from '../../src/ui/settings';
import { SHORTCUTS, shortcutFor } from '../../src/ui/keys';
import { FrameMeter, intervalStats } from '../../src/ui/frame-meter';
import { colormapTable, divergingTable, framesToBytes, gridToBytesFlipped, paddedWidth } from '../../src/ui/colormap';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

describe('settings', () => {
  it('round-trips through the URL hash (layer 1-based there)', () => {
    const s: Settings = { colormap: 'viridis', layer: 2, feature: 5, method: 'guided', mix: 0.35, volume: 0.6, tourSeconds: 12, source: 'mic' };
    const hash = toHash(s);
    expect(hash).toContain('layer=3');
    expect(hash).toContain('feature=5');
    expect(hash).toContain('method=guided');
    expect({ ...DEFAULT_SETTINGS, ...fromHash(`#${hash}`) }).toEqual(s);
    expect(toHash({ ...DEFAULT_SETTINGS })).toBe('');
  });

  it('drops invalid fields and clamps ranges', () => {
    expect(fromHash('#layer=0&feature=-1&method=fourier&colormap=jet&mix=2&volume=abc&tour=1&source=file')).toEqual({ layer: 0, feature: 0, mix: 1, tourSeconds: 2, source: 'demo' });
    expect(fromHash('#layer=2.5&feature=3')).toEqual({ feature: 3 });
    expect(fromStorage('{not json')).toEqual({});
    expect(fromStorage(JSON.stringify({ layer: 1, colormap: 'grey', volume: 0.5 }))).toEqual({ layer: 1, colormap: 'grey', volume: 0.5 });
  });

  it('a shared hash wins over stored settings, which win over the defaults', () => {
    const stored = JSON.stringify({ layer: 4, feature: 9, colormap: 'grey' });
    const s = resolveSettings(stored, '#feature=2');
    expect(s).toEqual({ ...DEFAULT_SETTINGS, layer: 4, feature: 2, colormap: 'grey' });
  });
});

describe('shortcuts', () => {
  it('cover every key the issue names, each key triggering exactly one action', () => {
    const keys = ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', '1', '5', '9', 's', 'm', 'f', ' ', 'r', '+', '-', 'F', '?', 'Escape', 'a', 'c', 't', 'o'];
    for (const k of keys) expect(shortcutFor(k), k).not.toBeNull();
    const all = SHORTCUTS.flatMap((s) => s.match);
    expect(new Set(all).size).toBe(all.length);
    expect(shortcutFor('x')).toBeNull();
  });
});

describe('frame interval statistics', () => {
  it('median and p95 equal a sort-based reference', () => {
    const r = rng(3);
    for (const n of [1, 2, 7, 100, 601]) {
      const xs = Array.from({ length: n }, () => 10 + r() * 30);
      const sorted = [...xs].sort((a, b) => a - b);
      const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
      const p95 = sorted[Math.ceil(0.95 * n) - 1];
      const got = intervalStats(xs);
      expect(got.medianMs).toBeCloseTo(median, 12);
      expect(got.p95Ms).toBeCloseTo(p95, 12);
    }
    expect(intervalStats([])).toEqual({ medianMs: 0, p95Ms: 0 });
  });

  it('the meter keeps the last intervals only', () => {
    const m = new FrameMeter(10);
    let t = 0;
    for (let i = 0; i < 50; i++) m.tick((t += 100)); // old intervals: 100 ms
    for (let i = 0; i < 10; i++) m.tick((t += 16)); // newest 10: 16 ms
    const s = m.stats();
    expect(s.frames).toBe(10);
    expect(s.medianMs).toBe(16);
    expect(s.fps).toBeCloseTo(62.5, 9);
    const d = new FrameMeter(4);
    for (const ms of [9, 1, 5, 3, 7]) d.record(ms); // the last four: 1, 5, 3, 7
    expect(d.stats().medianMs).toBe(4);
  });
});

describe('byte scaling for the GPU colour maps', () => {
  it('framesToBytes: frame-major in, highest bin on the top row, padded rows, clamped', () => {
    const r = rng(9);
    const frames = 7, bins = 5, lo = -80, hi = -10, stride = paddedWidth(frames);
    expect(stride).toBe(8);
    const data = Float32Array.from({ length: frames * bins }, () => -100 + r() * 100);
    const out = new Uint8Array(stride * bins).fill(77);
    framesToBytes(data, frames, bins, lo, hi, out, stride);
    for (let t = 0; t < frames; t++) {
      for (let k = 0; k < bins; k++) {
        const v = Math.min(255, Math.max(0, ((data[t * bins + k] - lo) / (hi - lo)) * 255));
        expect(Math.abs(out[(bins - 1 - k) * stride + t] - Math.round(v))).toBeLessThanOrEqual(1);
      }
      expect(out[t * 0 + stride - 1]).toBe(77); // padding untouched
    }
  });

  it('gridToBytesFlipped: row 0 (lowest frequency) lands on the bottom row', () => {
    const rows = 3, cols = 4, stride = 4;
    const data = Float32Array.from({ length: rows * cols }, (_, i) => i);
    const out = new Uint8Array(rows * stride);
    gridToBytesFlipped(data, 0, rows, cols, 0, 11, out, 0, stride);
    expect(Array.from(out.subarray((rows - 1) * stride, rows * stride))).toEqual([0, 23, 46, 70]);
    expect(out[0]).toBe(Math.round((8 / 11) * 255));
  });

  it('colour tables are 256 opaque entries; the diverging one is darkest near its centre', () => {
    for (const t of [colormapTable('magma'), colormapTable('viridis'), colormapTable('grey'), divergingTable()]) {
      expect(t.length).toBe(1024);
      for (let i = 0; i < 256; i++) expect(t[i * 4 + 3]).toBe(255);
    }
    const d = divergingTable();
    const lum = (i: number) => d[i * 4] + d[i * 4 + 1] + d[i * 4 + 2];
    expect(lum(128)).toBeLessThan(lum(0) / 3);
    expect(lum(128)).toBeLessThan(lum(255) / 3);
  });
});
