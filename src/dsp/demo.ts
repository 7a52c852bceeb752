// The built-in demo piece: an 8-bar loop in A minor (Am-F-C-G twice) at 100 BPM, synthesised in
// code (no samples) so a newcomer without a microphone hears and sees something at once.
// Bar 1 is piano alone, bar 2 adds bass, light drums and the string section, bars 3-6 are the full
// band with the sax melody, bar 7 is a drum break, bar 8 the full band again. Tails wrap around, so the loop is seamless.
// Drums and bass are note-at-a-time voices (demo-voices.ts); the piano, the string section and the
// sax are the closer-to-real models of instruments.ts.

import {
  makeRng, renderBassNote, renderHat, renderKick, renderSnare,
} from './demo-voices';
import { renderGrandPianoNote, renderSaxPhrase, renderStringSectionNote, type PhraseNote } from './instruments';

// Each arpeggio note is held for an eighth (until the next chord tone), no sustain pedal.
const ARP_HOLD_BEATS = 0.5;

/** One instrument of the demo, with the GM family label the model knows it by. */
export interface DemoPart {
  name: string;
  label: 'drums' | 'bass' | 'piano' | 'organ' | 'strings' | 'guitar' | 'brass' | 'reed' | 'pipe' | 'synth lead'
    | 'synth pad' | 'chromatic percussion';
}

/** The demo's instruments, in stem order. */
export const DEMO_PARTS: readonly DemoPart[] = [
  { name: 'kick', label: 'drums' },
  { name: 'snare', label: 'drums' },
  { name: 'hi-hat', label: 'drums' },
  { name: 'bass', label: 'bass' },
  { name: 'piano', label: 'piano' },
  { name: 'strings', label: 'strings' },
  { name: 'sax', label: 'reed' },
];

/** Tempo of the demo in beats per minute (4/4, straight sixteenths). */
export const DEMO_BPM = 100;
/** Number of 4/4 bars in the loop. */
export const DEMO_BARS = 8;
/** Length of the loop in seconds (8 bars at 100 BPM = 19.2 s). */
export const DEMO_SECONDS = (DEMO_BARS * 4 * 60) / DEMO_BPM;
/** Peak level of renderDemo's output in dBFS. */
export const DEMO_PEAK_DBFS = -3;

const BEAT_S = 60 / DEMO_BPM;

// ---- the score --------------------------------------------------------------------------------

interface Chord { bassRoot: number; arpeggio: readonly [number, number, number]; strings: readonly number[]; }
const AM: Chord = { bassRoot: 33, arpeggio: [57, 60, 64], strings: [57, 64, 72] };
const F: Chord = { bassRoot: 29, arpeggio: [57, 60, 65], strings: [57, 65, 72] };
const C: Chord = { bassRoot: 36, arpeggio: [55, 60, 64], strings: [55, 64, 72] };
const G: Chord = { bassRoot: 31, arpeggio: [55, 59, 62], strings: [55, 62, 71] };
const CHORDS: readonly Chord[] = [AM, F, C, G, AM, F, C, G];

type Section = 'piano solo' | 'intro' | 'band' | 'break';
const SECTIONS: readonly Section[] = ['piano solo', 'intro', 'band', 'band', 'band', 'band', 'break', 'band'];

/** Sax melody as [bar, beat, lengthBeats, midi]. */
const MELODY: readonly (readonly [number, number, number, number])[] = [
  [2, 0.5, 0.5, 64], [2, 1, 0.5, 67], [2, 1.5, 1, 72], [2, 2.5, 0.5, 71], [2, 3, 1, 72],
  [3, 0, 1, 74], [3, 1, 0.5, 71], [3, 1.5, 0.5, 74], [3, 2, 1.5, 76], [3, 3.5, 0.5, 74],
  [4, 0, 1.5, 72], [4, 1.5, 0.5, 69], [4, 2, 1, 76], [4, 3, 1, 72],
  [5, 0, 1, 69], [5, 1, 0.5, 72], [5, 1.5, 1.5, 77], [5, 3, 0.5, 76], [5, 3.5, 0.5, 72],
  [7, 0, 1.5, 74], [7, 1.5, 0.5, 71], [7, 2, 0.5, 76], [7, 2.5, 0.5, 74], [7, 3, 1, 71],
];

