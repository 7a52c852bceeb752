/**
 * Booth mode (?booth) in headless Chromium with the bundled model: the kiosk layout, the tour
 * advancing with a caption and the solo on, the volume ceiling, and self-recovery from real
 * faults (debug.inject): after a worker crash, a lost GPU context, a suspended audio context or
 * an ended input track the tour runs again within 10 s and the on-screen log says what happened.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, DIST, launch, multitone, openApp, ROOT, serve, status, waitForStatus, writeTempWav } from './harness';
import type { AuralscopeApi, Fault } from '../../src/shared/api';
import type { AuralscopeUi } from '../../src/ui/main';
import type { TourState } from '../../src/ui/controls';

const skip = browserSkipReason() ?? (existsSync(join(DIST, 'models', 'index.json')) ? null : 'no bundled model in dist/models (the tour needs one)');
if (skip) console.warn(`[skip] booth tests: ${skip}`);

const OUT = join(ROOT, 'test-results');
const TOUR_SECONDS = 3;
/** The booth's volume ceiling (controls.ts BOOTH_VOLUME_CEILING; not imported: that module pulls in pixi). */
const BOOTH_VOLUME_CEILING = 0.7;
/** The bound: running again within 10 s of the fault. */
const RECOVERY_MS = 10_000;

type W = { auralscope: AuralscopeApi; auralscopeUi: AuralscopeUi };

function tour(page: Page): Promise<TourState> {
  return page.evaluate(() => (window as unknown as W).auralscopeUi.tour());
}

/** Waits until the tour has taken a step after `sinceMs` (page clock) and the engine shows that step's selection. */
async function tourRunsAgain(page: Page, timeoutMs: number, what: string): Promise<number> {
  const t0 = Date.now();
  const start = await tour(page);
  const end = t0 + timeoutMs;
  while (Date.now() < end) {
    const r = await page.evaluate(() => {
      const w = window as unknown as W;
      const t = w.auralscopeUi.tour();
      const s = w.auralscope.status();
      const set = w.auralscopeUi.settings();
      return { steps: t.steps, ready: s.ready, applied: !!s.selection && s.selection.layer === set.layer && s.selection.feature === set.feature, analysis: s.counters.hopsAnalysed };
    });
    if (r.steps > start.steps && r.ready && r.applied) return Date.now() - t0;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`the tour did not run again within ${timeoutMs} ms after ${what}; tour ${JSON.stringify(await tour(page))}, status ${JSON.stringify(await status(page))}`);
}

async function inject(page: Page, fault: Fault): Promise<void> {
  await page.evaluate((f) => (window as unknown as W).auralscope.debug.inject(f), fault);
}

async function boothLog(page: Page): Promise<string> {
  return (await page.locator('#booth-log').textContent()) ?? '';
}

describe.skipIf(!!skip)('booth mode (demo source)', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    server = await serve({ isolated: true });
    browser = await launch();
    ({ page, errors } = await openApp(browser, server.url, `?booth&tour=${TOUR_SECONDS}`));
    await page.setViewportSize({ width: 1280, height: 800 });
    await waitForStatus(page, (s) => !!s.model && !!s.selection, 60_000, 'the model to run');
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows the kiosk layout, tours features soloed with a caption, and caps the volume', async () => {
    expect(await page.evaluate(() => document.body.classList.contains('booth'))).toBe(true);
    const seen = new Set<string>();
    const end = Date.now() + TOUR_SECONDS * 4 * 1000 + 10_000;
    while (Date.now() < end && seen.size < 3) {
      const s = await status(page);
      if (s.selection) seen.add(`${s.selection.layer}/${s.selection.feature}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(seen.size, `selections seen: ${[...seen].join(', ')}`).toBeGreaterThanOrEqual(3);
    const t = await tour(page);
    expect(t.running).toBe(true);
    expect(t.steps).toBeGreaterThanOrEqual(2); // the start selection plus at least two tour steps
    const caption = await page.locator('#caption').textContent();
    expect(caption).toMatch(/feature \d+/);
    expect(await page.locator('#caption').isVisible()).toBe(true);
    await waitForStatus(page, (s) => s.solo.on, 15_000, 'the tour to solo the feature');
    expect((await page.evaluate(() => (window as unknown as W).auralscopeUi.settings())).volume).toBeLessThanOrEqual(BOOTH_VOLUME_CEILING);
    writeFileSync(join(OUT, 'ui-booth.png'), await page.screenshot());
    expect(errors).toEqual([]);
  }, 60_000);

  it('recovers from a worker crash within 10 s and logs it', async () => {
    await inject(page, 'worker-crash');
    const ms = await tourRunsAgain(page, RECOVERY_MS, 'a worker crash');
    console.log(`booth: tour running again ${ms} ms after the worker crash`);
    expect(await boothLog(page)).toMatch(/worker/i);
  }, 30_000);

  it('recovers from a lost GPU context within 10 s and logs it', async () => {
    await inject(page, 'device-lost');
    const ms = await tourRunsAgain(page, RECOVERY_MS, 'device loss');
    await page.waitForFunction(() => (window as unknown as W).auralscopeUi.textureCount() > 0, null, { timeout: RECOVERY_MS });
    console.log(`booth: tour running again ${ms} ms after the GPU context loss`);
    expect(await boothLog(page)).toMatch(/WebGL context was lost|WebGPU device was lost/);
  }, 30_000);

  it('resumes a suspended audio context by itself and logs it', async () => {
    await inject(page, 'suspend');
    await waitForStatus(page, (s) => s.ready, RECOVERY_MS, 'audio to run again after a suspend');
    const ms = await tourRunsAgain(page, RECOVERY_MS, 'a suspend');
    console.log(`booth: tour running again ${ms} ms after the suspend`);
    expect(await boothLog(page)).toMatch(/suspended; resuming/);
  }, 30_000);
});

describe.skipIf(!!skip)('booth mode (microphone that stops)', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  let page: Page;

  beforeAll(async () => {
    server = await serve({ isolated: true });
    browser = await launch(writeTempWav('booth-mic.wav', multitone(7, 4, 44_100), 44_100));
    ({ page } = await openApp(browser, server.url, `?booth&tour=${TOUR_SECONDS}&source=mic`));
    await waitForStatus(page, (s) => !!s.model && !!s.selection && s.source === 'mic', 60_000, 'the model to run on the microphone');
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('switches to the demo piece when the input track ends, and logs it', async () => {
    await inject(page, 'track-ended');
    await waitForStatus(page, (s) => s.source === 'demo', RECOVERY_MS, 'the booth to switch to the demo piece');
    const ms = await tourRunsAgain(page, RECOVERY_MS, 'the input track ended');
    console.log(`booth: tour running again ${ms} ms after the input ended (now on the demo piece)`);
    expect(await boothLog(page)).toMatch(/input stopped.*switching to the demo piece/);
  }, 40_000);
});
