// Instrument voices of the built-in demo piece: each function renders one note or hit into a
// freshly allocated Float64Array (allocates; offline use only). All oscillators are band-limited:
// additive partials below maxPartialHz(), or wavetables whose harmonics are cut the same way.

/** Uniform pseudo-random numbers in [0, 1). */
export type Rng = () => number;

/** Seeded PRNG (mulberry32): same seed, same sequence, on every platform. */
export function makeRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Equal-tempered frequency of a MIDI note number (A4 = 69 = 440 Hz). */
export function midiToHz(midi: number): number {
  return 440 * 2 ** ((midi - 69) / 12);
}

/** Highest partial frequency any voice may produce: well under Nyquist, and capped at capHz. */
export function maxPartialHz(sampleRateHz: number, capHz: number): number {
  return Math.min(0.45 * sampleRateHz, capHz);
}

/** Normalised biquad coefficients (a0 = 1). */
export interface Biquad { b0: number; b1: number; b2: number; a1: number; a2: number; }

/** RBJ cookbook biquad; freqHz is clamped below Nyquist so low sample rates stay stable. */
export function biquad(kind: 'lowpass' | 'highpass' | 'bandpass', freqHz: number, q: number, sampleRateHz: number): Biquad {
  const w = (2 * Math.PI * Math.min(freqHz, 0.48 * sampleRateHz)) / sampleRateHz;
  const cosW = Math.cos(w);
  const alpha = Math.sin(w) / (2 * q);
  const a0 = 1 + alpha;
  let b0: number, b1: number, b2: number;
  if (kind === 'lowpass') {
    b0 = (1 - cosW) / 2; b1 = 1 - cosW; b2 = b0;
  } else if (kind === 'highpass') {
    b0 = (1 + cosW) / 2; b1 = -(1 + cosW); b2 = b0;
  } else {
    b0 = alpha; b1 = 0; b2 = -alpha;
  }
  return { b0: b0 / a0, b1: b1 / a0, b2: b2 / a0, a1: (-2 * cosW) / a0, a2: (1 - alpha) / a0 };
}

/** Filters buf in place (direct form I, zero initial state). */
export function applyBiquad(buf: Float64Array, c: Biquad): void {
  let x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  for (let i = 0; i < buf.length; i++) {
    const x = buf[i];
    const y = c.b0 * x + c.b1 * x1 + c.b2 * x2 - c.a1 * y1 - c.a2 * y2;
    x2 = x1; x1 = x; y2 = y1; y1 = y;
    buf[i] = y;
  }
}

function whiteNoise(length: number, rng: Rng): Float64Array {
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = 2 * rng() - 1;
  return out;
}

/** Fades the last fadeSamples of buf linearly to zero so a truncated tail cannot click. */
function fadeOutTail(buf: Float64Array, fadeSamples: number): void {
  const n = Math.min(fadeSamples, buf.length);
  for (let i = 0; i < n; i++) buf[buf.length - 1 - i] *= i / n;
}

// ---- wavetables -------------------------------------------------------------------------------

const TABLE_SIZE = 4096;
const TABLE_MASK = TABLE_SIZE - 1;
let sineTable: Float64Array | null = null;

function getSineTable(): Float64Array {
  if (sineTable === null) {
    sineTable = new Float64Array(TABLE_SIZE);
    for (let k = 0; k < TABLE_SIZE; k++) sineTable[k] = Math.sin((2 * Math.PI * k) / TABLE_SIZE);
  }
  return sineTable;
}

/** One cycle (plus a guard sample, peak 1) holding harmonics n = 1..amps.length-1 with relative amplitude amps[n]. */
function harmonicTable(amps: Float64Array): Float64Array {
  const sine = getSineTable();
  const table = new Float64Array(TABLE_SIZE + 1);
  for (let n = 1; n < amps.length; n++) {
    const a = amps[n];
    if (a === 0) continue;
    // sin(2*pi*n*k/T) read from the sine table at (n*k) mod T: exact, no Math.sin per sample.
    for (let k = 0; k < TABLE_SIZE; k++) table[k] += a * sine[(n * k) & TABLE_MASK];
  }
  let peak = 1e-12;
  for (let k = 0; k < TABLE_SIZE; k++) peak = Math.max(peak, Math.abs(table[k]));
  for (let k = 0; k < TABLE_SIZE; k++) table[k] /= peak; // peak 1, so voices mix predictably
  table[TABLE_SIZE] = table[0];
  return table;
}

