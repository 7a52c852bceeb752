/**
 * Sources, bad input and faults in headless Chromium against the production build: the demo and
 * file sources, a corrupt file, a denied or missing microphone, the transfer fallback without
 * cross-origin isolation, and every debug.inject fault with its recovery.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { alignToLoop, browserSkipReason, collectErrors, launch, multitone, openApp, peakBin, recordOutput, serve, status, waitForStatus, writeTempWav } from './harness';
import { encodeWav } from '../../src/dsp/wav';
import type { AuralscopeApi, FrameSnapshot, LogEntry } from '../../src/shared/api';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';
import { CHROMIUM } from './harness';

const skip = browserSkipReason();
if (skip) console.warn(`[skip] browser source/fault tests: ${skip}`);

type Win = { auralscope: AuralscopeApi };

/** A sine at `hz` for `seconds` at `rateHz`, amplitude 0.3, with 10 ms fades at the ends. */
function sine(hz: number, seconds: number, rateHz: number): Float32Array {
  const n = Math.round(seconds * rateHz);
  const fade = Math.round(0.01 * rateHz);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 0.3 * Math.min(1, i / fade, (n - 1 - i) / fade) * Math.sin((2 * Math.PI * hz * i) / rateHz);
  return out;
}

/** Peak frequency of the newest published spectrogram frame. */
async function newestPeakHz(page: Page): Promise<number> {
  const f = await page.evaluate(() => {
    const fr = (window as unknown as Win).auralscope.frame() as FrameSnapshot;
    return fr && { hzPerBin: fr.spectrogram.hzPerBin, newest: fr.spectrogram.data[fr.spectrogram.frames - 1] };
  });
  return f ? peakBin(f.newest) * f.hzPerBin : -1;
}

async function frameSeq(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as Win).auralscope.frame()?.seq ?? -1);
}

/** Waits until frames are being published again (the seq advances twice within timeoutMs). */
async function expectFramesFlow(page: Page, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  const s0 = await frameSeq(page);
  let advanced = 0;
  let last = s0;
  while (Date.now() < end && advanced < 2) {
    await new Promise((r) => setTimeout(r, 150));
    const s = await frameSeq(page);
    if (s !== last) advanced++;
    last = s;
  }
  expect(advanced, 'frames published again').toBeGreaterThanOrEqual(2);
}

function logText(page: Page): Promise<string> {
  return page.evaluate(() => (window as unknown as Win).auralscope.log().map((e: LogEntry) => e.text).join('\n'));
}

/** A 10-minute 16-bit WAV at 22,050 Hz (26 MB): a slow sweep 300 -> 3000 Hz, so a seek is visible. */
function longFile(): Uint8Array {
  const rate = 22_050, seconds = 600;
  const x = new Float32Array(rate * seconds);
  let phase = 0;
  for (let i = 0; i < x.length; i++) {
    const hz = 300 + (2700 * i) / x.length;
    phase += (2 * Math.PI * hz) / rate;
    x[i] = 0.3 * Math.sin(phase);
  }
  return encodeWav([x], rate, 'pcm16');
}

