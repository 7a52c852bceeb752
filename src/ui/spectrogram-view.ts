/**
 * The scrolling input spectrogram, drawn with pixi.js: one reused RGBA texture (frames x bins),
 * re-coloured from the newest published frame only, with frequency (Hz) and time (s) axes.
 */
import { Application, BufferImageSource, Container, Graphics, Sprite, Text, Texture } from 'pixi.js';
import type { SpectrogramFrame } from '../shared/frame';
import { colormapTable, gridToRgba, type ColormapName } from './colormap';

/** Display range below the running maximum, dB. */
const RANGE_DB = 80;
const AXIS_LEFT = 56;
const AXIS_BOTTOM = 26;
const LABEL_STYLE = { fontFamily: 'sans-serif', fontSize: 11, fill: 0x9a98a8 };

export class SpectrogramView {
  readonly root = new Container();
  private source: BufferImageSource | null = null;
  private texture: Texture | null = null;
  private sprite: Sprite | null = null;
  private pixels = new Uint8Array(0);
  private readonly axes = new Graphics();
  private readonly labels = new Container();
  private shape = '';
  private maxDb = -Infinity;
  private width = 0;
  private height = 0;
  colormap: ColormapName = 'magma';

  constructor(private readonly app: Application) {
    this.root.addChild(this.axes, this.labels);
  }

  /** Lays the view out in a rectangle of the stage. */
  layout(x: number, y: number, width: number, height: number): void {
    this.root.position.set(x, y);
    this.width = width;
    this.height = height;
    this.shape = ''; // redraw axes with the new size on the next frame
  }

  /** Draws a frame: re-colours the reused texture and, when the shape changed, the axes. */
  draw(f: SpectrogramFrame): void {
    const shape = `${f.frames}x${f.bins}x${this.width}x${this.height}`;
    if (!this.source || this.source.width !== f.frames || this.source.height !== f.bins) this.makeTexture(f.frames, f.bins);
    // Running maximum with a slow release, so quiet passages stay visible without flicker.
    let frameMax = -Infinity;
    for (let i = 0; i < f.data.length; i++) if (f.data[i] > frameMax) frameMax = f.data[i];
    this.maxDb = Math.max(frameMax, this.maxDb - 0.5);
    gridToRgba(f.data, f.frames, f.bins, this.maxDb - RANGE_DB, this.maxDb, colormapTable(this.colormap), this.pixels);
    this.source!.update();
    if (shape !== this.shape) {
      this.shape = shape;
      this.drawAxes(f);
    }
  }

  private makeTexture(frames: number, bins: number): void {
    this.texture?.destroy(true);
    this.sprite?.destroy();
    this.pixels = new Uint8Array(frames * bins * 4);
    this.source = new BufferImageSource({ resource: this.pixels, width: frames, height: bins, format: 'rgba8unorm', scaleMode: 'linear' });
    this.texture = new Texture({ source: this.source });
    this.sprite = new Sprite(this.texture);
    this.sprite.label = 'spectrogram';
    this.root.addChildAt(this.sprite, 0);
  }

  private drawAxes(f: SpectrogramFrame): void {
    const plotW = Math.max(1, this.width - AXIS_LEFT);
    const plotH = Math.max(1, this.height - AXIS_BOTTOM);
    if (this.sprite) {
      this.sprite.position.set(AXIS_LEFT, 0);
      this.sprite.width = plotW;
      this.sprite.height = plotH;
    }
    this.axes.clear();
    for (const l of this.labels.removeChildren()) l.destroy();
    const nyquistHz = f.hzPerBin * (f.bins - 1);
    const stepHz = nyquistHz > 8000 ? 2000 : 1000;
    for (let hz = 0; hz <= nyquistHz; hz += stepHz) {
      const y = plotH - (hz / nyquistHz) * plotH;
      this.axes.moveTo(AXIS_LEFT - 5, y).lineTo(AXIS_LEFT, y);
      const t = new Text({ text: hz >= 1000 ? `${hz / 1000} kHz` : `${hz} Hz`, style: LABEL_STYLE });
      t.anchor.set(1, 0.5);
      t.position.set(AXIS_LEFT - 7, Math.min(Math.max(y, 6), plotH - 6));
      this.labels.addChild(t);
    }
    const seconds = f.frames * f.secondsPerFrame;
    for (let s = 0; s <= seconds + 1e-9; s += 1) {
      const x = AXIS_LEFT + plotW - (s / seconds) * plotW;
      this.axes.moveTo(x, plotH).lineTo(x, plotH + 5);
      const t = new Text({ text: s === 0 ? 'now' : `−${s} s`, style: LABEL_STYLE });
      t.anchor.set(0.5, 0);
      t.position.set(Math.min(Math.max(x, AXIS_LEFT + 12), AXIS_LEFT + plotW - 12), plotH + 7);
      this.labels.addChild(t);
    }
    this.axes.moveTo(AXIS_LEFT, 0).lineTo(AXIS_LEFT, plotH).lineTo(AXIS_LEFT + plotW, plotH);
    this.axes.stroke({ width: 1, color: 0x55556a });
  }

  /** Number of GPU textures this view owns (for the soak report). */
  get textureCount(): number {
    return this.texture ? 1 : 0;
  }

  destroy(): void {
    this.texture?.destroy(true);
    this.root.destroy({ children: true });
    this.texture = null;
    this.source = null;
    this.sprite = null;
    void this.app;
  }
}
