/**
 * Issue 8 in the browser: Choi's compact_cnn, imported by the CLI from ../shared/upstream (never
 * committed), loads into the running app like any model, rebuilds the signal path for its 12-kHz
 * front end, analyses the demo piece with its 29-s window, and a soloed feature's resynthesis
 * (the wet stem) is finite and not silent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { browserSkipReason, launch, openApp, serve, status, waitForStatus } from './harness';
import { importKerasToDir } from '../../src/cli/import-keras';
import type { AuralscopeApi } from '../../src/shared/api';

type Win = { auralscope: AuralscopeApi };

const UPSTREAM = resolve(process.env.AURALSCOPE_UPSTREAM ?? join(process.cwd(), '..', 'shared', 'upstream', 'music-auto_tagging-keras'));
const haveWeights = existsSync(join(UPSTREAM, 'compact_cnn', 'weights_theano.hdf5'));
const skip = browserSkipReason() ?? (haveWeights ? null : `Choi's weights are not in ${UPSTREAM} (set AURALSCOPE_UPSTREAM)`);
if (skip) console.warn(`[skip] browser test of Choi's imported compact_cnn: ${skip}`);

describe.skipIf(!!skip)("Choi's compact_cnn in Chromium (imported, demo piece)", () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  let page: Page;
  let errors: string[];
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'auralscope-choi-'));
    const out = join(dir, 'choi-compact-cnn');
    await importKerasToDir({
      weightsPath: join(UPSTREAM, 'compact_cnn', 'weights_tensorflow.hdf5'), arch: 'compact_cnn',
      denseFrom: join(UPSTREAM, 'compact_cnn', 'weights_theano.hdf5'), labelsPath: null, outDir: out,
    });
    const fixtures = new Map<string, Uint8Array>();
    for (const name of readdirSync(out)) fixtures.set(`choi/${name}`, new Uint8Array(readFileSync(join(out, name))));
    server = await serve({ isolated: true, fixtures });
    browser = await launch();
    ({ page, errors } = await openApp(browser, server.url));
    await page.evaluate(() => (window as unknown as Win).auralscope.setSource({ kind: 'demo' }));
    await waitForStatus(page, (s) => s.source === 'demo' && s.ready, 15_000, 'the demo source');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loads, runs at 12 kHz with its 1360-frame window, and the solo output is finite and not silent', async () => {
    const info = await page.evaluate((u) => (window as unknown as Win).auralscope.loadModel(u), `${server.url}/fixtures/choi/`);
    expect(info.id).toBe('choi-compact-cnn');
    expect(info.sampleRateHz).toBe(12_000);
    expect(info.windowFrames).toBe(1360);
    expect(info.windowDependent).toBe(true);
    expect(info.layers.map((l) => [l.height, l.width])).toEqual([[48, 340], [16, 85], [8, 17], [4, 4], [1, 1]]);
    // Analyses run from the start (the window is zero-padded until 29 s of audio exist).
    const s = await waitForStatus(page, (x) => x.model?.id === 'choi-compact-cnn' && x.counters.hopsAnalysed >= 2, 90_000, 'compact_cnn analyses');
    expect(s.model?.labels.length).toBe(50);
    // Solo a layer-2 feature; the wet stem is the resynthesis through the mel-domain mask.
    await page.evaluate(async () => {
      const a = (window as unknown as Win).auralscope;
      await a.select({ layer: 1, feature: 3, method: 'deconvnet' });
      a.setMix(1);
      await a.setSolo(true);
    });
    const before = (await status(page)).counters.hopsAnalysed;
    await waitForStatus(page, (x) => x.counters.hopsAnalysed >= before + 2, 60_000, 'analyses of the soloed feature');
    const stem = await page.evaluate(async () => Array.from(await (window as unknown as Win).auralscope.recordOutput(2, { stem: true })));
    const { decodeWav } = await import('../../src/dsp/wav');
    const wav = decodeWav(Uint8Array.from(stem));
    const x = wav.channels[0];
    expect(x.every(Number.isFinite)).toBe(true);
    const rms = Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length);
    const after = await status(page);
    console.log(`compact_cnn in Chromium: backend ${after.backend}, analysis rate ${after.analysisSampleRateHz} Hz, solo stem ${(20 * Math.log10(rms)).toFixed(1)} dBFS, analyses ${after.counters.hopsAnalysed}, dropped hop groups ${after.counters.droppedHops}, analysis ${after.timing.stagesMs.analysis.toFixed(0)} ms, underruns ${after.counters.playbackUnderruns}`);
    expect(after.analysisSampleRateHz).toBe(12_000);
    expect(20 * Math.log10(rms)).toBeGreaterThan(-60);
    expect(errors.filter((e) => !/favicon/.test(e))).toEqual([]);
  }, 240_000);
});