describe.skipIf(!!skip)('sources and bad input', () => {
  const RATE = 44_100;
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;

  beforeAll(async () => {
    const fixtures = new Map<string, Uint8Array>([
      ['tone-1500.wav', encodeWav([sine(1500, 3, 44_100)], 44_100, 'pcm16')],
      ['long-10min.wav', longFile()],
      ['corrupt.wav', new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * 7919) & 0xff))],
    ]);
    server = await serve({ isolated: true, fixtures });
    browser = await launch(writeTempWav('sine-700.wav', sine(700, 2, RATE), RATE));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('the demo source plays by default and fills the spectrogram', async () => {
    const { page, errors } = await openApp(browser, server.url);
    expect((await status(page)).source).toBe('demo');
    await new Promise((r) => setTimeout(r, 2500));
    const loud = await page.evaluate(() => {
      const fr = (window as unknown as Win).auralscope.frame() as FrameSnapshot;
      const recent = fr.spectrogram.data.slice(-40);
      return recent.filter((col) => Math.max(...col) > 0).length / recent.length;
    });
    expect(loud, 'share of frames with energy').toBeGreaterThan(0.5);
    expect((await status(page)).level.noSignal).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a file source plays and its tone is the spectrogram peak; a corrupt file is named with the reason', async () => {
    const { page, errors } = await openApp(browser, server.url);
    await page.evaluate((u) => (window as unknown as Win).auralscope.setSource({ kind: 'file', url: u }), `${server.url}/fixtures/tone-1500.wav`);
    expect((await status(page)).source).toBe('file');
    await new Promise((r) => setTimeout(r, 1200));
    expect(Math.abs((await newestPeakHz(page)) - 1500)).toBeLessThanOrEqual(11025 / 512);
    const err = await page.evaluate(async (u) => {
      try {
        await (window as unknown as Win).auralscope.setSource({ kind: 'file', url: u });
        return 'no error';
      } catch (e) {
        return (e as Error).message;
      }
    }, `${server.url}/fixtures/corrupt.wav`);
    expect(err).toMatch(/corrupt\.wav/);
    expect(err).toMatch(/not an audio format|corrupt|decod/);
    const s = await status(page);
    expect(s.message).toContain('corrupt.wav');
    // The previous source keeps playing: nothing lost.
    expect(s.source).toBe('file');
    await expectFramesFlow(page, 3000);
    expect(errors.filter((e) => !/corrupt\.wav|Failed to load resource|MEDIA_ERR|DEMUXER/i.test(e))).toEqual([]);
    await page.close();
  });

  it('a 10-minute file streams in bounded memory and seeks', async () => {
    const { page, errors } = await openApp(browser, server.url);
    const heapBefore = await page.evaluate(() => (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0);
    await page.evaluate((u) => (window as unknown as Win).auralscope.setSource({ kind: 'file', url: u }), `${server.url}/fixtures/long-10min.wav`);
    await new Promise((r) => setTimeout(r, 1500));
    const early = await newestPeakHz(page);
    expect(Math.abs(early - 300)).toBeLessThan(60);
    // Seek to 9 minutes: the sweep is at 300 + 2700 * 0.9 = 2730 Hz there.
    await page.evaluate(() => {
      const m = (window as unknown as { auralscope: { audio: { media: HTMLAudioElement } } }).auralscope.audio.media;
      m.currentTime = 540;
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(Math.abs((await newestPeakHz(page)) - 2730)).toBeLessThan(60);
    const heapAfter = await page.evaluate(() => (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0);
    console.log(`JS heap ${(heapBefore / 1e6).toFixed(1)} MB -> ${(heapAfter / 1e6).toFixed(1)} MB while streaming a 26 MB file`);
    expect(heapAfter - heapBefore).toBeLessThan(20e6);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a denied microphone says so and offers the demo source', async () => {
    const b = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic',
        '--autoplay-policy=no-user-gesture-required', '--use-fake-device-for-media-stream', '--deny-permission-prompts'],
    });
    try {
      const page = await b.newPage();
      collectErrors(page);
      await page.goto(`${server.url}/?source=mic`);
      const s = await waitForStatus(page, (x) => x.message !== '', 20_000, 'a message');
      expect(s.message).toMatch(/denied|permission/i);
      await page.getByRole('button', { name: 'Use the demo piece' }).click();
      await waitForStatus(page, (x) => x.ready && x.source === 'demo', 15_000, 'the demo source');
    } finally {
      await b.close();
    }
  });

  it('no input device: a clear message, and the app keeps running', async () => {
    const b = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic',
        '--autoplay-policy=no-user-gesture-required', '--use-fake-ui-for-media-stream'],
    });
    try {
      const page = await b.newPage();
      await page.goto(`${server.url}/?source=mic`);
      const s = await waitForStatus(page, (x) => x.message !== '', 20_000, 'a message');
      expect(s.message).toMatch(/no audio input device/i);
      await page.evaluate(() => (window as unknown as Win).auralscope.setSource({ kind: 'demo' }));
      await waitForStatus(page, (x) => x.ready && x.source === 'demo', 15_000, 'the demo source');
    } finally {
      await b.close();
    }
  });
});

