/**
 * Owns the pixi Application and its views; rebuilds them when the GPU context is lost.
 * WebGPU is used where a real (non-fallback) adapter exists, WebGL otherwise: headless Chromium's
 * SwiftShader WebGPU adapter computes but does not draw a canvas.
 */
import { Application } from 'pixi.js';
import { SpectrogramView } from './spectrogram-view';
import type { EngineFrame } from '../shared/frame';

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

export class Stage {
  private app: Application | null = null;
  private spectrogram: SpectrogramView | null = null;
  private rebuilding = false;
  private lastFrame: EngineFrame | null = null;
  private resizeObserver: ResizeObserver | null = null;
  renderer = 'none';
  onLost: (what: string) => void = () => {};

  constructor(private readonly host: HTMLElement) {}

  async init(): Promise<void> {
    const preference = await preferredRenderer();
    const app = new Application();
    await app.init({ preference, resizeTo: this.host, background: 0x0b0b10, antialias: false, autoDensity: true, resolution: window.devicePixelRatio || 1 });
    this.app = app;
    this.renderer = app.renderer.name;
    this.host.appendChild(app.canvas);
    // resizeTo follows the window only; the stage also changes size when the bars above and below it do.
    this.resizeObserver = new ResizeObserver(() => app.resize());
    this.resizeObserver.observe(this.host);
    app.canvas.addEventListener('webglcontextlost', (e) => {
      e.preventDefault();
      this.handleLoss('the WebGL context was lost');
    });
    this.spectrogram = new SpectrogramView(app);
    app.stage.addChild(this.spectrogram.root);
    this.layout();
    app.renderer.on('resize', () => this.layout());
    if (this.lastFrame) this.draw(this.lastFrame);
  }

  private layout(): void {
    if (!this.app || !this.spectrogram) return;
    const { width, height } = this.app.screen;
    this.spectrogram.layout(8, 8, width - 16, height - 16);
  }

  /** Draws the newest frame (called once per animation frame with a new frame only). */
  draw(frame: EngineFrame): void {
    this.lastFrame = frame;
    if (this.rebuilding || !this.spectrogram) return;
    this.spectrogram.draw(frame.spectrogram);
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

  /** GPU textures owned by the views. */
  get textureCount(): number {
    return this.spectrogram?.textureCount ?? 0;
  }

  destroy(): void {
    this.resizeObserver?.disconnect();
    this.resizeObserver = null;
    this.spectrogram?.destroy();
    this.spectrogram = null;
    if (this.app) {
      const canvas = this.app.canvas;
      this.app.destroy({ removeView: true }, { children: true, texture: true });
      canvas.remove();
    }
    this.app = null;
  }
}
