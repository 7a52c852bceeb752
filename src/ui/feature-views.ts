/**
 * The analysis views: every feature of the selected layer as small live heatmaps (one atlas
 * texture, one sprite per feature), the selected feature enlarged (activation map, deconvolved
 * spectrogram |X| x mask, and the mask itself in a diverging map), and the predictions as
 * smoothed bars. Heatmaps are r8 textures scaled here and coloured by the stage's filters.
 */
import { Container, Graphics, Sprite, Text, Texture } from 'pixi.js';
import { METHOD_NAMES, type ModelInfo } from '../shared/api';
import type { AnalysisFrame, SpectrogramFrame } from '../shared/frame';
import { gridToBytesFlipped, range } from './colormap';
import { ByteImage } from './heatmap';
import { labelStyle, RANGE_DB } from './spectrogram-view';

/** A rectangle of the stage, CSS pixels. */
export interface Rect { x: number; y: number; w: number; h: number }

const GAP = 3;

/** Columns of a grid of `n` tiles of aspect `aspect` (w/h) that fills `w` x `h` with the largest tiles. */
export function gridColumns(n: number, aspect: number, w: number, h: number): number {
  let best = 1, bestSize = 0;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const tileW = Math.min((w - GAP * (cols - 1)) / cols, ((h - GAP * (rows - 1)) / rows) * aspect);
    if (tileW > bestSize) {
      bestSize = tileW;
      best = cols;
    }
  }
  return best;
}

/** Short name of a layer for captions. */
export function layerName(model: ModelInfo | null, layer: number): string {
  return model?.layers[layer]?.displayName || `Layer ${layer + 1}`;
}

/** Caption naming a feature: its atlas label when the model has one, else "Layer L · feature k". */
export function featureCaption(model: ModelInfo | null, layer: number, feature: number): string {
  const label = model?.layers[layer]?.featureLabels?.[feature];
  const base = `${layerName(model, layer)} · feature ${feature}`;
  return label ? `${label} (${base})` : base;
}

export class FeatureGridView {
  readonly root = new Container();
  private readonly tiles = new Container();
  private readonly image = new ByteImage('nearest');
  private sprites: Sprite[] = [];
  private textures: Texture[] = [];
  private readonly outline = new Graphics();
  private readonly caption: Text;
  private rect: Rect = { x: 0, y: 0, w: 1, h: 1 };
  private tileRects: Rect[] = [];
  private laidOut = '';
  private channelMax = new Float32Array(0);
  private layer = -1;
  private selected = -1;
  /** Called when a tile is clicked. */
  onPick: (feature: number) => void = () => {};

  constructor(heat: Container, fontSize: number) {
    heat.addChild(this.tiles);
    this.caption = new Text({ text: 'Features: waiting for the model', style: labelStyle(fontSize) });
    this.root.addChild(this.outline, this.caption);
  }

  layout(r: Rect, fontSize: number): void {
    this.rect = r;
    this.compact = fontSize > 14;
    this.caption.style.fontSize = fontSize;
    this.caption.position.set(r.x, r.y);
    this.laidOut = '';
    this.layer = -1; // re-caption
  }

  /** Short captions (booth type is large). */
  private compact = false;

  /** Columns of the current grid (arrow up/down move by this many features). */
  columns = 1;

  draw(a: AnalysisFrame, model: ModelInfo | null): void {
    const { channels: n, thumbHeight: th, thumbWidth: tw } = a;
    if (this.image.ensure(tw, n * th) || this.sprites.length !== n) this.makeSprites(n, tw, th);
    if (a.layer !== this.layer || this.channelMax.length !== n) {
      this.layer = a.layer;
      this.channelMax = new Float32Array(n);
      this.caption.text = this.compact ? `${layerName(model, a.layer)}: ${n} features` : `${layerName(model, a.layer)}: ${n} features (click one, or use the arrow keys)`;
    }
    // Each feature on its own scale, but at least a tenth of the layer's peak, so silent features
    // stay dark instead of showing amplified noise; peaks release slowly (no flicker).
    const per = th * tw;
    let layerMax = 0;
    for (let c = 0; c < n; c++) {
      const { max } = range(a.thumbnails, c * per, (c + 1) * per);
      this.channelMax[c] = Math.max(max, this.channelMax[c] * 0.97);
      layerMax = Math.max(layerMax, this.channelMax[c]);
    }
    for (let c = 0; c < n; c++) {
      const hi = Math.max(this.channelMax[c], layerMax * 0.1, 1e-9);
      gridToBytesFlipped(a.thumbnails, c * per, th, tw, 0, hi, this.image.bytes, c * th * this.image.stride, this.image.stride);
    }
    this.image.update();
    const key = `${n}x${tw}x${th}x${this.rect.x}x${this.rect.y}x${this.rect.w}x${this.rect.h}`;
    if (key !== this.laidOut) {
      this.laidOut = key;
      this.placeTiles(n, tw / th);
    }
    this.select(a.feature);
  }

