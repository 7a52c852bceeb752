// Phrase-level instrument models for the built-in demo piece: where demo-voices.ts renders one note
// at a time, these render a whole phrase as one continuous voice, the way a wind player or a bowed
// section connects notes (legato glides, one breath, one vibrato). Allocates; offline use only.

import { applyBiquad, biquad, maxPartialHz, midiToHz, type Rng } from './demo-voices';

/** One note of a phrase: onset and length in seconds from the phrase start, MIDI pitch, velocity 0..1. */
export interface PhraseNote { startS: number; lengthS: number; midi: number; velocity: number; }

const SINE_SIZE = 8192;
let sine: Float64Array | null = null;
function sineTable(): Float64Array {
  if (sine === null) {
    sine = new Float64Array(SINE_SIZE + 1);
    for (let k = 0; k <= SINE_SIZE; k++) sine[k] = Math.sin((2 * Math.PI * k) / SINE_SIZE);
  }
  return sine;
}

function resonance(fHz: number, centreHz: number, widthHz: number): number {
  const d = (fHz - centreHz) / widthHz;
  return 1 / (1 + d * d);
}

/**
 * Alto-saxophone spectral envelope at loudness 0..1: a beating reed gives a pulse-like source whose
 * upper harmonics grow with blowing pressure, shaped by the conical bore's body resonances and cut
 * above the tone-hole lattice cutoff (~1.6 kHz soft, higher when loud).
 */
function saxHarmonicAmp(n: number, fHz: number, loudness: number): number {
  const tilt = 1 / n ** (1 - 0.75 * loudness);
  const body = 0.35 + resonance(fHz, 520, 260) + 0.8 * resonance(fHz, 1500, 450) + 0.45 * resonance(fHz, 2800, 800);
  const cutoffHz = 1600 + 2600 * loudness;
  const lattice = fHz < cutoffHz ? 1 : (cutoffHz / fHz) ** 3;
  return tilt * body * lattice;
}

/**
 * Saxophone phrase: harmonics of one continuous reed tone (phase-locked, so the waveform keeps its
 * shape), legato glides between joined notes, a flat scoop into notes that start after a rest,
 * delayed vibrato, brightness that follows the breath, and breath noise that is
 * modulated by the reed's opening (it puffs once per cycle, as air through a beating reed does).
 * Returns the phrase from notes[0].startS, with a short release tail.
 */
