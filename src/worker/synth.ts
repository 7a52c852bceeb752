/**
 * The streamed auralisation (DESIGN.md §4), without threads or tfjs: one output STFT frame per input
 * frame, so the wet stream stays locked to the input. Frame t of the input is synthesised when the
 * input has reached t + 1 + delayFrames; delayFrames = lookahead + hop group + an allowance for the
 * analysis to come back. Raising the delay emits silent frames, lowering it skips frames: the ISTFT's
 * overlapping windows turn every such change (and every mask switch) into a one-hop crossfade.
 */
import { applyMask, type MaskOptions } from '../dsp/auralise';
import type { FrameHistory } from './pipeline';

/** What the synthesiser plays. */
export interface SynthSettings {
  /** false: the unmodified STFT (identity resynthesis). */
  solo: boolean;
  mode: 'solo' | 'mute';
  rectify: boolean;
}

/** Level matching: time constant of the energy followers, seconds. */
const LEVEL_SECONDS = 1;
/** Time constant with which the level-matching gain falls, seconds. */
const FALL_SECONDS = 0.03;
/** Largest gain the level matching may apply (+30 dB): a near-silent feature is not blown up into noise. */
export const MAX_LEVEL_GAIN = 31.6;

/** Newest mask value for each recent absolute frame, with the mute scale of the analysis it came from. */
export class MaskStore {
  private readonly masks: Float32Array;
  private readonly frameOf: Float64Array;
  private readonly scaleOf: Float32Array;
  constructor(readonly capacity: number, readonly bins: number) {
    this.masks = new Float32Array(capacity * bins);
    this.frameOf = new Float64Array(capacity).fill(-1);
    this.scaleOf = new Float32Array(capacity);
  }
  private newestFrame = -1;
  /**
   * Stores the settled columns of one analysed window: projection is frames x bins from absolute
   * frame `start`; columns t < start + frames - lookahead are stored (newest analysis wins).
   */
  store(start: number, frames: number, projection: Float32Array, lookahead: number): number {
    // The projection's scale is arbitrary (it carries the activations' units): masks are stored
    // divided by the window's largest |value|, so |X| x mask never exceeds |X| before level matching.
    let peak = 0, top = 0;
    for (let i = 0; i < projection.length; i++) {
      const v = projection[i];
      if (!Number.isFinite(v)) continue;
      if (Math.abs(v) > peak) peak = Math.abs(v);
      if (v > top) top = v;
    }
    const norm = peak > 0 ? 1 / peak : 0;
    const scale = top * norm;
    const end = start + frames - lookahead;
    let stored = 0;
    for (let t = start; t < end; t++) {
      const slot = t % this.capacity;
      const src = (t - start) * this.bins;
      const dst = slot * this.bins;
      for (let k = 0; k < this.bins; k++) {
        const v = projection[src + k] * norm;
        this.masks[dst + k] = Number.isFinite(v) ? v : 0;
      }
      this.frameOf[slot] = t;
      this.scaleOf[slot] = scale;
      stored++;
    }
    if (end > this.newestFrame + 1) this.newestFrame = end - 1;
    return stored;
  }
  /** The mask of absolute frame t (a view), or null when none was stored. */
  get(t: number): { mask: Float32Array; scale: number } | null {
    const slot = t % this.capacity;
    if (this.frameOf[slot] !== t) return null;
    return { mask: this.masks.subarray(slot * this.bins, (slot + 1) * this.bins), scale: this.scaleOf[slot] };
  }
  /** The newest stored frame's mask (a view), or null when nothing is stored. */
  newest(): { mask: Float32Array; scale: number } | null {
    return this.newestFrame < 0 ? null : this.get(this.newestFrame);
  }
  clear(): void {
    this.frameOf.fill(-1);
    this.newestFrame = -1;
  }
}

