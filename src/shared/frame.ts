/**
 * Frames the worker publishes for the UI, and the latest-frame mailbox that carries them
 * (DESIGN.md §1: newest wins, a sequence number, read once per animation frame).
 *
 * Mailbox layout (one SharedArrayBuffer, written by the worker only, read by the main thread):
 *   Int32[0]  seq: even = stable, odd = the worker is writing; bumped twice per publish
 *   Int32[1]  payload length in float32 values
 *   Float32[2..] payload: a packed frame (see packFrame)
 * A reader copies the payload between two loads of seq and keeps the copy only if seq was even and
 * unchanged (a seqlock); otherwise it keeps the frame it had. The reader's frame can be late.
 */

/** Rolling spectrogram of the analysed input: newest frame last. */
export interface SpectrogramFrame {
  /** Frequency bins per frame (nFft / 2 + 1). */
  bins: number;
  /** Frames in `data`. */
  frames: number;
  /** Frequency resolution: analysis rate / nFft. */
  hzPerBin: number;
  /** Seconds between frames: hop / analysis rate. */
  secondsPerFrame: number;
  /** Absolute index (since the stream began) of the frame after the newest one. */
  totalFrames: number;
  /** frames x bins magnitudes in dB (20 log10 |X|, unnormalised STFT), frame-major. */
  data: Float32Array;
}

/** What the analysis engine publishes per hop group for the selected layer/feature. */
export interface AnalysisFrame {
  /** 0-based tap index of the selection. */
  layer: number;
  feature: number;
  /** Index into METHODS. */
  method: number;
  /** Label index used by the method, or -1. */
  label: number;
  /** Absolute frame index where the analysed window starts. */
  windowStartFrame: number;
  /** Frames in the analysed window. */
  windowFrames: number;
  /** Channels of the selected layer and the thumbnail grid: channels x thumbHeight x thumbWidth. */
  channels: number;
  thumbHeight: number;
  thumbWidth: number;
  thumbnails: Float32Array;
  /** Full-resolution map of the selected feature: mapHeight (frequency) x mapWidth (time), row-major. */
  mapHeight: number;
  mapWidth: number;
  map: Float32Array;
  /** Projection of the selection onto the input grid: windowFrames x bins, frame-major. */
  projection: Float32Array;
  /** One probability per label. */
  predictions: Float32Array;
}

/** One published frame. */
export interface EngineFrame {
  seq: number;
  spectrogram: SpectrogramFrame;
  analysis: AnalysisFrame | null;
}

const SPECTRO_HEADER = 5;
const ANALYSIS_HEADER = 12;

/** Float32 values needed to pack a frame with these sizes. */
export function packedLength(f: Omit<EngineFrame, 'seq'>): number {
  let n = 2 + SPECTRO_HEADER + f.spectrogram.data.length;
  const a = f.analysis;
  if (a) n += ANALYSIS_HEADER + 4 + a.thumbnails.length + a.map.length + a.projection.length + a.predictions.length;
  return n;
}

/** Packs a frame into `out` (which must hold packedLength values); returns the length used. */
export function packFrame(f: Omit<EngineFrame, 'seq'>, out: Float32Array): number {
  const s = f.spectrogram;
  let i = 0;
  out[i++] = 1; // version
  out[i++] = f.analysis ? 1 : 0;
  out[i++] = s.bins;
  out[i++] = s.frames;
  out[i++] = s.hzPerBin;
  out[i++] = s.secondsPerFrame;
  out[i++] = s.totalFrames; // exact below 2^24 frames (about 4.5 days at 23 ms per frame)
  out.set(s.data, i);
  i += s.data.length;
  const a = f.analysis;
  if (a) {
    const head = [a.layer, a.feature, a.method, a.label, a.windowStartFrame, a.windowFrames, a.channels,
      a.thumbHeight, a.thumbWidth, a.mapHeight, a.mapWidth, a.predictions.length];
    for (const v of head) out[i++] = v;
    for (const arr of [a.thumbnails, a.map, a.projection, a.predictions]) {
      out[i++] = arr.length;
      out.set(arr, i);
      i += arr.length;
    }
  }
  return i;
}

/** Unpacks a frame packed by packFrame; the arrays are copies. */
export function unpackFrame(p: Float32Array, seq: number): EngineFrame {
  let i = 1;
  const hasAnalysis = p[i++] === 1;
  const bins = p[i++], frames = p[i++], hzPerBin = p[i++], secondsPerFrame = p[i++], totalFrames = p[i++];
  const data = p.slice(i, i + bins * frames);
  i += bins * frames;
  let analysis: AnalysisFrame | null = null;
  if (hasAnalysis) {
    const h = Array.from(p.subarray(i, i + ANALYSIS_HEADER));
    i += ANALYSIS_HEADER;
    const take = (): Float32Array => {
      const n = p[i++];
      const arr = p.slice(i, i + n);
      i += n;
      return arr;
    };
    const thumbnails = take(), map = take(), projection = take(), predictions = take();
    analysis = {
      layer: h[0], feature: h[1], method: h[2], label: h[3], windowStartFrame: h[4], windowFrames: h[5],
      channels: h[6], thumbHeight: h[7], thumbWidth: h[8], mapHeight: h[9], mapWidth: h[10],
      thumbnails, map, projection, predictions,
    };
  }
  return { seq, spectrogram: { bins, frames, hzPerBin, secondsPerFrame, totalFrames, data }, analysis };
}

/** Bytes of the mailbox header. */
const MAILBOX_HEADER_BYTES = 8;

/** Creates a mailbox able to carry `capacity` float32 payload values. */
export function createMailbox(capacity: number): SharedArrayBuffer {
  return new SharedArrayBuffer(MAILBOX_HEADER_BYTES + capacity * 4);
}

/** Worker side of the mailbox. */
export class MailboxWriter {
  private readonly ints: Int32Array;
  private readonly payload: Float32Array;
  constructor(buffer: SharedArrayBuffer) {
    this.ints = new Int32Array(buffer, 0, 2);
    this.payload = new Float32Array(buffer, MAILBOX_HEADER_BYTES);
  }
  /** Publishes a frame; returns false (and publishes nothing) if it does not fit. */
  publish(f: Omit<EngineFrame, 'seq'>): boolean {
    if (packedLength(f) > this.payload.length) return false;
    Atomics.add(this.ints, 0, 1); // odd: writing
    const n = packFrame(f, this.payload);
    Atomics.store(this.ints, 1, n);
    Atomics.add(this.ints, 0, 1); // even: stable
    return true;
  }
}

/** Main-thread side of the mailbox: read once per animation frame. */
export class MailboxReader {
  private readonly ints: Int32Array;
  private readonly payload: Float32Array;
  private scratch = new Float32Array(0);
  private lastSeq = -1;
  constructor(buffer: SharedArrayBuffer) {
    this.ints = new Int32Array(buffer, 0, 2);
    this.payload = new Float32Array(buffer, MAILBOX_HEADER_BYTES);
  }
  /** The newest frame if one was published since the last successful read, else null. */
  read(): EngineFrame | null {
    const s1 = Atomics.load(this.ints, 0);
    if (s1 & 1 || s1 === this.lastSeq || s1 === 0) return null;
    const n = Atomics.load(this.ints, 1);
    if (this.scratch.length < n) this.scratch = new Float32Array(n);
    this.scratch.set(this.payload.subarray(0, n));
    if (Atomics.load(this.ints, 0) !== s1) return null; // torn: the worker wrote meanwhile
    this.lastSeq = s1;
    return unpackFrame(this.scratch.subarray(0, n), s1 >> 1);
  }
}