export function renderSaxPhrase(sampleRateHz: number, rng: Rng, notes: readonly PhraseNote[]): Float64Array {
  const t0S = notes[0].startS;
  const endS = Math.max(...notes.map((n) => n.startS + n.lengthS)) - t0S;
  const releaseS = 0.08;
  const out = new Float64Array(Math.round((endS + 8 * releaseS) * sampleRateHz));
  const limitHz = maxPartialHz(sampleRateHz, 10000) / 1.03;
  const table = sineTable();
  const dt = 1 / sampleRateHz;
  // Per-sample control curves: target pitch, loudness target and a gate.
  const pitch = new Float64Array(out.length);
  const gate = new Float64Array(out.length); // 0 in rests, else the note's velocity
  const onset = new Uint8Array(out.length); // 1: attack after a rest, 2: slurred (legato) note change
  notes.forEach((note, i) => {
    const a = Math.round((note.startS - t0S) * sampleRateHz);
    const b = Math.min(out.length, Math.round((note.startS - t0S + note.lengthS) * sampleRateHz));
    for (let k = a; k < b; k++) { pitch[k] = note.midi; gate[k] = note.velocity; }
    const prev = notes[i - 1];
    onset[a] = prev !== undefined && note.startS - (prev.startS + prev.lengthS) < 0.02 ? 2 : 1;
  });
  // Fill rests with the last pitch so glides and release keep a pitch.
  for (let k = 1; k < out.length; k++) if (gate[k] === 0) pitch[k] = pitch[k - 1];

  const breath = new Float64Array(out.length);
  for (let k = 0; k < out.length; k++) breath[k] = 2 * rng() - 1;
  applyBiquad(breath, biquad('bandpass', 1800, 0.7, sampleRateHz));
  applyBiquad(breath, biquad('highpass', 500, 0.7, sampleRateHz));
  const jitter = new Float64Array(out.length); // slow pitch wander (a player is never a perfect oscillator)
  {
    let j = 0;
    const lp = Math.exp(-dt / 0.08);
    for (let k = 0; k < out.length; k++) { j = lp * j + (1 - lp) * (2 * rng() - 1); jitter[k] = j; }
  }

  const vibHz = 5.0 + 0.6 * rng();
  const glideCoef = Math.exp(-dt / 0.018);
  const attackCoef = Math.exp(-dt / 0.025);
  const releaseCoef = Math.exp(-dt / releaseS);
  let midiNow = pitch[0], amp = 0, phase = 0, vibPhase = 0, vibAge = 0, sinceAttackS = 1;
  const amps = new Float64Array(64);
  let harmonics = 0;
  for (let k = 0; k < out.length; k++) {
    const g = gate[k];
    if (onset[k] === 1) { midiNow = pitch[k] - 0.35; vibAge = 0; sinceAttackS = 0; } // scoop up from below
    else if (onset[k] === 2) vibAge = Math.min(vibAge, 0.1); // vibrato settles again on a new note
    midiNow = pitch[k] + (midiNow - pitch[k]) * glideCoef;
    // Amplitude: fast tongued attack, a slight swell while the note is held, release in rests.
    const target = g > 0 ? g * (0.9 + 0.1 * Math.min(1, vibAge / 0.6)) : 0;
    const coef = g > 0 ? attackCoef : releaseCoef;
    amp = target + (amp - target) * coef;
    const vibDepth = 0.22 * Math.min(1, Math.max(0, (vibAge - 0.18) / 0.35)); // semitones
    const m = midiNow + vibDepth * table[Math.floor(vibPhase * SINE_SIZE)] + 0.04 * jitter[k];
    const f0Hz = midiToHz(m);
    if ((k & 31) === 0) {
      // Brightness follows the breath; a tongued attack starts brighter (the reed slaps shut).
      const loud = Math.min(1, amp * (1 + 0.5 * Math.exp(-sinceAttackS / 0.04)));
      harmonics = Math.min(63, Math.floor(limitHz / f0Hz));
      // Normalised over the harmonics below 3.5 kHz, which every supported rate keeps, so the tone
      // (and its level) below that is the same at 11,025 Hz and at 48 kHz.
      let norm = 0;
      for (let n = 1; n <= harmonics; n++) {
        amps[n] = saxHarmonicAmp(n, n * f0Hz, loud);
        if (n === 1 || n * f0Hz <= 3500) norm += amps[n];
      }
      for (let n = 1; n <= harmonics; n++) amps[n] /= norm;
    }
    phase += f0Hz * dt;
    phase -= Math.floor(phase);
    let y = 0;
    for (let n = 1; n <= harmonics; n++) {
      const p = n * phase;
      y += amps[n] * table[Math.floor((p - Math.floor(p)) * SINE_SIZE)];
    }
    // Breath noise puffs as the reed opens (half-wave of the fundamental), stronger at onsets.
    const puff = 0.5 + 0.5 * table[Math.floor(phase * SINE_SIZE)];
    const noise = breath[k] * (0.03 + 0.1 * Math.exp(-sinceAttackS / 0.03)) * puff;
    out[k] = amp * (2.2 * y + noise);
    vibPhase += vibHz * dt;
    vibPhase -= Math.floor(vibPhase);
    vibAge += dt;
    sinceAttackS += dt;
  }
  const fade = Math.round(0.005 * sampleRateHz);
  for (let i = 0; i < fade; i++) out[out.length - 1 - i] *= i / fade;
  return out;
}

// ---- piano ------------------------------------------------------------------------------------

/**
 * Adds one piano partial sounded by three unison strings (angular frequencies w[0..2] in rad/sample):
 * sum_j sin(w_j k + phi_j) * (fast r_f^k + slow r_s^k) for k in [0, end). One pass over out; each
 * sine is a two-term recursion (no per-sample sin/exp).
 */
function addPianoPartial(out: Float64Array, w: readonly number[], phi: readonly number[], fast: number, rFast: number,
  slow: number, rSlow: number, end: number): void {
  const c0 = 2 * Math.cos(w[0]), c1 = 2 * Math.cos(w[1]), c2 = 2 * Math.cos(w[2]);
  let a1 = Math.sin(phi[0]), a2 = Math.sin(phi[0] - w[0]);
  let b1 = Math.sin(phi[1]), b2 = Math.sin(phi[1] - w[1]);
  let d1 = Math.sin(phi[2]), d2 = Math.sin(phi[2] - w[2]);
  let ef = fast, es = slow;
  const n = Math.min(end, out.length);
  for (let k = 0; k < n; k++) {
    out[k] += (a1 + b1 + d1) * (ef + es);
    const a = c0 * a1 - a2, b = c1 * b1 - b2, d = c2 * d1 - d2;
    a2 = a1; a1 = a; b2 = b1; b1 = b; d2 = d1; d1 = d;
    ef *= rFast; es *= rSlow;
  }
}