/** Harmonic amplitudes for f0Hz up to limitHz from a spectral envelope shape(n, fHz). */
function harmonicAmps(f0Hz: number, limitHz: number, shape: (n: number, fHz: number) => number): Float64Array {
  const count = Math.max(1, Math.min(TABLE_SIZE / 2 - 1, Math.floor(limitHz / f0Hz)));
  const amps = new Float64Array(count + 1);
  for (let n = 1; n <= count; n++) amps[n] = shape(n, n * f0Hz);
  return amps;
}

function readTable(table: Float64Array, phase: number): number {
  const x = phase * TABLE_SIZE;
  const i = x | 0;
  const a = table[i];
  return a + (x - i) * (table[i + 1] - a);
}

// ---- drums ------------------------------------------------------------------------------------

/** Kick drum: sine swept from ~170 Hz down to 48 Hz with a fast decay, plus a short beater click. */
export function renderKick(sampleRateHz: number, rng: Rng): Float64Array {
  const out = new Float64Array(Math.round(0.9 * sampleRateHz));
  const click = whiteNoise(Math.round(0.004 * sampleRateHz), rng);
  applyBiquad(click, biquad('lowpass', 3000, 0.7, sampleRateHz));
  const sweepDecay = Math.exp(-1 / (0.03 * sampleRateHz));
  const ampDecay = Math.exp(-1 / (0.14 * sampleRateHz));
  let phase = 0, sweep = 1, amp = 1;
  for (let i = 0; i < out.length; i++) {
    phase += (2 * Math.PI * (48 + 120 * sweep)) / sampleRateHz;
    out[i] = Math.sin(phase) * amp;
    sweep *= sweepDecay;
    amp *= ampDecay;
  }
  for (let i = 0; i < click.length; i++) out[i] += 0.5 * click[i] * Math.exp(-i / (0.0008 * sampleRateHz));
  fadeOutTail(out, Math.round(0.01 * sampleRateHz));
  return out;
}

/** Snare drum: two tuned body modes plus band-passed noise (the wires). */
export function renderSnare(sampleRateHz: number, rng: Rng, velocity: number): Float64Array {
  const out = new Float64Array(Math.round(0.45 * sampleRateHz));
  const wires = whiteNoise(out.length, rng);
  applyBiquad(wires, biquad('highpass', 1400, 0.7, sampleRateHz));
  applyBiquad(wires, biquad('lowpass', 9000, 0.7, sampleRateHz));
  for (let i = 0; i < out.length; i++) {
    const tS = i / sampleRateHz;
    const body = 0.6 * Math.sin(2 * Math.PI * 185 * tS) * Math.exp(-tS / 0.045)
      + 0.3 * Math.sin(2 * Math.PI * 330 * tS) * Math.exp(-tS / 0.03);
    out[i] = velocity * (body + 1.1 * wires[i] * Math.exp(-tS / 0.09));
  }
  fadeOutTail(out, Math.round(0.01 * sampleRateHz));
  return out;
}

// Inharmonic "cymbal metal" partials (Hz); only those under maxPartialHz are used.
const HAT_METAL_HZ = [3150, 4270, 5830, 7710, 8840, 10330, 12150];

/** Hi-hat: high-passed noise plus inharmonic metal partials; open hats ring until choked. */
export function renderHat(sampleRateHz: number, rng: Rng, open: boolean, chokeSeconds: number): Float64Array {
  const decayS = open ? 0.22 : 0.022;
  const lengthS = open ? Math.min(chokeSeconds, 0.9) : 0.14;
  const out = whiteNoise(Math.round(lengthS * sampleRateHz), rng);
  const limitHz = maxPartialHz(sampleRateHz, 16000);
  const cutoffHz = Math.min(7000, 0.36 * sampleRateHz);
  for (const fHz of HAT_METAL_HZ) {
    if (fHz > limitHz || fHz < cutoffHz * 0.7) continue;
    const phase0 = 2 * Math.PI * rng();
    const w = (2 * Math.PI * fHz) / sampleRateHz;
    for (let i = 0; i < out.length; i++) out[i] += 0.35 * Math.sin(phase0 + w * i);
  }
  const hp = biquad('highpass', cutoffHz, 0.7, sampleRateHz);
  applyBiquad(out, hp);
  applyBiquad(out, hp);
  const attack = Math.max(1, Math.round(0.0003 * sampleRateHz));
  for (let i = 0; i < out.length; i++) {
    out[i] *= Math.min(1, i / attack) * Math.exp(-i / (decayS * sampleRateHz));
  }
  fadeOutTail(out, Math.round(0.008 * sampleRateHz));
  return out;
}

