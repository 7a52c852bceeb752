/**
 * Owns the pixi Application and its views; rebuilds them when the GPU context is lost.
 * WebGPU is used where a real (non-fallback) adapter exists, WebGL otherwise: headless Chromium's
 * SwiftShader WebGPU adapter computes but does not draw a canvas.
 *
 * Heatmaps live in two containers, each with one ColormapFilter: `heat` (the chosen sequential
 * map) and `signed` (a diverging map for masks). Axes, captions and bars are drawn above them.
 */
import { Application, Container } from 'pixi.js';
import type { ModelInfo } from '../shared/api';
import type { AnalysisFrame, EngineFrame } from '../shared/frame';
import type { ColormapName } from './colormap';
import { FeatureDetailView, FeatureGridView, PredictionsView, type Rect } from './feature-views';
import { ColormapFilter, ColormapTextures } from './heatmap';
import { FrameMeter } from './frame-meter';
import { SpectrogramView } from './spectrogram-view';

/** Picks the renderer: ?renderer=webgl|webgpu forces one. */
async function preferredRenderer(): Promise<'webgpu' | 'webgl'> {
  const forced = new URLSearchParams(location.search).get('renderer');
  if (forced === 'webgl' || forced === 'webgpu') return forced;
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<{ info?: { isFallbackAdapter?: boolean; architecture?: string; description?: string } } | null> } }).gpu;
  if (!gpu) return 'webgl';
  try {
    const adapter = await gpu.requestAdapter();
    const info = adapter?.info;
    if (!adapter || info?.isFallbackAdapter || /swiftshader/i.test(`${info?.architecture ?? ''} ${info?.description ?? ''}`)) return 'webgl';
    return 'webgpu';
  } catch {
    return 'webgl';
  }
}

/** Everything that lives on one renderer and is rebuilt with it. */
interface Views {
  maps: ColormapTextures;
  heatFilter: ColormapFilter;
  signedFilter: ColormapFilter;
  heat: Container;
  signed: Container;
  spectrogram: SpectrogramView;
  grid: FeatureGridView;
  detail: FeatureDetailView;
  predictions: PredictionsView;
}

export class Stage {
  private app: Application | null = null;
  private views: Views | null = null;
  private rebuilding = false;
  /** Something changed since the last render. */
  private dirty = true;
  private lastFrame: EngineFrame | null = null;
  private lastAnalysisMs = -1;
  private resizeObserver: ResizeObserver | null = null;
  private readonly meter = new FrameMeter(600);
  /** Main-thread time of paint() (scaling data into the textures) and of render() (issuing the GPU work), ms. */
  private readonly paintMs = new FrameMeter(600);
  private readonly renderMs = new FrameMeter(600);
  private colormapName: ColormapName = 'magma';
  private model: ModelInfo | null = null;
  renderer = 'none';
  /** The newest analysis received (drawn or not). */
  latestAnalysis: AnalysisFrame | null = null;
  /** Booth mode: larger type. */
  booth = false;
  /** Frozen: frames are kept but not drawn (sound goes on). */
  frozen = false;
  onLost: (what: string) => void = () => {};
  /** Called when a feature tile is clicked. */
  onPick: (feature: number) => void = () => {};

  constructor(private readonly host: HTMLElement) {}