/** Drum hits of one bar as sixteenth-note steps (0..15); snare entries are [step, velocity]. */
interface DrumBar { kick: number[]; snare: [number, number][]; closedHat: number[]; openHat: number[]; }
const DRUMS: Record<Section, DrumBar | null> = {
  'piano solo': null,
  intro: { kick: [0, 8], snare: [[12, 0.8]], closedHat: [0, 2, 4, 6, 8, 10, 12, 14], openHat: [] },
  band: { kick: [0, 8, 10], snare: [[4, 1], [12, 1]], closedHat: [0, 2, 4, 6, 8, 10, 12], openHat: [14] },
  break: {
    kick: [0, 3, 8, 11], snare: [[4, 1], [12, 1], [13, 0.55], [14, 0.7], [15, 0.85]],
    closedHat: [0, 2, 4, 6, 8, 10], openHat: [],
  },
};

// Relative stem levels before the whole mix is normalised to DEMO_PEAK_DBFS: the sax leads and the
// strings sit just under it, so neither is buried under the band; the hats stay within 30 dB of the mix.
const LEVEL = { kick: 1, snare: 0.5, hat: 0.28, bass: 0.75, piano: 0.32, strings: 0.42, sax: 0.75 };

// ---- rendering --------------------------------------------------------------------------------

/** Adds event into the loop buffer at startSample, wrapping the tail to the loop's beginning. */
function addWrapped(loop: Float64Array, event: Float64Array, startSample: number, gain: number): void {
  const n = loop.length;
  let j = ((startSample % n) + n) % n;
  for (let i = 0; i < event.length; i++) {
    loop[j] += gain * event[i];
    if (++j === n) j = 0;
  }
}

function seedOf(part: number, event: number): number {
  return (Math.imul(part + 1, 0x9e3779b1) ^ Math.imul(event + 1, 0x85ebca6b)) >>> 0;
}