// ---- bass -------------------------------------------------------------------------------------

/** Fingered electric bass: Karplus-Strong string (averaging loop filter, allpass fine tuning). */
export function renderBassNote(sampleRateHz: number, rng: Rng, midi: number, holdSeconds: number): Float64Array {
  const f0Hz = midiToHz(midi);
  const loopDelay = sampleRateHz / f0Hz - 0.5; // the two-point average adds half a sample
  let delaySamples = Math.floor(loopDelay);
  let frac = loopDelay - delaySamples;
  if (frac < 0.2) { delaySamples -= 1; frac += 1; } // keeps the allpass away from its unstable end
  const apCoef = (1 - frac) / (1 + frac);
  // A soft finger pluck: low-passed noise, zero mean.
  const line = whiteNoise(delaySamples, rng);
  const pluck = biquad('lowpass', Math.min(5 * f0Hz, 500), 0.6, sampleRateHz);
  applyBiquad(line, pluck);
  applyBiquad(line, pluck);
  let mean = 0, peak = 1e-9;
  for (let i = 0; i < line.length; i++) mean += line[i] / line.length;
  for (let i = 0; i < line.length; i++) { line[i] -= mean; peak = Math.max(peak, Math.abs(line[i])); }
  for (let i = 0; i < line.length; i++) line[i] /= peak;
  const loss = 10 ** (-3 / (2.5 * f0Hz)); // per-period gain for a 2.5 s T60
  const holdSamples = Math.round(holdSeconds * sampleRateHz);
  const releaseSamples = 0.05 * sampleRateHz;
  const out = new Float64Array(holdSamples + Math.round(8 * releaseSamples));
  const attack = Math.round(0.002 * sampleRateHz);
  let prev = 0, apIn = 0, apOut = 0, idx = 0;
  for (let k = 0; k < out.length; k++) {
    const x = line[idx];
    const avg = 0.5 * loss * (x + prev);
    prev = x;
    apOut = apCoef * avg + apIn - apCoef * apOut;
    apIn = avg;
    line[idx] = apOut;
    if (++idx === delaySamples) idx = 0;
    const env = k < attack ? k / attack : k < holdSamples ? 1 : Math.exp(-(k - holdSamples) / releaseSamples);
    out[k] = x * env;
  }
  applyBiquad(out, biquad('lowpass', 600, 0.7, sampleRateHz));
  fadeOutTail(out, Math.round(0.005 * sampleRateHz));
  return out;
}

// ---- piano ------------------------------------------------------------------------------------