  async init(): Promise<void> {
    const preference = await preferredRenderer();
    const app = new Application();
    await app.init({ preference, resizeTo: this.host, background: 0x0b0b10, antialias: false, autoDensity: true, resolution: window.devicePixelRatio || 1 });
    this.app = app;
    this.renderer = app.renderer.name;
    this.host.appendChild(app.canvas);
    app.canvas.setAttribute('role', 'img');
    app.canvas.setAttribute('aria-label', 'Live views: input spectrogram, the features of the selected layer, the selected feature and the predictions');
    // resizeTo follows the window only; the stage also changes size when the bars above and below it do.
    this.resizeObserver = new ResizeObserver(() => app.resize());
    this.resizeObserver.observe(this.host);
    app.canvas.addEventListener('webglcontextlost', (e) => {
      e.preventDefault();
      this.handleLoss('the WebGL context was lost');
    });
    const fs = this.fontSize;
    const maps = new ColormapTextures();
    const heatFilter = new ColormapFilter(maps.get(this.colormapName));
    const signedFilter = new ColormapFilter(maps.get('diverging'));
    const heat = new Container({ label: 'heat' });
    const signed = new Container({ label: 'signed' });
    heat.filters = [heatFilter];
    signed.filters = [signedFilter];
    const spectrogram = new SpectrogramView(heat);
    const grid = new FeatureGridView(heat, fs);
    grid.onPick = (k) => this.onPick(k);
    const detail = new FeatureDetailView(heat, signed, fs);
    const predictions = new PredictionsView(fs);
    app.stage.addChild(heat, signed, spectrogram.root, grid.root, detail.root, predictions.root);
    this.views = { maps, heatFilter, signedFilter, heat, signed, spectrogram, grid, detail, predictions };
    this.meter.reset();
    // Render on demand: frames arrive every hop group (about 21 per second), the display runs at
    // 60 Hz; re-rendering unchanged pixels would triple the GPU (or SwiftShader) work.
    app.ticker.remove(app.render, app);
    app.ticker.add(() => {
      this.meter.tick(performance.now());
      if (this.dirty && !this.rebuilding) {
        this.dirty = false;
        const t = performance.now();
        app.render();
        this.renderMs.record(performance.now() - t);
      }
    });
    this.layout();
    app.renderer.on('resize', () => this.layout());
    if (this.lastFrame) this.paint(this.lastFrame);
  }

  private get fontSize(): number {
    return this.booth ? 22 : 11;
  }

  /** Regions of the stage for the current size (CSS pixels). */
  private regions(): { spectrogram: Rect; grid: Rect; map: Rect; deconv: Rect; mask: Rect; predictions: Rect } {
    const { width: W, height: H } = this.app!.screen;
    const pad = 8, gap = this.booth ? 20 : 12;
    const topH = Math.round((H - 2 * pad - gap) * 0.56);
    const botY = pad + topH + gap;
    const botH = H - pad - botY;
    const specW = Math.round((W - 2 * pad - gap) * 0.58);
    const cols = [0.2, 0.27, 0.27, 0.26];
    const avail = W - 2 * pad - 3 * gap;
    let x = pad;
    const bottom = cols.map((f) => {
      const r = { x, y: botY, w: avail * f, h: botH };
      x += avail * f + gap;
      return r;
    });
    return {
      spectrogram: { x: pad, y: pad, w: specW, h: topH },
      grid: { x: pad + specW + gap, y: pad, w: W - 2 * pad - specW - gap, h: topH },
      map: bottom[0], deconv: bottom[1], mask: bottom[2], predictions: bottom[3],
    };
  }

  private layout(): void {
    const v = this.views;
    if (!this.app || !v) return;
    const r = this.regions();
    const fs = this.fontSize;
    v.spectrogram.layout(r.spectrogram.x, r.spectrogram.y, r.spectrogram.w, r.spectrogram.h, fs);
    v.grid.layout(r.grid, fs);
    v.detail.layout(r.map, r.deconv, r.mask, fs);
    v.predictions.layout(r.predictions, fs);
    this.dirty = true;
    if (this.lastFrame) this.paint(this.lastFrame);
  }

  /** Re-lays the views out (after a booth-mode change). */
  relayout(): void {
    if (!this.app || !this.views) return;
    // Fonts of existing texts change in layout(); captions keep their text.
    this.layout();
  }

  /** Draws the newest frame (called once per animation frame with a new frame only). */
  draw(frame: EngineFrame): void {
    this.lastFrame = frame;
    if (frame.analysis) this.latestAnalysis = frame.analysis;
    if (this.rebuilding || this.frozen || !this.views) return;
    this.paint(frame);
  }

  private paint(frame: EngineFrame): void {
    const v = this.views;
    if (!v) return;
    this.dirty = true;
    const t = performance.now();
    this.paintViews(v, frame);
    this.paintMs.record(performance.now() - t);
  }

