/**
 * The scrolling input spectrogram with frequency (Hz) and time (s) axes. The newest published
 * frame is scaled to one reused r8 texture (one byte per cell); the stage's ColormapFilter colours
 * it on the GPU.
 */
import { Container, Graphics, Sprite, Text } from 'pixi.js';
import type { SpectrogramFrame } from '../shared/frame';
import { framesToBytes, range } from './colormap';
import { ByteImage } from './heatmap';

/** Display range below the running maximum, dB. */
export const RANGE_DB = 80;
const AXIS_LEFT = 56;
const AXIS_BOTTOM = 26;

/** Text style of axis labels at a font size. */
export function labelStyle(fontSize: number): { fontFamily: string; fontSize: number; fill: number } {
  return { fontFamily: 'sans-serif', fontSize, fill: 0x9a98a8 };
}

export class SpectrogramView {
  /** Axes and labels (unfiltered). */
  readonly root = new Container();
  private readonly image = new ByteImage('linear');
  private readonly sprite = new Sprite();
  private readonly axes = new Graphics();
  private readonly labels = new Container();
  private shape = '';
  private x = 0;
  private y = 0;
  private width = 0;
  private height = 0;
  private fontSize = 11;
  /** Running maximum (dB) with a slow release; the deconvolved view shares it. */
  maxDb = -Infinity;

  /** `heat`: the stage's colour-mapped container, which holds this view's heatmap sprite. */
  constructor(heat: Container) {
    this.sprite.label = 'spectrogram';
    heat.addChild(this.sprite);
    this.root.addChild(this.axes, this.labels);
  }

  /** Lays the view out in a rectangle of the stage. */
  layout(x: number, y: number, width: number, height: number, fontSize: number): void {
    this.x = x;
    this.y = y;
    this.width = width;
    this.height = height;
    this.fontSize = fontSize;
    this.shape = ''; // redraw axes with the new size on the next frame
  }

  /** Draws a frame: rescales the reused texture and, when the shape changed, the axes. */
  draw(f: SpectrogramFrame): void {
    if (this.image.ensure(f.frames, f.bins)) this.sprite.texture = this.image.texture;
    const { max } = range(f.data);
    // Running maximum with a slow release, so quiet passages stay visible without flicker.
    this.maxDb = Math.max(max, this.maxDb - 0.5);
    framesToBytes(f.data, f.frames, f.bins, this.maxDb - RANGE_DB, this.maxDb, this.image.bytes, this.image.stride);
    this.image.update();
    const shape = `${f.frames}x${f.bins}x${this.x}x${this.y}x${this.width}x${this.height}x${this.fontSize}`;
    if (shape !== this.shape) {
      this.shape = shape;
      this.drawAxes(f);
    }
  }

  private drawAxes(f: SpectrogramFrame): void {
    const left = this.x + AXIS_LEFT * (this.fontSize / 11);
    const plotW = Math.max(1, this.x + this.width - left);
    const plotH = Math.max(1, this.height - AXIS_BOTTOM * (this.fontSize / 11));
    const top = this.y;
    this.sprite.position.set(left, top);
    this.sprite.width = plotW;
    this.sprite.height = plotH;
    this.axes.clear();
    for (const l of this.labels.removeChildren()) l.destroy();
    const style = labelStyle(this.fontSize);
    const nyquistHz = f.hzPerBin * (f.bins - 1);
    const stepHz = nyquistHz > 8000 ? 2000 : 1000;
    for (let hz = 0; hz <= nyquistHz; hz += stepHz) {
      const y = top + plotH - (hz / nyquistHz) * plotH;
      this.axes.moveTo(left - 5, y).lineTo(left, y);
      const t = new Text({ text: hz >= 1000 ? `${hz / 1000} kHz` : `${hz} Hz`, style });
      t.anchor.set(1, 0.5);
      t.position.set(left - 7, Math.min(Math.max(y, top + 6), top + plotH - 6));
      this.labels.addChild(t);
    }
    const seconds = f.frames * f.secondsPerFrame;
    for (let s = 0; s <= seconds + 1e-9; s += 1) {
      const x = left + plotW - (s / seconds) * plotW;
      this.axes.moveTo(x, top + plotH).lineTo(x, top + plotH + 5);
      const t = new Text({ text: s === 0 ? 'now' : `−${s} s`, style });
      t.anchor.set(0.5, 0);
      t.position.set(Math.min(Math.max(x, left + 12), left + plotW - 12), top + plotH + 7);
      this.labels.addChild(t);
    }
    this.axes.moveTo(left, top).lineTo(left, top + plotH).lineTo(left + plotW, top + plotH);
    this.axes.stroke({ width: 1, color: 0x55556a });
  }

  /** Number of GPU textures this view owns (for the soak report). */
  get textureCount(): number {
    return this.image.count;
  }

  destroy(): void {
    this.image.destroy();
    this.sprite.destroy();
    this.root.destroy({ children: true });
  }
}