/** Acoustic piano: stiff-string (inharmonic) partials as damped resonators, hammer thump, damper release. */
export function renderPianoNote(sampleRateHz: number, rng: Rng, midi: number, holdSeconds: number, velocity: number): Float64Array {
  const f0Hz = midiToHz(midi);
  const inharmonicity = 0.0004;
  const tau1S = 2.4 * 2 ** (-(midi - 57) / 24);
  const holdSamples = Math.round(holdSeconds * sampleRateHz);
  const releaseSamples = 0.08 * sampleRateHz;
  const out = new Float64Array(holdSamples + Math.round(7 * releaseSamples));
  const limitHz = maxPartialHz(sampleRateHz, 5000);
  const strikePos = 1 / 8; // hammer at 1/8 of the string: the 8th partial is (nearly) missing
  const modes: { c: number; r2: number; y1: number; end: number }[] = [];
  for (let n = 1; n <= 18; n++) {
    const fHz = n * f0Hz * Math.sqrt(1 + inharmonicity * n * n);
    if (fHz > limitHz) break;
    const amp = (Math.abs(Math.sin(Math.PI * n * strikePos)) / n ** 1.1) * Math.exp(-(n - 1) * (1.1 - velocity) * 0.35);
    if (amp < 1e-4) continue;
    const tauS = tau1S / (1 + 0.45 * (n - 1));
    const r = Math.exp(-1 / (tauS * sampleRateHz));
    const w = (2 * Math.PI * fHz) / sampleRateHz;
    // y[k] = amp * r^k * sin(w k) as a two-pole recursion, stopped once 100 dB down.
    modes.push({ c: 2 * r * Math.cos(w), r2: r * r, y1: amp * r * Math.sin(w),
      end: Math.min(out.length, Math.ceil(Math.log(1e-5 / amp) / Math.log(r))) });
  }
  // Four resonators per pass over the buffer: the loop is bound by memory traffic, not arithmetic.
  while (modes.length % 4 !== 0) modes.push({ c: 0, r2: 0, y1: 0, end: 0 });
  for (let m = 0; m < modes.length; m += 4) {
    const [a, b, c, d] = modes.slice(m, m + 4);
    const end = Math.max(a.end, b.end, c.end, d.end);
    const ac = a.c, ar = a.r2, bc = b.c, br = b.r2, cc = c.c, cr = c.r2, dc = d.c, dr = d.r2;
    let a0 = 0, a1 = a.y1, b0 = 0, b1 = b.y1, c0 = 0, c1 = c.y1, d0 = 0, d1 = d.y1;
    if (end > 1) out[1] += a1 + b1 + c1 + d1;
    for (let k = 2; k < end; k++) {
      const ya = ac * a1 - ar * a0;
      const yb = bc * b1 - br * b0;
      const yc = cc * c1 - cr * c0;
      const yd = dc * d1 - dr * d0;
      a0 = a1; a1 = ya; b0 = b1; b1 = yb; c0 = c1; c1 = yc; d0 = d1; d1 = yd;
      out[k] += ya + yb + yc + yd;
    }
  }
  const thump = whiteNoise(Math.round(0.03 * sampleRateHz), rng);
  applyBiquad(thump, biquad('lowpass', 1000, 0.7, sampleRateHz));
  for (let k = 0; k < thump.length; k++) out[k] += 0.08 * velocity * thump[k] * Math.exp(-k / (0.005 * sampleRateHz));
  const attack = Math.max(1, Math.round(0.0015 * sampleRateHz));
  for (let k = 0; k < out.length; k++) {
    const env = k < attack ? k / attack : k < holdSamples ? 1 : Math.exp(-(k - holdSamples) / releaseSamples);
    out[k] *= velocity * env;
  }
  fadeOutTail(out, Math.round(0.005 * sampleRateHz));
  return out;
}

// ---- strings ----------------------------------------------------------------------------------

/** String ensemble: three detuned band-limited saws per note, slow bow attack, vibrato, gentle low-pass. */
export function renderStringsNote(sampleRateHz: number, rng: Rng, midi: number, holdSeconds: number): Float64Array {
  const f0Hz = midiToHz(midi);
  const limitHz = maxPartialHz(sampleRateHz, 12000) / 1.02; // headroom for detune + vibrato
  const table = harmonicTable(harmonicAmps(f0Hz, limitHz, (n, fHz) => 1 / n / (1 + (fHz / 2200) ** 2)));
  const holdSamples = Math.round(holdSeconds * sampleRateHz);
  const attackSamples = 0.35 * sampleRateHz;
  const releaseSamples = 0.2 * sampleRateHz;
  const out = new Float64Array(holdSamples + Math.round(6 * releaseSamples));
  const detuneCents = [-9, 0, 8];
  for (const cents of detuneCents) {
    const incPerSample = (f0Hz * 2 ** (cents / 1200)) / sampleRateHz;
    const vibW = (2 * Math.PI * (5 + 0.8 * rng())) / sampleRateHz;
    const cosW = Math.cos(vibW), sinW = Math.sin(vibW);
    const vibPhase = 2 * Math.PI * rng();
    // Vibrato LFO as a rotating unit vector: two multiplies per sample instead of a Math.sin.
    let lfoS = Math.sin(vibPhase), lfoC = Math.cos(vibPhase);
    let phase = rng();
    for (let k = 0; k < out.length; k++) {
      const s = lfoS * cosW + lfoC * sinW;
      lfoC = lfoC * cosW - lfoS * sinW;
      lfoS = s;
      phase += incPerSample * (1 + 0.004 * s);
      if (phase >= 1) phase -= 1;
      out[k] += readTable(table, phase);
    }
  }
  for (let k = 0; k < out.length; k++) {
    // Raised-cosine bow attack: smooth start, no click.
    const env = k < attackSamples ? 0.5 - 0.5 * Math.cos((Math.PI * k) / attackSamples)
      : k < holdSamples ? 1 : Math.exp(-(k - holdSamples) / releaseSamples);
    out[k] *= env / detuneCents.length;
  }
  fadeOutTail(out, Math.round(0.01 * sampleRateHz));
  return out;
}

