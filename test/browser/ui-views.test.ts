/**
 * The instrument's face in headless Chromium with the demo source and the bundled model: every
 * view draws something (screenshots saved under test-results/), clicking a feature tile and the
 * keyboard change the selection, S solos, the help overlay lists every shortcut, settings survive
 * a reload through localStorage and the URL hash, and the frame interval is measured and reported.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, DIST, launch, multitone, openApp, ROOT, serve, status, waitForStatus, writeTempWav } from './harness';
import { existsSync } from 'node:fs';
import type { AuralscopeUi } from '../../src/ui/main';
import { SHORTCUTS } from '../../src/ui/keys';

const skip = browserSkipReason() ?? (existsSync(join(DIST, 'models', 'index.json')) ? null : 'no bundled model in dist/models (the views of the analysis need one)');
if (skip) console.warn(`[skip] UI view tests: ${skip}`);

const OUT = join(ROOT, 'test-results');
/** Page background (index.html / style.css --bg and the stage's clear colour). */
const BG = [0x0b, 0x0b, 0x10];

type Rect = { x: number; y: number; w: number; h: number };

function ui<T>(page: Page, fn: (u: AuralscopeUi) => T): Promise<T> {
  return page.evaluate(`(${fn.toString()})(window.auralscopeUi)`) as Promise<T>;
}

/** Share of pixels in a PNG that differ from the background by more than 24 (sum over RGB), and how many distinct grey levels it has. */
function nonBackground(png: Buffer): { share: number; levels: number } {
  const img = PNG.sync.read(png);
  let diff = 0;
  const levels = new Set<number>();
  for (let i = 0; i < img.data.length; i += 4) {
    const d = Math.abs(img.data[i] - BG[0]) + Math.abs(img.data[i + 1] - BG[1]) + Math.abs(img.data[i + 2] - BG[2]);
    if (d > 24) diff++;
    levels.add((img.data[i] + img.data[i + 1] + img.data[i + 2]) >> 3);
  }
  return { share: diff / (img.data.length / 4), levels: levels.size };
}

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
    last = await fn();
  }
  return last;
}