describe.skipIf(!!skip)('without cross-origin isolation (transfer fallback)', () => {
  const RATE = 44_100;
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  let page: Page;
  let errors: string[];
  const tones = (rate: number) => multitone(11, 2, rate);

  beforeAll(async () => {
    server = await serve({ isolated: false });
    browser = await launch(writeTempWav('two-tones.wav', tones(RATE), RATE));
    ({ page, errors } = await openApp(browser, server.url, '?source=mic'));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('says it is not isolated, and still analyses and resynthesises', async () => {
    const s = await status(page);
    expect(s.isolated).toBe(false);
    expect(s.capabilities.crossOriginIsolated).toBe(false);
    expect(await logText(page)).toMatch(/not cross-origin isolated/);
    await page.evaluate(() => (window as unknown as Win).auralscope.setMix(1));
    await new Promise((r) => setTimeout(r, 1000));
    const rec = await recordOutput(page, 3);
    const { correlation } = alignToLoop(tones(rec.sampleRateHz), rec.samples.map((x) => x / 0.8));
    console.log(`transfer fallback identity correlation ${correlation.toFixed(5)}`);
    expect(correlation).toBeGreaterThanOrEqual(0.99);
  });

  it('runs 10 s with zero overruns and underruns', async () => {
    await new Promise((r) => setTimeout(r, 10_000));
    const s = await status(page);
    expect(s.counters.hopsAnalysed).toBeGreaterThan(150);
    expect(s.counters.captureOverruns).toBe(0);
    expect(s.counters.playbackUnderruns).toBe(0);
    expect(errors).toEqual([]);
  });
});

describe.skipIf(!!skip)('faults through debug.inject', () => {
  const RATE = 44_100;
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  const tone = (rate: number) => multitone(5, 2, rate);

  beforeAll(async () => {
    server = await serve({ isolated: true });
    browser = await launch(writeTempWav('multitone.wav', tone(RATE), RATE));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("'track-ended': says the input is gone, and the offered demo brings audio back", async () => {
    const { page } = await openApp(browser, server.url, '?source=mic');
    await page.evaluate(() => (window as unknown as Win).auralscope.debug.inject('track-ended'));
    const s = await waitForStatus(page, (x) => /disconnected/.test(x.message), 5000, 'the disconnect message');
    expect(s.source).toBe('none');
    await page.getByRole('button', { name: 'Use the demo piece' }).click();
    await waitForStatus(page, (x) => x.source === 'demo' && x.ready, 5000, 'the demo source');
    await expectFramesFlow(page, 3000);
    await page.close();
  });

  it("'worker-crash': the worker is restarted, frames flow and the resynthesis stays aligned", async () => {
    const { page } = await openApp(browser, server.url, '?source=mic');
    await page.evaluate(() => (window as unknown as Win).auralscope.setMix(1));
    await page.evaluate(() => (window as unknown as Win).auralscope.debug.inject('worker-crash'));
    const end = Date.now() + 10_000;
    while (Date.now() < end && !/Recovering/.test(await logText(page))) await new Promise((r) => setTimeout(r, 200));
    expect(await logText(page)).toMatch(/Recovering: the analysis worker/);
    await expectFramesFlow(page, 10_000);
    await new Promise((r) => setTimeout(r, 1000));
    const rec = await recordOutput(page, 2);
    const { correlation } = alignToLoop(tone(rec.sampleRateHz), rec.samples.map((x) => x / 0.8));
    console.log(`identity correlation after a worker restart ${correlation.toFixed(5)}`);
    expect(correlation).toBeGreaterThanOrEqual(0.99);
    await page.close();
  });

  it("'suspend': a Start button appears and brings audio back", async () => {
    const { page } = await openApp(browser, server.url, '?source=mic');
    await page.evaluate(() => (window as unknown as Win).auralscope.debug.inject('suspend'));
    const s = await waitForStatus(page, (x) => /paused/.test(x.message), 5000, 'the paused message');
    expect(s.ready).toBe(false);
    const start = page.getByRole('button', { name: 'Start' });
    expect(await start.isVisible()).toBe(true);
    await start.click();
    await waitForStatus(page, (x) => x.ready, 5000, 'audio running again');
    expect(await start.isVisible()).toBe(false);
    await expectFramesFlow(page, 3000);
    await page.close();
  });

  it("'device-lost': the view is rebuilt and keeps drawing", async () => {
    const { page } = await openApp(browser, server.url, '?source=mic');
    await page.evaluate(() => (window as unknown as Win).auralscope.debug.inject('device-lost'));
    const end = Date.now() + 10_000;
    while (Date.now() < end && !/Graphics:/.test(await logText(page))) await new Promise((r) => setTimeout(r, 200));
    expect(await logText(page)).toMatch(/Graphics: the (WebGL context|WebGPU device) was lost/);
    await page.waitForFunction(() => document.querySelectorAll('#stage canvas').length === 1, null, { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 1000));
    // The rebuilt canvas shows the spectrogram: not a single flat colour.
    const png = PNG.sync.read(await page.locator('#stage').screenshot());
    const set = new Set<number>();
    for (let i = 0; i < png.data.length; i += 4 * 7) set.add((png.data[i] << 16) | (png.data[i + 1] << 8) | png.data[i + 2]);
    const distinct = set.size;
    expect(distinct).toBeGreaterThan(20);
    expect((await status(page)).renderer).toMatch(/webgl|webgpu/);
    await expectFramesFlow(page, 3000);
    await page.close();
  });
});