// ---- reed (alto-sax-like lead) ----------------------------------------------------------------

function resonance(fHz: number, centreHz: number, widthHz: number): number {
  const d = (fHz - centreHz) / widthHz;
  return 1 / (1 + d * d);
}

/** Saxophone-like reed: formant-shaped harmonic tables cross-faded by loudness, scoop, delayed vibrato, breath. */
export function renderReedNote(sampleRateHz: number, rng: Rng, midi: number, holdSeconds: number): Float64Array {
  const f0Hz = midiToHz(midi);
  const limitHz = maxPartialHz(sampleRateHz, 9000) / 1.02;
  const formant = (fHz: number): number => 0.15 + resonance(fHz, 650, 300) + 0.7 * resonance(fHz, 1700, 500)
    + 0.35 * resonance(fHz, 2900, 700);
  const soft = harmonicTable(harmonicAmps(f0Hz, limitHz, (n, fHz) => formant(fHz) / n ** 1.6));
  const bright = harmonicTable(harmonicAmps(f0Hz, limitHz, (n, fHz) => formant(fHz) / n ** 0.7));
  const holdSamples = Math.round(holdSeconds * sampleRateHz);
  const attackSamples = 0.035 * sampleRateHz;
  const releaseSamples = 0.05 * sampleRateHz;
  const out = new Float64Array(holdSamples + Math.round(8 * releaseSamples));
  const breath = whiteNoise(out.length, rng);
  applyBiquad(breath, biquad('bandpass', 2400, 0.8, sampleRateHz));
  const vibW = (2 * Math.PI * (5.2 + 0.4 * rng())) / sampleRateHz;
  const cosW = Math.cos(vibW), sinW = Math.sin(vibW);
  const scoopDecay = Math.exp(-1 / (0.03 * sampleRateHz));
  const releaseDecay = Math.exp(-1 / releaseSamples);
  let lfoS = 0, lfoC = 1, scoop = 0.017, release = 0.85, phase = 0;
  for (let k = 0; k < out.length; k++) {
    const tS = k / sampleRateHz;
    let env: number;
    if (k < attackSamples) env = (k / attackSamples) ** 1.5;
    else if (k < holdSamples) env = 1 - 0.15 * Math.min(1, (k - attackSamples) / (0.8 * sampleRateHz));
    else { env = release; release *= releaseDecay; }
    const vibDepth = 0.005 * Math.min(1, Math.max(0, (tS - 0.15) / 0.3));
    // Pitch starts ~30 cents flat (scoop) and gains vibrato after 150 ms; the LFO is a rotating vector.
    phase += (f0Hz * (1 - scoop) * (1 + vibDepth * lfoS)) / sampleRateHz;
    if (phase >= 1) phase -= 1;
    scoop *= scoopDecay;
    const s0 = lfoS * cosW + lfoC * sinW;
    lfoC = lfoC * cosW - lfoS * sinW;
    lfoS = s0;
    const s = readTable(soft, phase);
    const b = readTable(bright, phase);
    out[k] = env * (s + env * 0.8 * (b - s)) + 0.05 * env * breath[k];
  }
  fadeOutTail(out, Math.round(0.005 * sampleRateHz));
  return out;
}
