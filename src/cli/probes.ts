/**
 * Probe sounds for the feature analysis (issue 7), made in code: chords and intervals in several
 * keys on several timbres (sine, and the demo's piano, plucked string, reed and strings voices),
 * isolated clicks, a drum pattern (kick, snare, hat), noise bursts and a sweep. Every probe is one
 * clip of the same length with its onsets and its steady span, so they can be batched.
 */
import { makeRng, midiToHz, renderHat, renderKick, renderPianoNote, renderReedNote, renderSnare, renderStringsNote, renderBassNote } from '../dsp/demo-voices';

/** Chord qualities (semitones above the root); intervals are analysed like chords except for chord selectivity. */
export const QUALITIES: Record<string, { semitones: number[]; chord: boolean }> = {
  major: { semitones: [0, 4, 7], chord: true },
  minor: { semitones: [0, 3, 7], chord: true },
  sus4: { semitones: [0, 5, 7], chord: true },
  seventh: { semitones: [0, 4, 7, 10], chord: true },
  diminished: { semitones: [0, 3, 6], chord: true },
  fifth: { semitones: [0, 7], chord: false },
  'major third': { semitones: [0, 4], chord: false },
};

/** Timbres of the chord probes. */
export const TIMBRES = ['sine', 'piano', 'plucked', 'reed', 'strings'] as const;
export type Timbre = (typeof TIMBRES)[number];

/** Roots (MIDI) of the keys: four keys a minor third apart, C3 to A3. */
export const KEY_ROOTS = [48, 51, 54, 57];

/** One probe clip. */
export interface Probe {
  name: string;
  kind: 'chord' | 'click' | 'drums' | 'noise' | 'sweep';
  key: number | null;
  quality: string | null;
  timbre: Timbre | null;
  samples: Float32Array;
  /** Onset times in seconds. */
  onsetsSec: number[];
  /** Steady span [start, end) in seconds, for held sounds. */
  steadySec: [number, number] | null;
}

/** Clip length of every probe (s). */
export const PROBE_SECONDS = 2.5;
const ONSET_SEC = 0.3;
const HOLD_SEC = 1.6;

function voice(t: Timbre, rate: number, midi: number, seed: number): Float64Array {
  const rng = makeRng(seed);
  switch (t) {
    case 'sine': {
      const n = Math.round(HOLD_SEC * rate);
      const f = midiToHz(midi);
      const a = Math.round(0.005 * rate);
      return Float64Array.from({ length: n + a }, (_, i) => Math.sin((2 * Math.PI * f * i) / rate) * Math.min(1, i / a, (n + a - i) / a));
    }
    case 'piano': return renderPianoNote(rate, rng, midi, HOLD_SEC, 0.8);
    case 'plucked': return renderBassNote(rate, rng, midi, HOLD_SEC);
    case 'reed': return renderReedNote(rate, rng, midi, HOLD_SEC);
    case 'strings': return renderStringsNote(rate, rng, midi, HOLD_SEC);
  }
}

function addAt(out: Float32Array, x: Float64Array, atSec: number, rate: number, gain: number): void {
  const o = Math.round(atSec * rate);
  for (let i = 0; i < x.length && o + i < out.length; i++) out[o + i] += gain * x[i];
}

function normalise(x: Float32Array, peak = 0.5): Float32Array {
  let m = 0;
  for (const v of x) m = Math.max(m, Math.abs(v));
  if (m > 0) for (let i = 0; i < x.length; i++) x[i] *= peak / m;
  return x;
}

/** The probe set at rateHz. `keys`/`timbres` narrow it (tests). */
export function makeProbes(rateHz: number, options: { keys?: number[]; timbres?: readonly Timbre[] } = {}): Probe[] {
  const len = Math.round(PROBE_SECONDS * rateHz);
  const probes: Probe[] = [];
  let seed = 1;
  for (const key of options.keys ?? KEY_ROOTS) for (const [quality, q] of Object.entries(QUALITIES)) for (const timbre of options.timbres ?? TIMBRES) {
    const x = new Float32Array(len);
    for (const s of q.semitones) addAt(x, voice(timbre, rateHz, key + s, seed++), ONSET_SEC, rateHz, 1);
    probes.push({ name: `${quality} ${key} ${timbre}`, kind: 'chord', key, quality, timbre, samples: normalise(x), onsetsSec: [ONSET_SEC], steadySec: [ONSET_SEC + 0.35, ONSET_SEC + HOLD_SEC] });
  }
  const rng = makeRng(99);
  const clicks = new Float32Array(len);
  const clickTimes = [0.3, 0.9, 1.5, 2.1];
  for (const t of clickTimes) clicks[Math.round(t * rateHz)] = 0.9;
  probes.push({ name: 'clicks', kind: 'click', key: null, quality: null, timbre: null, samples: clicks, onsetsSec: clickTimes, steadySec: null });
  const drums = new Float32Array(len);
  const hits: [number, Float64Array][] = [[0.3, renderKick(rateHz, rng)], [0.8, renderSnare(rateHz, rng, 0.9)], [1.3, renderHat(rateHz, rng, false, 0.05)], [1.8, renderKick(rateHz, rng)]];
  for (const [t, x] of hits) addAt(drums, x, t, rateHz, 1);
  probes.push({ name: 'drums', kind: 'drums', key: null, quality: null, timbre: null, samples: normalise(drums), onsetsSec: hits.map((h) => h[0]), steadySec: null });
  const noise = new Float32Array(len);
  for (let i = Math.round(0.3 * rateHz); i < Math.round(1.9 * rateHz); i++) noise[i] = 0.3 * (2 * rng() - 1);
  probes.push({ name: 'noise burst', kind: 'noise', key: null, quality: null, timbre: null, samples: noise, onsetsSec: [0.3], steadySec: [0.65, 1.9] });
  const bursts = new Float32Array(len);
  const burstTimes = [0.3, 1.0, 1.7];
  for (const t of burstTimes) for (let i = 0; i < 0.04 * rateHz; i++) bursts[Math.round(t * rateHz) + i] = 0.5 * (2 * rng() - 1);
  probes.push({ name: 'short noise bursts', kind: 'noise', key: null, quality: null, timbre: null, samples: bursts, onsetsSec: burstTimes, steadySec: null });
  const sweep = new Float32Array(len);
  const f0 = 60;
  const f1 = 0.45 * rateHz;
  const dur = 1.8;
  let ph = 0;
  for (let i = 0; i < dur * rateHz; i++) {
    ph += (2 * Math.PI * f0 * (f1 / f0) ** (i / (dur * rateHz))) / rateHz;
    sweep[Math.round(0.3 * rateHz) + i] = 0.4 * Math.sin(ph);
  }
  probes.push({ name: 'sweep', kind: 'sweep', key: null, quality: null, timbre: null, samples: sweep, onsetsSec: [0.3], steadySec: null });
  return probes;
}