/**
 * Grand-piano note: for each partial, three unison strings a fraction of a cent apart (they beat)
 * with the stiff-string stretch f_n = n f0 sqrt(1 + B n^2); each decays in two stages, a fast
 * "prompt" sound and a slow "aftersound" (the two polarisations the bridge couples); high partials
 * die first; the hammer excites the string at 1/8 of its length and its felt passes more high partials
 * the harder it strikes; a felt-on-string knock and the soundboard's low body resonances add the attack;
 * the damper ends the note after holdSeconds.
 */
export function renderGrandPianoNote(sampleRateHz: number, rng: Rng, midi: number, holdSeconds: number, velocity: number): Float64Array {
  const f0Hz = midiToHz(midi);
  const stretchB = 1.2e-4 * 2 ** ((midi - 60) / 24); // B grows towards the short, thick treble strings
  const tau1S = 3.2 * 2 ** (-(midi - 57) / 20); // first-partial prompt decay
  const holdSamples = Math.round(holdSeconds * sampleRateHz);
  const dampS = 0.09 + 0.1 * Math.max(0, (60 - midi) / 36); // bass strings damp more slowly
  const out = new Float64Array(holdSamples + Math.round(7 * dampS * sampleRateHz));
  const limitHz = maxPartialHz(sampleRateHz, 5000);
  const feltCutoffHz = 1500 + 3000 * velocity;
  const soundboard = (fHz: number): number => 0.6 + 0.5 * resonance(fHz, 220, 120) + 0.4 * resonance(fHz, 600, 300)
    + 0.3 * resonance(fHz, 1800, 900);
  for (let n = 1; n <= 40; n++) {
    const fHz = n * f0Hz * Math.sqrt(1 + stretchB * n * n);
    if (fHz > limitHz) break;
    const strike = Math.abs(Math.sin((Math.PI * n) / 8)) + 0.02;
    // The hammer's felt is a low-pass on the strike, its cutoff higher the harder it hits.
    const amp = (strike / Math.sqrt(n)) / (1 + (fHz / feltCutoffHz) ** 4) * soundboard(fHz);
    if (amp < 2e-4) continue;
    const tauS = tau1S / (1 + 0.25 * (n - 1) + fHz / 800); // high partials die first
    const cents = [-0.9 + 0.4 * rng(), 0, 0.6 + 0.5 * rng()];
    const w = cents.map((c) => (2 * Math.PI * fHz * 2 ** (c / 1200)) / sampleRateHz);
    const phi = cents.map(() => 0.3 * rng()); // the hammer sets the strings moving from rest: sine phase, no click
    const rFast = Math.exp(-1 / (tauS * sampleRateHz));
    const rSlow = Math.exp(-1 / (4 * tauS * sampleRateHz));
    // Prompt sound and aftersound; stopped once the slow part is 100 dB down.
    addPianoPartial(out, w, phi, 0.26 * amp, rFast, 0.07 * amp, rSlow, Math.ceil(Math.log(1e-5 / amp) / Math.log(rSlow)));
  }
  // Hammer knock: a short noise burst through the soundboard's low modes, louder when struck harder.
  const knockSamples = Math.round(0.06 * sampleRateHz);
  const knock = new Float64Array(knockSamples);
  for (let k = 0; k < knockSamples; k++) knock[k] = (2 * rng() - 1) * Math.exp(-k / (0.004 * sampleRateHz));
  const body = Float64Array.from(knock);
  applyBiquad(body, biquad('bandpass', 120 + f0Hz * 0.2, 1.5, sampleRateHz));
  applyBiquad(knock, biquad('lowpass', 1200 + 2500 * velocity, 0.7, sampleRateHz));
  for (let k = 0; k < knockSamples; k++) out[k] += velocity * (0.05 * knock[k] + 0.1 * body[k]);
  const attack = Math.max(1, Math.round(0.001 * sampleRateHz));
  const dampCoef = Math.exp(-1 / (dampS * sampleRateHz));
  let damper = 1;
  for (let k = 0; k < out.length; k++) {
    if (k >= holdSamples) damper *= dampCoef;
    out[k] *= velocity * damper * (k < attack ? k / attack : 1);
  }
  const fade = Math.round(0.005 * sampleRateHz);
  for (let i = 0; i < Math.min(fade, out.length); i++) out[out.length - 1 - i] *= i / fade;
  return out;
}

// ---- string section ---------------------------------------------------------------------------

