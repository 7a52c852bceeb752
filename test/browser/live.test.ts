/**
 * The live loop end to end in headless Debian Chromium against the production build, with a WAV
 * made here played as the microphone: isolation, the spectrogram following a tone sequence, the
 * identity resynthesis equal to the input, no overruns or underruns, no console errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { alignToLoop, browserSkipReason, launch, openApp, peakBin, recordOutput, serve, status, writeTempWav } from './harness';
import type { AuralscopeApi, FrameSnapshot } from '../../src/shared/api';

const skip = browserSkipReason();
if (skip) console.warn(`[skip] browser live-loop tests: ${skip}`);

/** Written at Chromium's headless context rate, so the fake device plays it without resampling. */
const RATE = 44_100;
/** Tone sequence (Hz), each TONE_SECONDS long, all below 0.45 x 11,025 Hz. */
const TONES = [440, 1000, 1750, 2500, 3300, 4100];
const TONE_SECONDS = 1.5;

/** A tone sequence with 10 ms raised-cosine fades (no clicks), looped by the fake capture device. */
function toneSequence(rateHz: number): Float32Array {
  const RATE = rateHz;
  const per = Math.round(TONE_SECONDS * RATE);
  const out = new Float32Array(per * TONES.length);
  const fade = Math.round(0.01 * RATE);
  TONES.forEach((hz, j) => {
    for (let i = 0; i < per; i++) {
      const env = Math.min(1, i / fade, (per - 1 - i) / fade);
      const g = 0.5 - 0.5 * Math.cos(Math.PI * Math.max(0, env));
      out[j * per + i] = 0.4 * g * Math.sin((2 * Math.PI * hz * i) / RATE);
    }
  });
  return out;
}

describe.skipIf(!!skip)('live loop in Chromium (WAV as microphone, isolated)', () => {
  const signal = toneSequence(RATE);
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    server = await serve({ isolated: true });
    browser = await launch(writeTempWav('tones.wav', signal, RATE));
    ({ page, errors } = await openApp(browser, server.url, '?source=mic'));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('is cross-origin isolated and uses the shared-memory rings', async () => {
    const s = await status(page);
    expect(s.isolated).toBe(true);
    expect(s.capabilities.sharedArrayBuffer).toBe(true);
    expect(s.source).toBe('mic');
    expect(s.renderer).toMatch(/webgl|webgpu/);
    expect(s.contextSampleRateHz).toBeGreaterThan(0);
    expect(s.analysisSampleRateHz).toBe(11025);
  });

  it('the spectrogram peak follows the tone sequence within one bin', async () => {
    const seen: number[] = [];
    let lastSeq = -1;
    const end = Date.now() + (TONE_SECONDS * TONES.length + 1) * 1000;
    while (Date.now() < end) {
      // Only the newest frame crosses the page boundary (the whole spectrogram is 44k numbers).
      const f = await page.evaluate(() => {
        const fr = (window as unknown as { auralscope: AuralscopeApi }).auralscope.frame() as FrameSnapshot;
        return fr && { seq: fr.seq, hzPerBin: fr.spectrogram.hzPerBin, newest: fr.spectrogram.data[fr.spectrogram.frames - 1] };
      });
      if (f && f.seq !== lastSeq) {
        lastSeq = f.seq;
        seen.push(peakBin(f.newest) * f.hzPerBin);
      }
      await new Promise((r) => setTimeout(r, 40));
    }
    const hzPerBin = 11025 / 512;
    const near = (hz: number, tone: number) => Math.abs(hz - tone) <= hzPerBin * 1.01;
    // Every tone shows up as the peak, and nearly every frame's peak is one of the tones
    // (frames straddling a change may peak on either side, still a tone).
    for (const tone of TONES) expect(seen.filter((hz) => near(hz, tone)).length, `tone ${tone} Hz`).toBeGreaterThanOrEqual(3);
    const onTone = seen.filter((hz) => TONES.some((t) => near(hz, t))).length;
    expect(onTone / seen.length).toBeGreaterThan(0.95);
  });

  it('the recorded identity resynthesis equals the input after alignment', async () => {
    await page.evaluate(() => (window as unknown as { auralscope: AuralscopeApi }).auralscope.setMix(1));
    await new Promise((r) => setTimeout(r, 500));
    const rec = await recordOutput(page, 4);
    expect(rec.sampleRateHz).toBe((await status(page)).contextSampleRateHz);
    const volume = 0.8; // the default master gain
    const scaled = rec.samples.map((x) => x / volume);
    // Chromium resamples the capture file to the context's rate: compare with the same tones made
    // at that rate (the ideal resampling of the file).
    const { correlation } = alignToLoop(toneSequence(rec.sampleRateHz), scaled);
    console.log(`identity resynthesis: normalised correlation ${correlation.toFixed(5)}`);
    expect(correlation).toBeGreaterThanOrEqual(0.99);
  });

  it('dry and resynthesis line up: a 50/50 mix of the monitored input equals the input', async () => {
    await page.evaluate(() => {
      const a = (window as unknown as { auralscope: AuralscopeApi }).auralscope;
      a.setMonitor(true);
      a.setMix(0.5);
    });
    await new Promise((r) => setTimeout(r, 500));
    const rec = await recordOutput(page, 3);
    // Misaligned by d samples, the sum would comb-filter the tones (gain |cos(pi f d / rate)|).
    const { correlation } = alignToLoop(toneSequence(rec.sampleRateHz), rec.samples.map((x) => x / 0.8));
    console.log(`dry + wet (50/50) vs input: normalised correlation ${correlation.toFixed(5)}`);
    expect(correlation).toBeGreaterThanOrEqual(0.99);
    let peak = 0;
    for (const x of rec.samples) peak = Math.max(peak, Math.abs(x));
    expect(peak / 0.8).toBeGreaterThan(0.38); // tones of amplitude 0.4 add up in phase, not cancel
    await page.evaluate(() => {
      const a = (window as unknown as { auralscope: AuralscopeApi }).auralscope;
      a.setMonitor(false);
      a.setMix(1);
    });
  });

  it('runs 20 s with zero overruns and underruns and no console errors', async () => {
    const before = await status(page);
    await new Promise((r) => setTimeout(r, 20_000));
    const after = await status(page);
    console.log(`after 20 s: hop ${after.timing.hopMs.toFixed(2)} ms (p95 ${after.timing.hopP95Ms.toFixed(2)}), ring in ${after.ring.captureFill}, out ${after.ring.outputFill}, hops ${after.counters.hopsAnalysed}, dropped ${after.counters.droppedHops}, mic->screen ${after.latencyMs.micToScreen.toFixed(1)} ms, dry delay ${after.latencyMs.dryDelay.toFixed(1)} ms`);
    // Every hop group of 20 s (about 430) was either analysed and published or, while the model
    // was still busy with an older one, dropped (never queued): audio never waits for the model.
    const published = after.counters.hopsAnalysed - before.counters.hopsAnalysed;
    const handled = published + after.counters.droppedHops - before.counters.droppedHops;
    expect(handled).toBeGreaterThan(380);
    expect(published).toBeGreaterThan(40);
    expect(after.counters.captureOverruns).toBe(0);
    expect(after.counters.playbackUnderruns).toBe(0);
    expect(errors).toEqual([]);
  });
});