describe.skipIf(!!skip)('the instrument face (demo source, bundled model)', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    server = await serve({ isolated: true });
    browser = await launch();
    ({ page, errors } = await openApp(browser, server.url, '?source=demo'));
    await page.setViewportSize({ width: 1280, height: 800 });
    await waitForStatus(page, (s) => !!s.model && !!s.selection, 60_000, 'the model to run');
    await waitFor(() => ui(page, (u) => u.tileCenter(0)), (c) => c !== null, 30_000, 'the feature grid to be drawn');
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('every view draws something that differs from the background (screenshots in test-results/)', async () => {
    await new Promise((r) => setTimeout(r, 3000));
    const rects = await ui(page, (u) => u.viewRects()) as Record<string, Rect>;
    expect(Object.keys(rects).sort()).toEqual(['deconv', 'grid', 'map', 'mask', 'predictions', 'spectrogram']);
    writeFileSync(join(OUT, 'ui-face.png'), await page.screenshot());
    for (const [name, r] of Object.entries(rects)) {
      const png = await page.screenshot({ clip: { x: r.x, y: r.y, width: r.w, height: r.h } });
      writeFileSync(join(OUT, `ui-${name}.png`), png);
      const { share, levels } = nonBackground(png);
      console.log(`view ${name}: ${(share * 100).toFixed(1)}% of pixels differ from the background, ${levels} grey levels`);
      expect(share, `${name} is blank`).toBeGreaterThan(0.03);
      expect(levels, `${name} is flat`).toBeGreaterThan(4);
    }
  }, 60_000);

  it('clicking a feature tile selects that feature', async () => {
    const before = (await status(page)).selection!;
    const target = before.feature === 2 ? 3 : 2;
    const c = (await ui(page, (u) => u.tileCenter(0)))!;
    expect(c).not.toBeNull();
    const at = await page.evaluate((k) => (window as unknown as { auralscopeUi: AuralscopeUi }).auralscopeUi.tileCenter(k), target);
    await page.mouse.click(at!.x, at!.y);
    const s = await waitForStatus(page, (x) => x.selection?.feature === target, 15_000, `feature ${target} to be selected by a click`);
    expect(s.selection!.layer).toBe(before.layer);
  }, 30_000);

  it('arrow keys and number keys choose the feature and the layer; M cycles the method', async () => {
    await page.locator('#stage').click({ position: { x: 5, y: 5 } }); // focus the page, not a form field
    const f0 = (await status(page)).selection!.feature;
    await page.keyboard.press('ArrowRight');
    await waitForStatus(page, (s) => s.selection?.feature === f0 + 1, 15_000, 'ArrowRight to select the next feature');
    await page.keyboard.press('2');
    await waitForStatus(page, (s) => s.selection?.layer === 1, 15_000, 'key 2 to select layer 2');
    const m0 = (await status(page)).selection!.method;
    await page.keyboard.press('m');
    await waitForStatus(page, (s) => s.selection?.method !== m0, 15_000, 'M to change the method');
    await page.keyboard.press('1');
    await waitForStatus(page, (s) => s.selection?.layer === 0, 15_000, 'key 1 to select layer 1');
  }, 60_000);

  it('S turns the solo on and off', async () => {
    const was = (await status(page)).solo.on;
    await page.keyboard.press('s');
    await waitForStatus(page, (s) => s.solo.on === !was, 15_000, 'S to toggle the solo');
    await page.keyboard.press('s');
    await waitForStatus(page, (s) => s.solo.on === was, 15_000, 'S to toggle the solo back');
  }, 40_000);

  it('F freezes the visuals while the sound goes on', async () => {
    await page.keyboard.press('f');
    const rects = await ui(page, (u) => u.viewRects()) as Record<string, Rect>;
    const r = rects.spectrogram;
    const clip = { x: r.x, y: r.y, width: r.w, height: r.h };
    await new Promise((res) => setTimeout(res, 500));
    const a = await page.screenshot({ clip });
    const hops = (await status(page)).counters.hopsAnalysed;
    await new Promise((res) => setTimeout(res, 2500));
    const b = await page.screenshot({ clip });
    expect((await status(page)).counters.hopsAnalysed).toBeGreaterThan(hops); // analysis and sound go on
    expect(Buffer.compare(a, b)).toBe(0);
    await page.keyboard.press('f');
    await new Promise((res) => setTimeout(res, 2500));
    const c = await page.screenshot({ clip });
    expect(Buffer.compare(b, c)).not.toBe(0);
  }, 40_000);

  it('? shows every shortcut; Esc closes the overlay', async () => {
    await page.keyboard.press('?');
    await page.locator('#help').waitFor({ state: 'visible', timeout: 5000 });
    const keys = await page.locator('#help-list kbd').allTextContents();
    expect(keys).toEqual(SHORTCUTS.map((s) => s.keys));
    for (const k of ['S', 'M', 'F', 'Space', 'R', '+', '−', '?', '1 – 9', '←', '→', 'Shift + F']) expect(keys).toContain(k);
    writeFileSync(join(OUT, 'ui-help.png'), await page.screenshot());
    await page.keyboard.press('Escape');
    await page.locator('#help').waitFor({ state: 'hidden', timeout: 5000 });
  }, 20_000);

  it('every control has an accessible name', async () => {
    const unnamed = await page.evaluate(() => Array.from(document.querySelectorAll('button, select, input'))
      .filter((e) => !(e as HTMLElement).hidden && !e.getAttribute('aria-label') && !(e as HTMLElement).closest('label') && !e.textContent?.trim())
      .map((e) => e.id || e.outerHTML.slice(0, 60)));
    expect(unnamed).toEqual([]);
  });

  it('settings are kept in the URL hash and localStorage and restored on reload', async () => {
    await page.locator('#stage').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('3');
    await waitForStatus(page, (s) => s.selection?.layer === 2, 15_000, 'layer 3');
    await page.keyboard.press('c'); // colour map: magma -> viridis
    await new Promise((r) => setTimeout(r, 800));
    const hash = new URL(page.url()).hash;
    expect(hash).toMatch(/layer=3/);
    expect(hash).toMatch(/colormap=viridis/);
    const stored = await page.evaluate(() => localStorage.getItem('auralscope.settings.v1'));
    expect(JSON.parse(stored!)).toMatchObject({ layer: 2, colormap: 'viridis' });
    // A shared link: a fresh page with the hash only (no storage) opens on layer 3.
    const p2 = await browser.newContext().then((c) => c.newPage());
    await p2.goto(`${server.url}/?source=demo${hash}`);
    await waitForStatus(p2, (s) => s.selection?.layer === 2, 60_000, 'the shared link to select layer 3');
    expect(await p2.evaluate(() => (window as unknown as { auralscopeUi: AuralscopeUi }).auralscopeUi.settings().colormap)).toBe('viridis');
    await p2.context().close();
    // Reset: defaults again.
    await page.locator('#reset').click();
    await waitForStatus(page, (s) => s.selection?.layer === 0 && s.selection.feature === 0, 15_000, 'reset to layer 1, feature 0');
  }, 120_000);

  it('measures and reports the frame interval; GPU textures stay few', async () => {
    await new Promise((r) => setTimeout(r, 5000));
    const fr = await ui(page, (u) => u.frameStats());
    const tex = await ui(page, (u) => u.textureCount());
    const s = await status(page);
    console.log(`frame interval (demo source, model ${s.model?.id}, backend ${s.backend}, renderer ${s.renderer}): median ${fr.medianMs.toFixed(1)} ms, p95 ${fr.p95Ms.toFixed(1)} ms over ${fr.frames} frames (${fr.fps.toFixed(1)} fps); main-thread cost per new frame: scaling ${fr.paintMedianMs.toFixed(2)} ms + render ${fr.renderMedianMs.toFixed(2)} ms (medians); GPU textures ${tex}; hop ${s.timing.hopMs.toFixed(1)} ms`);
    expect(fr.frames).toBeGreaterThan(20);
    expect(fr.medianMs).toBeGreaterThan(0);
    expect(tex).toBeGreaterThanOrEqual(5);
    expect(tex).toBeLessThanOrEqual(10);
    const strip = await page.locator('#status-ui').textContent();
    expect(strip).toMatch(/fps \d+/);
  }, 30_000);

  it('logs no console errors', () => {
    expect(errors).toEqual([]);
  });
});