  private makeSprites(n: number, tw: number, th: number): void {
    for (const s of this.tiles.removeChildren()) s.destroy();
    for (const t of this.textures) t.destroy(false);
    this.textures = [];
    this.sprites = [];
    for (let c = 0; c < n; c++) {
      const t = this.image.sub(0, c * th, tw, th);
      const s = new Sprite(t);
      s.eventMode = 'static';
      s.cursor = 'pointer';
      s.on('pointertap', () => this.onPick(c));
      this.textures.push(t);
      this.sprites.push(s);
      this.tiles.addChild(s);
    }
    this.laidOut = '';
    this.selected = -1;
  }

  private placeTiles(n: number, aspect: number): void {
    const cap = this.caption.height + 4;
    const r = { x: this.rect.x, y: this.rect.y + cap, w: this.rect.w, h: Math.max(1, this.rect.h - cap) };
    const cols = gridColumns(n, aspect, r.w, r.h);
    const rows = Math.ceil(n / cols);
    const tileW = Math.max(1, Math.min((r.w - GAP * (cols - 1)) / cols, ((r.h - GAP * (rows - 1)) / rows) * aspect));
    const tileH = tileW / aspect;
    this.columns = cols;
    this.tileRects = [];
    for (let c = 0; c < n; c++) {
      const x = r.x + (c % cols) * (tileW + GAP);
      const y = r.y + Math.floor(c / cols) * (tileH + GAP);
      this.sprites[c].position.set(x, y);
      this.sprites[c].width = tileW;
      this.sprites[c].height = tileH;
      this.tileRects.push({ x, y, w: tileW, h: tileH });
    }
    this.selected = -1;
  }

  private select(feature: number): void {
    if (feature === this.selected) return;
    this.selected = feature;
    this.outline.clear();
    const t = this.tileRects[feature];
    if (t) this.outline.rect(t.x - 1.5, t.y - 1.5, t.w + 3, t.h + 3).stroke({ width: 2, color: 0xf08a4b });
  }

  /** The tile of a feature (stage coordinates), for tests and keyboard focus. */
  tileRect(feature: number): Rect | null {
    return this.tileRects[feature] ?? null;
  }

  get textureCount(): number {
    return this.image.count;
  }

  destroy(): void {
    for (const t of this.textures) t.destroy(false);
    this.image.destroy();
    this.tiles.destroy({ children: true });
    this.root.destroy({ children: true });
  }
}

/** One enlarged heatmap panel with a caption. */
class Panel {
  readonly image: ByteImage;
  readonly sprite = new Sprite();
  readonly caption: Text;
  rect: Rect = { x: 0, y: 0, w: 1, h: 1 };
  private generation = -1;

  constructor(layer: Container, overlay: Container, scaleMode: 'linear' | 'nearest', text: string, fontSize: number) {
    this.image = new ByteImage(scaleMode);
    this.caption = new Text({ text, style: labelStyle(fontSize) });
    layer.addChild(this.sprite);
    overlay.addChild(this.caption);
  }

  layout(r: Rect, fontSize: number): void {
    this.rect = r;
    this.caption.style.fontSize = fontSize;
    this.caption.position.set(r.x, r.y);
    this.fitCaption();
    this.place();
  }

  private fullCaption = '';

  /** Sets the caption, shortened with an ellipsis to the panel's width (a long feature label must not run into the next panel). */
  setCaption(text: string): void {
    if (text === this.fullCaption) return;
    this.fullCaption = text;
    this.fitCaption();
  }

  private fitCaption(): void {
    if (!this.fullCaption) return;
    const max = Math.max(8, this.rect.w);
    let t = this.fullCaption;
    this.caption.text = t;
    while (this.caption.width > max && t.length > 1) {
      t = t.slice(0, Math.max(1, Math.min(t.length - 1, Math.floor((t.length * max) / this.caption.width) - 1)));
      this.caption.text = `${t.trimEnd()}…`;
    }
  }

  /** Makes sure the image is w x h and the sprite shows it. */
  ensure(w: number, h: number): void {
    this.image.ensure(w, h);
    if (this.image.generation !== this.generation) {
      this.generation = this.image.generation;
      this.sprite.texture = this.image.texture;
      this.place();
    }
  }