  private paintViews(v: Views, frame: EngineFrame): void {
    v.spectrogram.draw(frame.spectrogram);
    const a = frame.analysis;
    if (a) {
      this.lastAnalysisMs = performance.now();
      v.grid.draw(a, this.model);
      v.detail.draw(a, frame.spectrogram, v.spectrogram.maxDb, this.model);
      v.predictions.draw(a.predictions, this.model?.labels ?? [], performance.now());
    }
  }

  /** The running model (captions, labels). */
  setModel(model: ModelInfo | null): void {
    this.model = model;
  }

  /** Switches the sequential colour map of every heatmap. */
  set colormap(name: ColormapName) {
    this.colormapName = name;
    const v = this.views;
    if (v) v.heatFilter.setMap(v.maps.get(name));
    this.dirty = true;
  }

  get colormap(): ColormapName {
    return this.colormapName;
  }

  /** Columns of the feature grid (arrow up/down step). */
  get gridColumns(): number {
    return this.views?.grid.columns ?? 1;
  }

  /** Centre of a feature's tile in page (CSS) pixels, or null when it is not drawn. */
  tileCenter(feature: number): { x: number; y: number } | null {
    const t = this.views?.grid.tileRect(feature);
    if (!t || !this.app) return null;
    const box = this.app.canvas.getBoundingClientRect();
    return { x: box.left + t.x + t.w / 2, y: box.top + t.y + t.h / 2 };
  }

  /** Each view's rectangle in page (CSS) pixels (for screenshots in tests). */
  viewRects(): Record<string, Rect> | null {
    if (!this.app || !this.views) return null;
    const box = this.app.canvas.getBoundingClientRect();
    const out: Record<string, Rect> = {};
    for (const [name, r] of Object.entries(this.regions())) out[name] = { x: box.left + r.x, y: box.top + r.y, w: r.w, h: r.h };
    return out;
  }

  /** Frame interval of the render loop (requestAnimationFrame deltas through pixi's ticker). */
  frameStats(): { medianMs: number; p95Ms: number; fps: number; frames: number; paintMedianMs: number; renderMedianMs: number } {
    return { ...this.meter.stats(), paintMedianMs: this.paintMs.stats().medianMs, renderMedianMs: this.renderMs.stats().medianMs };
  }

  /** True when an analysis frame was drawn in the last two seconds. */
  get analysisLive(): boolean {
    return this.lastAnalysisMs > 0 && performance.now() - this.lastAnalysisMs < 2000;
  }

  /** Makes the GPU context loss happen for real (debug.inject('device-lost')). */
  loseDevice(): void {
    if (!this.app) return;
    const r = this.app.renderer as unknown as { gl?: WebGL2RenderingContext; gpu?: { device: { destroy(): void } } };
    if (r.gl) {
      r.gl.getExtension('WEBGL_lose_context')?.loseContext();
    } else if (r.gpu) {
      r.gpu.device.destroy();
      this.handleLoss('the WebGPU device was lost');
    }
  }

  private handleLoss(what: string): void {
    if (this.rebuilding) return;
    this.rebuilding = true;
    this.onLost(what);
    setTimeout(() => {
      this.destroy();
      void this.init().finally(() => {
        this.rebuilding = false;
      });
    }, 250);
  }

  /** GPU textures owned by the views (heatmap images and colour maps). */
  get textureCount(): number {
    const v = this.views;
    if (!v) return 0;
    return v.maps.count + v.spectrogram.textureCount + v.grid.textureCount + v.detail.textureCount;
  }

  destroy(): void {
    this.resizeObserver?.disconnect();
    this.resizeObserver = null;
    const v = this.views;
    if (v) {
      v.spectrogram.destroy();
      v.grid.destroy();
      v.detail.destroy();
      v.predictions.destroy();
      v.heat.filters = [];
      v.signed.filters = [];
      v.heatFilter.destroy();
      v.signedFilter.destroy();
      v.maps.destroy();
    }
    this.views = null;
    if (this.app) {
      const canvas = this.app.canvas;
      this.app.destroy({ removeView: true }, { children: true, texture: true });
      canvas.remove();
    }
    this.app = null;
  }
}