describe.skipIf(!!skip)('the instrument face (WAV as the microphone)', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    server = await serve({ isolated: true });
    browser = await launch(writeTempWav('ui-mic.wav', multitone(11, 4, 44_100), 44_100));
    ({ page, errors } = await openApp(browser, server.url, '?source=mic'));
    await page.setViewportSize({ width: 1280, height: 800 });
    await waitForStatus(page, (s) => !!s.model && !!s.selection && s.source === 'mic', 60_000, 'the model to run on the microphone');
    await waitFor(() => ui(page, (u) => u.tileCenter(0)), (c) => c !== null, 30_000, 'the feature grid to be drawn');
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('every view draws something (screenshots test-results/ui-mic-*.png), without console errors', async () => {
    await new Promise((r) => setTimeout(r, 3000));
    const rects = await ui(page, (u) => u.viewRects()) as Record<string, Rect>;
    writeFileSync(join(OUT, 'ui-mic-face.png'), await page.screenshot());
    for (const [name, r] of Object.entries(rects)) {
      const png = await page.screenshot({ clip: { x: r.x, y: r.y, width: r.w, height: r.h } });
      writeFileSync(join(OUT, `ui-mic-${name}.png`), png);
      const { share, levels } = nonBackground(png);
      console.log(`mic view ${name}: ${(share * 100).toFixed(1)}% of pixels differ from the background, ${levels} grey levels`);
      expect(share, `${name} is blank`).toBeGreaterThan(0.03);
      expect(levels, `${name} is flat`).toBeGreaterThan(4);
    }
    expect(errors).toEqual([]);
  }, 60_000);
});