/** One cycle (plus a guard sample) of a sawtooth-like wave with harmonics 1/n up to limitHz for f0Hz, peak 1. */
function sawTable(f0Hz: number, limitHz: number): Float64Array {
  const size = 4096;
  const table = new Float64Array(size + 1);
  const sin = sineTable();
  const count = Math.max(1, Math.min(size / 2 - 1, Math.floor(limitHz / f0Hz)));
  for (let n = 1; n <= count; n++) {
    for (let k = 0; k < size; k++) table[k] += sin[(2 * n * k) & (SINE_SIZE - 1)] / n; // SINE_SIZE = 2 * size
  }
  let peak = 1e-12;
  for (let k = 0; k < size; k++) peak = Math.max(peak, Math.abs(table[k]));
  for (let k = 0; k < size; k++) table[k] /= peak;
  table[size] = table[0];
  return table;
}

/** Violin-family body as a filter: air (~280 Hz) and wood (~460 Hz) modes, ~1 kHz, the bridge hill (~2.5 kHz), dull above 4.5 kHz. */
function applyViolinBody(x: Float64Array, sampleRateHz: number): void {
  const modes: [number, number, number][] = [[280, 4, 0.9], [460, 3, 0.7], [1000, 1.5, 0.5], [2500, 1.8, 0.8]];
  const dry = Float64Array.from(x);
  for (let k = 0; k < x.length; k++) x[k] *= 0.3;
  for (const [fHz, q, gain] of modes) {
    const band = Float64Array.from(dry);
    applyBiquad(band, biquad('bandpass', fHz, q, sampleRateHz));
    for (let k = 0; k < x.length; k++) x[k] += gain * band[k];
  }
  applyBiquad(x, biquad('lowpass', 4500, 0.7, sampleRateHz));
}

/**
 * String-section note: several players, each a bowed string (Helmholtz motion: a sawtooth-like wave
 * with 1/n harmonics) with its own slight mistuning, vibrato rate and bow timing, through a violin
 * body filter, so vibrato makes the partials flicker as they sweep across the body resonances;
 * slow bow attack, rosin noise, release.
 */
export function renderStringSectionNote(sampleRateHz: number, rng: Rng, midi: number, holdSeconds: number, players = 4): Float64Array {
  const f0Hz = midiToHz(midi);
  const holdSamples = Math.round(holdSeconds * sampleRateHz);
  const releaseS = 0.25;
  const out = new Float64Array(holdSamples + Math.round(5 * releaseS * sampleRateHz));
  const table = sawTable(f0Hz, maxPartialHz(sampleRateHz, 9000) / 1.04); // headroom for detune + vibrato
  const size = table.length - 1;
  const sin = sineTable();
  const dt = 1 / sampleRateHz;
  for (let p = 0; p < players; p++) {
    const ratio = 2 ** ((rng() - 0.5) * 0.2 / 12); // players scatter by up to +-10 cents: a section is never in unison
    const vibHz = 4.8 + 1.4 * rng();
    const vibDepth = (0.12 + 0.1 * rng()) * Math.LN2 / 12; // 0.12-0.22 semitones, as a frequency ratio
    const start = Math.round(0.04 * rng() * sampleRateHz); // players do not bow together exactly
    const attackCoef = Math.exp(-dt / ((0.18 + 0.12 * rng()) / 3));
    const releaseCoef = Math.exp(-dt / releaseS);
    const vibRampSamples = 0.4 * sampleRateHz;
    let phase = rng(), vibPhase = rng(), amp = 0;
    for (let k = start; k < out.length; k++) {
      const target = k < holdSamples ? 1 : 0;
      amp = target + (amp - target) * (target > 0 ? attackCoef : releaseCoef);
      const vib = vibDepth * Math.min(1, (k - start) / vibRampSamples) * sin[Math.floor(vibPhase * SINE_SIZE)];
      phase += f0Hz * ratio * (1 + vib) * dt;
      if (phase >= 1) phase -= 1;
      vibPhase += vibHz * dt;
      if (vibPhase >= 1) vibPhase -= 1;
      const x = phase * size, i = x | 0;
      out[k] += (amp * (table[i] + (x - i) * (table[i + 1] - table[i]))) / players;
    }
  }
  // Rosin noise, following the bowing.
  const noise = new Float64Array(out.length);
  for (let k = 0; k < out.length; k++) noise[k] = 2 * rng() - 1;
  applyBiquad(noise, biquad('bandpass', Math.min(2500, 4 * f0Hz), 0.8, sampleRateHz));
  let env = 0;
  const nAttack = Math.exp(-dt / 0.08), nRelease = Math.exp(-dt / releaseS);
  for (let k = 0; k < out.length; k++) {
    const target = k < holdSamples ? 1 : 0;
    env = target + (env - target) * (target > 0 ? nAttack : nRelease);
    out[k] += 0.02 * env * noise[k];
  }
  applyViolinBody(out, sampleRateHz);
  const fade = Math.round(0.01 * sampleRateHz);
  for (let i = 0; i < Math.min(fade, out.length); i++) out[out.length - 1 - i] *= i / fade;
  return out;
}