  private place(): void {
    const cap = this.caption.height + 4;
    this.sprite.position.set(this.rect.x, this.rect.y + cap);
    this.sprite.width = Math.max(1, this.rect.w);
    this.sprite.height = Math.max(1, this.rect.h - cap);
  }

  destroy(): void {
    this.image.destroy();
    this.sprite.destroy();
    this.caption.destroy();
  }
}

export class FeatureDetailView {
  readonly root = new Container();
  private readonly map: Panel;
  private readonly deconv: Panel;
  private readonly mask: Panel;
  private mapMax = 0;
  private maskMax = 0;
  private captionKey = '';
  private deconvValues = new Float32Array(0);
  /** Short captions (booth type is large). */
  private compact = false;

  /** `heat`: colour-mapped with the sequential map; `signed`: with the diverging map. */
  constructor(heat: Container, signed: Container, fontSize: number) {
    this.map = new Panel(heat, this.root, 'nearest', 'Activation: waiting for the model', fontSize);
    this.deconv = new Panel(heat, this.root, 'linear', 'Deconvolved |X| × mask', fontSize);
    this.mask = new Panel(signed, this.root, 'linear', 'Mask', fontSize);
  }

  layout(map: Rect, deconv: Rect, mask: Rect, fontSize: number): void {
    this.compact = fontSize > 14;
    this.captionKey = '';
    this.map.layout(map, fontSize);
    this.deconv.layout(deconv, fontSize);
    this.mask.layout(mask, fontSize);
  }

  /** Draws the selected feature; `s` is the spectrogram of the same frame, `maxDb` its display peak. */
  draw(a: AnalysisFrame, s: SpectrogramFrame, maxDb: number, model: ModelInfo | null): void {
    const method = METHOD_NAMES[a.method] ?? 'deconvnet';
    const key = `${a.layer}/${a.feature}/${method}`;
    if (key !== this.captionKey) {
      this.captionKey = key;
      const name = featureCaption(model, a.layer, a.feature);
      this.map.setCaption(this.compact ? 'Activation' : `Activation: ${name}`);
      this.deconv.setCaption(this.compact ? '|X| × mask' : `Deconvolved |X| × mask (${method})`);
      this.mask.setCaption(this.compact ? `Mask (${method})` : `Mask (${method}; signed √, blue < 0 < orange)`);
      this.mapMax = 0;
      this.maskMax = 0;
    }
    // Activation map, rows low frequency first: shown with low frequencies at the bottom.
    this.map.ensure(a.mapWidth, a.mapHeight);
    const m = range(a.map);
    this.mapMax = Math.max(m.max, this.mapMax * 0.97, 1e-9);
    const lo = Math.min(0, m.min);
    gridToBytesFlipped(a.map, 0, a.mapHeight, a.mapWidth, lo, this.mapMax, this.map.image.bytes, 0, this.map.image.stride);
    this.map.image.update();

    // The mask (projection), frame-major windowFrames x bins, symmetric range around 0.
    const W = a.windowFrames, bins = s.bins;
    if (a.projection.length !== W * bins) return;
    const p = range(a.projection);
    const maxAbs = Math.max(Math.abs(p.min), Math.abs(p.max));
    this.maskMax = Math.max(maxAbs, this.maskMax * 0.95, 1e-12);
    this.mask.ensure(W, bins);
    const mb = this.mask.image.bytes, ms = this.mask.image.stride;
    // Signed square root: masks are peaky; this keeps their weaker structure visible.
    const inv0 = 1 / this.maskMax;
    for (let t = 0; t < W; t++) {
      for (let k = 0; k < bins; k++) {
        const x = a.projection[t * bins + k] * inv0;
        const v = 127.5 + (x < 0 ? -Math.sqrt(-x) : Math.sqrt(x)) * 127.5;
        mb[(bins - 1 - k) * ms + t] = v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
      }
    }
    this.mask.image.update();

    // Deconvolved spectrogram: |X| x |mask| in dB, on the input spectrogram's own display range.
    // Column t of the window is absolute frame windowStartFrame + t; the spectrogram's first column
    // is absolute frame totalFrames - frames.
    this.deconv.ensure(W, bins);
    if (this.deconvValues.length !== W * bins) this.deconvValues = new Float32Array(W * bins);
    const first = s.totalFrames - s.frames;
    const floor = maxDb - RANGE_DB;
    const inv = 1 / this.maskMax;
    for (let t = 0; t < W; t++) {
      const col = a.windowStartFrame + t - first;
      const inside = col >= 0 && col < s.frames;
      for (let k = 0; k < bins; k++) {
        const g = Math.abs(a.projection[t * bins + k]) * inv;
        this.deconvValues[t * bins + k] = inside && g > 1e-5 ? s.data[col * bins + k] + 20 * Math.log10(g) : floor;
      }
    }
    const db = this.deconv.image.bytes, ds = this.deconv.image.stride;
    const scale = 255 / RANGE_DB;
    for (let t = 0; t < W; t++) {
      for (let k = 0; k < bins; k++) {
        const v = (this.deconvValues[t * bins + k] - floor) * scale;
        db[(bins - 1 - k) * ds + t] = v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
      }
    }
    this.deconv.image.update();
  }