function renderStemsFloat64(sampleRateHz: number): Float64Array[] {
  const loopSamples = Math.round(DEMO_SECONDS * sampleRateHz);
  const at = (bar: number, beat: number): number => Math.round((bar * 4 + beat) * BEAT_S * sampleRateHz);
  const stems = DEMO_PARTS.map(() => new Float64Array(loopSamples));
  const [kick, snare, hat, bass, piano, strings, sax] = stems;
  const counters = new Array<number>(DEMO_PARTS.length).fill(0);
  const rngFor = (part: number) => makeRng(seedOf(part, counters[part]++));

  // Every hat onset in the loop (in sixteenths), so an open hat can be choked by the next one.
  const hatSteps: number[] = [];
  SECTIONS.forEach((section, bar) => {
    const d = DRUMS[section];
    if (d !== null) for (const s of [...d.closedHat, ...d.openHat]) hatSteps.push(bar * 16 + s);
  });
  hatSteps.sort((a, b) => a - b);
  const kickHit = renderKick(sampleRateHz, rngFor(0)); // a drum machine: every kick is the same
  const loopSteps = DEMO_BARS * 16;

  SECTIONS.forEach((section, bar) => {
    const chord = CHORDS[bar];
    const d = DRUMS[section];
    if (d !== null) {
      for (const s of d.kick) addWrapped(kick, kickHit, at(bar, s / 4), LEVEL.kick);
      for (const [s, vel] of d.snare) {
        addWrapped(snare, renderSnare(sampleRateHz, rngFor(1), vel), at(bar, s / 4), LEVEL.snare);
      }
      for (const s of [...d.closedHat, ...d.openHat]) {
        const open = d.openHat.includes(s);
        const step = bar * 16 + s;
        const next = hatSteps.find((h) => h > step) ?? hatSteps[0] + loopSteps;
        const chokeS = ((next - step) / 4) * BEAT_S;
        const accent = s % 4 === 0 ? 1 : 0.7;
        addWrapped(hat, renderHat(sampleRateHz, rngFor(2), open, chokeS), at(bar, s / 4), LEVEL.hat * accent);
      }
    }
    if (section === 'intro' || section === 'band') {
      const r = chord.bassRoot;
      const line: [number, number, number][] = [[0, 1.3, r], [1.5, 0.45, r], [2, 0.9, r + 7], [3, 0.45, r + 12], [3.5, 0.45, r + 7]];
      for (const [beat, beats, midi] of line) {
        addWrapped(bass, renderBassNote(sampleRateHz, rngFor(3), midi, beats * BEAT_S), at(bar, beat), LEVEL.bass);
      }
    }
    if (section !== 'break') {
      // Piano: broken chords in eighths in the middle register (the bass player owns the low end),
      // each note held until the next chord tone sounds; the first bar is the piano alone.
      const [r, third, fifth] = chord.arpeggio;
      const pattern = [r, third, fifth, r + 12, third + 12, r + 12, fifth, third];
      pattern.forEach((midi, i) => {
        const beat = i / 2;
        const vel = i === 0 ? 0.8 : i % 2 === 0 ? 0.68 : 0.56;
        const note = renderGrandPianoNote(sampleRateHz, rngFor(4), midi, ARP_HOLD_BEATS * BEAT_S, vel);
        addWrapped(piano, note, at(bar, beat), LEVEL.piano);
      });
    }
    if (section === 'band' || section === 'intro') {
      for (const midi of chord.strings) {
        addWrapped(strings, renderStringSectionNote(sampleRateHz, rngFor(5), midi, 4 * BEAT_S), at(bar, 0), LEVEL.strings);
      }
    }
  });
  const phrase: PhraseNote[] = MELODY.map(([bar, beat, beats, midi]) => (
    { startS: (bar * 4 + beat) * BEAT_S, lengthS: 0.92 * beats * BEAT_S, midi, velocity: 0.8 }));
  addWrapped(sax, renderSaxPhrase(sampleRateHz, rngFor(6), phrase), at(MELODY[0][0], MELODY[0][1]), LEVEL.sax);
  return stems;
}

function checkRate(sampleRateHz: number): void {
  if (!Number.isFinite(sampleRateHz) || sampleRateHz < 8000 || sampleRateHz > 192000) {
    throw new RangeError(`renderDemo: expected sampleRateHz in [8000, 192000], got ${sampleRateHz}`);
  }
}

/** Per-part stems (same length, keyed by DEMO_PARTS name): sum of stems == renderDemo output. Allocates. */
export function renderDemoStems(sampleRateHz: number): Map<string, Float32Array> {
  checkRate(sampleRateHz);
  const stems = renderStemsFloat64(sampleRateHz);
  const length = stems[0].length;
  const mix = new Float64Array(length);
  for (const s of stems) for (let i = 0; i < length; i++) mix[i] += s[i];
  let peak = 0;
  for (let i = 0; i < length; i++) peak = Math.max(peak, Math.abs(mix[i]));
  const gain = 10 ** (DEMO_PEAK_DBFS / 20) / peak;
  const result = new Map<string, Float32Array>();
  DEMO_PARTS.forEach((part, p) => {
    const out = new Float32Array(length);
    const s = stems[p];
    for (let i = 0; i < length; i++) out[i] = gain * s[i];
    result.set(part.name, out);
  });
  return result;
}

/** Renders the whole loop (mono, DEMO_SECONDS long, peak DEMO_PEAK_DBFS) at sampleRateHz; pure, deterministic; allocates. */
export function renderDemo(sampleRateHz: number): Float32Array {
  const stems = [...renderDemoStems(sampleRateHz).values()];
  const mix = new Float64Array(stems[0].length);
  for (const s of stems) for (let i = 0; i < mix.length; i++) mix[i] += s[i];
  return Float32Array.from(mix);
}
