/**
 * GPU colour mapping for the heatmaps. Each heatmap is a reused single-channel (r8) texture of
 * scaled values drawn as an ordinary sprite; a container of such sprites carries one
 * ColormapFilter that looks each pixel's value up in a 256 x 1 colour-map texture. So JavaScript
 * writes one byte per cell (no per-pixel colour work), every heatmap of a group costs one filter
 * pass, and the textures are allocated once per shape, never per frame.
 */
import { BufferImageSource, Filter, GlProgram, GpuProgram, Rectangle, Texture, UniformGroup } from 'pixi.js';
import { colormapTable, divergingTable, paddedWidth, type ColormapName } from './colormap';

const VERTEX = `in vec2 aPosition;
out vec2 vTextureCoord;
uniform vec4 uInputSize;
uniform vec4 uOutputFrame;
uniform vec4 uOutputTexture;
void main(void) {
  vec2 position = aPosition * uOutputFrame.zw + uOutputFrame.xy;
  position.x = position.x * (2.0 / uOutputTexture.x) - 1.0;
  position.y = position.y * (2.0 * uOutputTexture.z / uOutputTexture.y) - uOutputTexture.z;
  gl_Position = vec4(position, 0.0, 1.0);
  vTextureCoord = aPosition * (uOutputFrame.zw * uInputSize.zw);
}`;

// The rendered sprites hold the value in red (premultiplied by alpha); the centre of texel i of the
// 256-wide map is at (i + 0.5) / 256.
const FRAGMENT = `in vec2 vTextureCoord;
out vec4 finalColor;
uniform sampler2D uTexture;
uniform sampler2D uColormap;
uniform float uOpacity;
void main(void) {
  vec4 c = texture(uTexture, vTextureCoord);
  if (c.a <= 0.0) { finalColor = vec4(0.0); return; }
  float v = clamp(c.r / c.a, 0.0, 1.0);
  vec4 m = texture(uColormap, vec2(v * (255.0 / 256.0) + 0.5 / 256.0, 0.5));
  finalColor = vec4(m.rgb, 1.0) * c.a * uOpacity;
}`;

const WGSL = `struct GlobalFilterUniforms {
  uInputSize: vec4<f32>,
  uInputPixel: vec4<f32>,
  uInputClamp: vec4<f32>,
  uOutputFrame: vec4<f32>,
  uGlobalFrame: vec4<f32>,
  uOutputTexture: vec4<f32>,
};
struct ColormapUniforms {
  uOpacity: f32,
};
@group(0) @binding(0) var<uniform> gfu: GlobalFilterUniforms;
@group(0) @binding(1) var uTexture: texture_2d<f32>;
@group(0) @binding(2) var uSampler: sampler;
@group(1) @binding(0) var<uniform> colormapUniforms: ColormapUniforms;
@group(1) @binding(1) var uColormap: texture_2d<f32>;
@group(1) @binding(2) var uColormapSampler: sampler;
struct VSOutput {
  @builtin(position) position: vec4<f32>,
  @location(0) uv: vec2<f32>,
};
@vertex
fn mainVertex(@location(0) aPosition: vec2<f32>) -> VSOutput {
  var position = aPosition * gfu.uOutputFrame.zw + gfu.uOutputFrame.xy;
  position.x = position.x * (2.0 / gfu.uOutputTexture.x) - 1.0;
  position.y = position.y * (2.0 * gfu.uOutputTexture.z / gfu.uOutputTexture.y) - gfu.uOutputTexture.z;
  return VSOutput(vec4(position, 0.0, 1.0), aPosition * (gfu.uOutputFrame.zw * gfu.uInputSize.zw));
}
@fragment
fn mainFragment(@location(0) uv: vec2<f32>) -> @location(0) vec4<f32> {
  let c = textureSample(uTexture, uSampler, uv);
  let v = clamp(c.r / max(c.a, 1e-6), 0.0, 1.0);
  let m = textureSample(uColormap, uColormapSampler, vec2<f32>(v * (255.0 / 256.0) + 0.5 / 256.0, 0.5));
  return select(vec4<f32>(m.rgb, 1.0) * c.a * colormapUniforms.uOpacity, vec4<f32>(0.0), c.a <= 0.0);
}`;

