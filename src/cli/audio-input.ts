/** Audio input shared by the CLI commands: WAV -> mono -> the model's rate -> STFT magnitudes (Node). */
import { readFileSync } from 'node:fs';
import { StreamResampler } from '../dsp/resample';
import { stft } from '../dsp/stft';
import { decodeWav } from '../dsp/wav';
import { fitClipToFrames, padClip } from '../model/frontend';
import type { FrontEnd } from '../shared/manifest';

/** Resamples a whole mono signal, flushing the converter's held-back tail with silence. */
export async function resampleWhole(x: Float32Array, inRateHz: number, outRateHz: number): Promise<Float32Array> {
  if (inRateHz === outRateHz) return x;
  const r = await StreamResampler.create(inRateHz, outRateHz);
  try {
    const head = r.process(x);
    const tail = r.process(new Float32Array(Math.ceil(inRateHz * 0.1)));
    const want = Math.round((x.length * outRateHz) / inRateHz);
    const out = new Float32Array(want);
    out.set(head.subarray(0, want));
    if (head.length < want) out.set(tail.subarray(0, want - head.length), head.length);
    return out;
  } finally {
    r.dispose();
  }
}

/** A WAV file read for analysis: the downmixed signal at the analysis rate and its source format. */
export interface AnalysisSignal {
  signal: Float32Array;
  sourceSampleRateHz: number;
  sourceChannels: number;
}

/** Decodes a WAV file (any rate/channels), downmixes to mono and resamples to rateHz. Throws on non-WAV input. */
export async function readAnalysisSignal(path: string, rateHz: number): Promise<AnalysisSignal> {
  const wav = decodeWav(new Uint8Array(readFileSync(path)));
  const n = wav.channels[0]?.length ?? 0;
  const mono = new Float32Array(n);
  for (const ch of wav.channels) for (let i = 0; i < n; i++) mono[i] += ch[i] / wav.channels.length;
  const signal = await resampleWhole(mono, wav.sampleRateHz, Math.round(rateHz));
  return { signal, sourceSampleRateHz: wav.sampleRateHz, sourceChannels: wav.channels.length };
}

/** STFT magnitudes of a signal as one frame-major array [frames][bins]. */
export function magnitudeFrames(signal: Float32Array, nFft: number, hopSamples: number): { mag: Float32Array; frames: number; bins: number } {
  const spec = stft(signal, { nFft, hopSamples });
  const frames = spec.mag.length;
  const bins = nFft / 2 + 1;
  const mag = new Float32Array(frames * bins);
  spec.mag.forEach((m, t) => mag.set(m, t * bins));
  return { mag, frames, bins };
}

/**
 * STFT magnitudes of a whole clip framed the way the model's own front end framed it offline
 * (FrontEnd.padding: kapre 'same', librosa 'center-reflect'), first fitted to fixedFrames (when
 * not null: zero-padded at the end or cut to its middle, as Choi did). Frame t starts at original
 * sample t hop - leftPadSamples (negative leftPadSamples: the clip's middle was taken).
 */
export function clipMagnitudeFrames(signal: Float32Array, fe: FrontEnd, fixedFrames: number | null = null): { mag: Float32Array; frames: number; bins: number; leftPadSamples: number } {
  const fitted = fixedFrames === null ? { signal, startSample: 0 } : fitClipToFrames(signal, fixedFrames, fe);
  const padded = padClip(fitted.signal, fe);
  const r = magnitudeFrames(padded.signal, fe.nFft, fe.hopSamples);
  return { ...r, leftPadSamples: padded.leftPadSamples - fitted.startSample };
}

/** What projectFile needs of the model. */
export interface ProjectFileOptions {
  /** One window over the whole file (Choi's offline way) instead of the live rule. */
  whole: boolean;
  /** Frames between live updates (default 2). */
  hopGroupFrames: number;
  /** The minimum window W in frames (the manifest's inputShape[1], or the fixed frames). */
  windowFrames: number;
  /** Total time stride of the network in frames. */
  strideFrames: number;
  /** Receptive field width RF in frames of the layer the map depends on. */
  receptiveFieldFrames: number;
  /** Fixed input frames (Flatten heads) or null. */
  fixedFrames: number | null;
}

/**
 * The live window rule over a whole file: windows [S, n) every hop group (or one window with
 * `whole`); frame t of the result comes from the first window that extends RF - 1 frames past it
 * (settled, DESIGN.md §4), else from the last window that holds it (the file's tail). `analyse`
 * maps a window [s, e) to its frame-major projection.
 */
export async function projectFile(frames: number, bins: number, o: ProjectFileOptions, analyse: (s: number, e: number) => Promise<Float32Array>): Promise<{ map: Float32Array; windows: number }> {
  const windows: [number, number][] = [];
  if (o.whole) {
    windows.push([0, frames]);
  } else {
    if (frames < o.windowFrames) throw new Error(`expected at least ${o.windowFrames} frames for the live window, got ${frames}; try --whole`);
    for (let end = o.windowFrames; ; end = Math.min(end + o.hopGroupFrames, frames)) {
      const s = o.strideFrames * Math.floor((end - o.windowFrames) / o.strideFrames);
      windows.push([s, o.fixedFrames === null ? end : s + o.windowFrames]);
      if (end === frames) break;
    }
  }
  const settled = new Uint8Array(frames);
  const map = new Float32Array(frames * bins);
  for (const [s, e] of windows) {
    // Skip windows that cannot add a frame that is not settled yet.
    let needed = false;
    for (let t = s; t < e && !needed; t++) needed = settled[t] === 0;
    if (!needed) continue;
    const proj = await analyse(s, e);
    for (let t = s; t < e; t++) {
      if (settled[t]) continue;
      map.set(proj.subarray((t - s) * bins, (t - s + 1) * bins), t * bins);
      if (e >= t + o.receptiveFieldFrames) settled[t] = 1;
    }
  }
  return { map, windows: windows.length };
}