/** Chooses and shapes the frame the ISTFT gets for each input frame. */
export class SoloSynth {
  readonly masks: MaskStore;
  /** Frames the synthesis runs behind the input. */
  delayFrames = 0;
  /** Next input frame to synthesise. */
  private cursor = 0;
  private readonly outRe: Float32Array;
  private readonly outIm: Float32Array;
  private readonly zeros: Float32Array;
  private readonly re: Float32Array;
  private readonly im: Float32Array;
  private energyIn = 0;
  private energyOut = 0;
  private gain = 1;
  private readonly follow: number;
  private readonly fall: number;
  private lastMask: { mask: Float32Array; scale: number } | null = null;
  /** Solo frames synthesised without a fresh mask (the analysis came back late): the last mask was held. */
  lateMasks = 0;
  /** Level-matching gain applied to the newest solo frame. */
  get levelGain(): number {
    return this.gain;
  }

  constructor(readonly bins: number, capacity: number, hopSeconds: number) {
    this.masks = new MaskStore(capacity, bins);
    this.outRe = new Float32Array(bins);
    this.outIm = new Float32Array(bins);
    this.zeros = new Float32Array(bins);
    this.re = new Float32Array(bins);
    this.im = new Float32Array(bins);
    this.follow = Math.exp(-hopSeconds / LEVEL_SECONDS);
    this.fall = Math.exp(-hopSeconds / FALL_SECONDS);
  }

  /**
   * Called once per new input frame (history.total just grew by one): returns the frame to feed the
   * ISTFT (views valid until the next call).
   */
  next(history: FrameHistory, settings: SynthSettings): { re: Float32Array; im: Float32Array } {
    const target = history.total - 1 - this.delayFrames;
    if (target < 0 || this.cursor > target) return { re: this.zeros, im: this.zeros }; // waiting: delay was raised
    if (this.cursor < target) this.cursor = target; // delay was lowered: skip ahead
    const t = this.cursor++;
    history.frame(t, this.re, this.im);
    if (!settings.solo) return { re: this.re, im: this.im };
    let m = this.masks.get(t);
    if (!m) {
      // Late (the analysis has not reached frame t yet): hold the last mask used, or, when none was
      // ever on time (an analysis slower than the allowance), the newest one stored.
      this.lateMasks++;
      m = this.lastMask ?? this.masks.newest();
      if (!m) return { re: this.zeros, im: this.zeros };
    } else {
      this.lastMask = m;
    }
    const options: MaskOptions = { mode: settings.mode, rectify: settings.rectify, maskScale: m.scale };
    applyMask(this.re, this.im, m.mask, options, this.outRe, this.outIm);
    // Level matching: follow the input's and the masked frame's energies (about 1 s) and scale the
    // solo towards the input's level, at most MAX_LEVEL_GAIN; silence in stays silence out.
    let eIn = 0, eOut = 0;
    for (let k = 0; k < this.bins; k++) {
      eIn += this.re[k] * this.re[k] + this.im[k] * this.im[k];
      eOut += this.outRe[k] * this.outRe[k] + this.outIm[k] * this.outIm[k];
    }
    const a = this.follow;
    const fresh = this.energyOut <= 1e-20;
    this.energyIn = a * this.energyIn + (1 - a) * eIn;
    this.energyOut = a * this.energyOut + (1 - a) * eOut;
    const want = this.energyOut > 1e-20 ? Math.min(MAX_LEVEL_GAIN, Math.sqrt(this.energyIn / this.energyOut)) : this.gain;
    // The gain rises slowly (about 1 s) but falls within a few frames: after a switch to a louder
    // feature the solo never swells above the input's level while the follower catches up.
    if (Number.isFinite(want)) this.gain = fresh ? want : want < this.gain ? this.fall * this.gain + (1 - this.fall) * want : a * this.gain + (1 - a) * want;
    // A sudden jump of the mask cannot burst out before the follower catches up: no frame leaves
    // louder than its input frame.
    const g = eOut > 0 ? Math.min(this.gain, Math.sqrt(eIn / eOut)) : this.gain;
    for (let k = 0; k < this.bins; k++) {
      this.outRe[k] *= g;
      this.outIm[k] *= g;
    }
    return { re: this.outRe, im: this.outIm };
  }

  /** Forgets masks and level state (a new model). */
  reset(): void {
    this.masks.clear();
    this.lastMask = null;
    this.energyIn = this.energyOut = 0;
    this.gain = 1;
  }
}