/** The 256 x 1 colour-map textures, shared by every filter of one renderer. */
export class ColormapTextures {
  private readonly sources = new Map<ColormapName | 'diverging', BufferImageSource>();

  /** The texture source of a map (created on first use). */
  get(name: ColormapName | 'diverging'): BufferImageSource {
    let s = this.sources.get(name);
    if (!s) {
      const table = name === 'diverging' ? divergingTable() : colormapTable(name);
      s = new BufferImageSource({ resource: new Uint8Array(table), width: 256, height: 1, format: 'rgba8unorm', scaleMode: 'linear', addressMode: 'clamp-to-edge' });
      this.sources.set(name, s);
    }
    return s;
  }

  /** GPU textures owned. */
  get count(): number {
    return this.sources.size;
  }

  destroy(): void {
    for (const s of this.sources.values()) s.destroy();
    this.sources.clear();
  }
}

/** Maps the red channel of what it covers through a colour-map texture. */
export class ColormapFilter extends Filter {
  constructor(map: BufferImageSource) {
    super({
      glProgram: GlProgram.from({ vertex: VERTEX, fragment: FRAGMENT, name: 'auralscope-colormap' }),
      gpuProgram: GpuProgram.from({ vertex: { source: WGSL, entryPoint: 'mainVertex' }, fragment: { source: WGSL, entryPoint: 'mainFragment' } }),
      resources: {
        colormapUniforms: new UniformGroup({ uOpacity: { value: 1, type: 'f32' } }),
        uColormap: map,
        uColormapSampler: map.style,
      },
      resolution: 'inherit',
    });
  }

  /** Switches the colour map (no allocation). */
  setMap(map: BufferImageSource): void {
    this.resources.uColormap = map;
    this.resources.uColormapSampler = map.style;
  }
}

/**
 * A reused single-channel byte image: `bytes` has rows of `stride` (width padded to 4) bytes;
 * `texture` shows the unpadded width x height. Re-allocated only when the shape changes.
 */
export class ByteImage {
  bytes = new Uint8Array(0);
  stride = 0;
  width = 0;
  height = 0;
  source: BufferImageSource | null = null;
  texture: Texture = Texture.EMPTY;
  /** Bumped when the texture was re-created (sprites must pick up the new one). */
  generation = 0;

  constructor(private readonly scaleMode: 'linear' | 'nearest') {}

  /** Makes sure the image is width x height; returns true when it was (re)allocated. */
  ensure(width: number, height: number): boolean {
    if (this.source && width === this.width && height === this.height) return false;
    this.destroyTexture();
    this.width = width;
    this.height = height;
    this.stride = paddedWidth(width);
    this.bytes = new Uint8Array(this.stride * height);
    this.source = new BufferImageSource({ resource: this.bytes, width: this.stride, height, format: 'r8unorm', scaleMode: this.scaleMode, addressMode: 'clamp-to-edge' });
    this.texture = new Texture({ source: this.source, frame: new Rectangle(0, 0, width, height) });
    this.generation++;
    return true;
  }

  /** A texture showing the sub-rectangle (x, y, w, h) of the image (shares the GPU texture). */
  sub(x: number, y: number, w: number, h: number): Texture {
    if (!this.source) return Texture.EMPTY;
    return new Texture({ source: this.source, frame: new Rectangle(x, y, w, h) });
  }

  /** Uploads the bytes on the next render. */
  update(): void {
    this.source?.update();
  }

  /** GPU textures owned (0 or 1). */
  get count(): number {
    return this.source ? 1 : 0;
  }

  private destroyTexture(): void {
    if (this.source) {
      this.texture.destroy(false);
      this.source.destroy();
    }
    this.source = null;
    this.texture = Texture.EMPTY;
  }

  destroy(): void {
    this.destroyTexture();
  }
}
