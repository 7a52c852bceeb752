// Writes the built-in demo loop to a mono 32-bit float WAV for listening and inspection.
// Usage: npx tsx scripts/render-demo.ts [out.wav] [sampleRateHz]   (defaults: demo.wav 44100)
import { writeFileSync } from 'node:fs';
import wavefile from 'wavefile';
import { DEMO_PARTS, renderDemo, renderDemoStems } from '../src/dsp/demo';

const outPath = process.argv[2] ?? 'demo.wav';
const sampleRateHz = Number(process.argv[3] ?? 44100);
if (!Number.isInteger(sampleRateHz) || sampleRateHz <= 0) {
  throw new Error(`expected an integer sample rate in Hz, got ${process.argv[3]}`);
}

const t0 = performance.now();
const samples = renderDemo(sampleRateHz);
const renderMs = performance.now() - t0;

let peak = 0;
for (const x of samples) peak = Math.max(peak, Math.abs(x));
const wav = new wavefile.WaveFile();
wav.fromScratch(1, sampleRateHz, '32f', samples);
writeFileSync(outPath, wav.toBuffer());

const rmsDb = (x: Float32Array): number => {
  let e = 0;
  for (const v of x) e += v * v;
  return 10 * Math.log10(e / x.length + 1e-30);
};
console.log(`${outPath}: ${samples.length} samples at ${sampleRateHz} Hz (${(samples.length / sampleRateHz).toFixed(2)} s), `
  + `peak ${(20 * Math.log10(peak)).toFixed(2)} dBFS, rms ${rmsDb(samples).toFixed(1)} dBFS, rendered in ${renderMs.toFixed(0)} ms`);
const stems = renderDemoStems(sampleRateHz);
for (const part of DEMO_PARTS) {
  console.log(`  ${part.name.padEnd(8)} (${part.label}): rms ${rmsDb(stems.get(part.name) as Float32Array).toFixed(1)} dBFS`);
}