  get textureCount(): number {
    return this.map.image.count + this.deconv.image.count + this.mask.image.count;
  }

  destroy(): void {
    this.map.destroy();
    this.deconv.destroy();
    this.mask.destroy();
    this.root.destroy({ children: true });
  }
}

const MAX_BARS = 12;
/** Smoothing time constant of the bars, seconds. */
const BAR_TAU_S = 0.3;

export class PredictionsView {
  readonly root = new Container();
  private readonly caption: Text;
  private bars: Sprite[] = [];
  private names: Text[] = [];
  private smoothed = new Float32Array(0);
  private shown: number[] = [];
  private rect: Rect = { x: 0, y: 0, w: 1, h: 1 };
  private fontSize = 11;
  private lastMs = 0;
  private labelsKey = '';

  constructor(fontSize: number) {
    this.caption = new Text({ text: 'Predictions: waiting for the model', style: labelStyle(fontSize) });
    this.root.addChild(this.caption);
  }

  layout(r: Rect, fontSize: number): void {
    this.rect = r;
    this.fontSize = fontSize;
    this.caption.style.fontSize = fontSize;
    this.caption.position.set(r.x, r.y);
    this.labelsKey = '';
  }

  draw(predictions: Float32Array, labels: string[], nowMs: number): void {
    const n = predictions.length;
    if (this.smoothed.length !== n) {
      this.smoothed = new Float32Array(predictions);
      this.labelsKey = '';
    }
    const dt = this.lastMs ? Math.min(1, (nowMs - this.lastMs) / 1000) : 1;
    this.lastMs = nowMs;
    const alpha = 1 - Math.exp(-dt / BAR_TAU_S);
    for (let i = 0; i < n; i++) this.smoothed[i] += (predictions[i] - this.smoothed[i]) * alpha;
    // Fixed order when all fit (easier to read); else the top MAX_BARS by smoothed probability.
    const order = Array.from({ length: n }, (_, i) => i);
    if (n > MAX_BARS) order.sort((a, b) => this.smoothed[b] - this.smoothed[a]);
    const shown = order.slice(0, MAX_BARS);
    const key = `${shown.join(',')}|${labels.join(',')}|${this.rect.x},${this.rect.y},${this.rect.w},${this.rect.h}`;
    if (key !== this.labelsKey) {
      this.labelsKey = key;
      this.rebuild(shown, labels);
    }
    let top = 0;
    for (let i = 1; i < n; i++) if (this.smoothed[i] > this.smoothed[top]) top = i;
    const barMax = this.rect.w * 0.58;
    shown.forEach((li, row) => {
      const b = this.bars[row];
      b.width = Math.max(1, Math.min(1, this.smoothed[li]) * barMax);
      b.tint = li === top ? 0xf08a4b : 0x6a6890;
    });
  }

  private rebuild(shown: number[], labels: string[]): void {
    for (const c of [...this.bars, ...this.names]) c.destroy();
    this.bars = [];
    this.names = [];
    this.shown = shown;
    this.caption.text = 'Predictions';
    const cap = this.caption.height + 6;
    const rowH = Math.max(6, Math.min(this.fontSize * 2, (this.rect.h - cap) / Math.max(1, shown.length)));
    const labelW = this.rect.w * 0.4;
    shown.forEach((li, row) => {
      const y = this.rect.y + cap + row * rowH;
      const t = new Text({ text: labels[li] ?? String(li), style: { ...labelStyle(Math.max(8, Math.min(this.fontSize, rowH * 0.8))), fill: 0xe8e6f0 } });
      t.anchor.set(1, 0.5);
      t.position.set(this.rect.x + labelW - 6, y + rowH / 2);
      const b = new Sprite(Texture.WHITE);
      b.position.set(this.rect.x + labelW, y + rowH * 0.15);
      b.height = rowH * 0.7;
      this.names.push(t);
      this.bars.push(b);
      this.root.addChild(b, t);
    });
  }

  destroy(): void {
    this.root.destroy({ children: true });
    void this.shown;
  }
}
