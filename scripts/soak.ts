/**
 * Soak test: `npm run soak -- --minutes N [--every S]`. Serves dist/ (build it first), opens the
 * app in headless Chromium in booth mode with the demo piece and the tour running, and samples
 * every S seconds (default 60): the main thread's JS heap (after a forced GC, through the
 * DevTools protocol; performance.memory too), the worker's tfjs tensor count (status().tensors,
 * when the engine reports it), the GPU textures the views own, overruns, underruns, and the frame
 * interval. Fails (exit 1) when a quantity grows without bound: a least-squares line over the
 * second half of the samples rising faster than its threshold per minute (below) and by more than
 * three standard errors of its slope; or when the booth tour stops advancing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { browserSkipReason, launch, ROOT, serve, waitForStatus } from '../test/browser/harness';
import type { AuralscopeApi, Status } from '../src/shared/api';
import type { AuralscopeUi } from '../src/ui/main';

/** Largest tolerated rise per minute over the second half of the run. */
const THRESHOLDS_PER_MIN = {
  heapMB: 0.5,
  tensors: 0.5,
  textures: 0.1,
  /** Per-interval counts (the counters are cumulative: their rate must not rise). */
  underrunsPerInterval: 5,
  overrunsPerInterval: 5,
  frameMedianMs: 0.5,
  frameP95Ms: 5,
} as const;
/** A rise counts only when the slope exceeds this many of its standard errors. */
const SIGNIFICANCE = 3;

interface Sample {
  minute: number;
  heapMB: number;
  perfMemoryMB: number | null;
  tensors: number | null;
  textures: number;
  underruns: number;
  overruns: number;
  underrunsPerInterval: number;
  overrunsPerInterval: number;
  frameMedianMs: number;
  frameP95Ms: number;
  hopMs: number;
  tourSteps: number;
  ready: boolean;
}

/** Least-squares line through (x, y): its slope and the slope's standard error (Infinity below 3 points). */
export function fitLine(xs: number[], ys: number[]): { slope: number; stdErr: number } {
  const n = xs.length;
  if (n < 2) return { slope: 0, stdErr: Infinity };
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  if (!(den > 0)) return { slope: 0, stdErr: Infinity };
  const slope = num / den;
  let rss = 0;
  for (let i = 0; i < n; i++) rss += (ys[i] - (my + slope * (xs[i] - mx))) ** 2;
  return { slope, stdErr: n > 2 ? Math.sqrt(rss / (n - 2) / den) : Infinity };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '30' }, every: { type: 'string', default: '60' }, tour: { type: 'string', default: '8' } } });
  const minutes = Number(values.minutes);
  const everyS = Number(values.every);
  if (!(minutes > 0) || !(everyS >= 5)) throw new Error(`expected --minutes > 0 and --every >= 5 seconds, got ${values.minutes} and ${values.every}`);
  const skip = browserSkipReason();
  if (skip) throw new Error(`cannot soak: ${skip}`);

  const server = await serve({ isolated: true });
  const browser = await launch();
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.url}/?booth&tour=${values.tour}`);
  await waitForStatus(page, (s) => s.ready, 60_000, 'the app to be ready');
  await waitForStatus(page, (s) => !!s.model, 60_000, 'the model to run').catch(() => console.warn('soak: no model is running; soaking the spectrogram only'));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.enable');

  const samples: Sample[] = [];
  const t0 = Date.now();
  let prev = { underruns: 0, overruns: 0 };
  console.log(`soak: ${minutes} min, a sample every ${everyS} s, booth tour every ${values.tour} s`);
  console.log('min    heap MB  tensors  textures  underruns  overruns  frame med/p95 ms  hop ms  tour steps');
  const endMs = t0 + minutes * 60_000;
  while (Date.now() < endMs) {
    await new Promise((r) => setTimeout(r, Math.min(everyS * 1000, Math.max(0, endMs - Date.now()))));
    await cdp.send('HeapProfiler.collectGarbage');
    const heap = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
    const r = await page.evaluate(() => {
      const w = window as unknown as { auralscope: AuralscopeApi; auralscopeUi: AuralscopeUi };
      const mem = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
      return { s: w.auralscope.status(), fr: w.auralscopeUi.frameStats(), tex: w.auralscopeUi.textureCount(), tour: w.auralscopeUi.tour(), mem: mem ? mem.usedJSHeapSize : null };
    });
    const s: Status = r.s;
    const tensors = (s as Status & { tensors?: number }).tensors;
    const sample: Sample = {
      minute: (Date.now() - t0) / 60_000,
      heapMB: heap.usedSize / 2 ** 20,
      perfMemoryMB: r.mem === null ? null : r.mem / 2 ** 20,
      tensors: typeof tensors === 'number' ? tensors : null,
      textures: r.tex,
      underruns: s.counters.playbackUnderruns,
      overruns: s.counters.captureOverruns,
      underrunsPerInterval: Math.max(0, s.counters.playbackUnderruns - prev.underruns),
      overrunsPerInterval: Math.max(0, s.counters.captureOverruns - prev.overruns),
      frameMedianMs: r.fr.medianMs,
      frameP95Ms: r.fr.p95Ms,
      hopMs: s.timing.hopMs,
      tourSteps: r.tour.steps,
      ready: s.ready,
    };
    prev = { underruns: sample.underruns, overruns: sample.overruns };
    samples.push(sample);
    console.log(`${sample.minute.toFixed(1).padStart(5)}  ${sample.heapMB.toFixed(2).padStart(7)}  ${String(sample.tensors ?? '—').padStart(7)}  ${String(sample.textures).padStart(8)}  ${String(sample.underruns).padStart(9)}  ${String(sample.overruns).padStart(8)}  ${sample.frameMedianMs.toFixed(1).padStart(7)} / ${sample.frameP95Ms.toFixed(1).padEnd(7)}  ${sample.hopMs.toFixed(1).padStart(6)}  ${String(sample.tourSteps).padStart(10)}`);
  }

  // Verdict: a line through the second half of the samples (after warm-up) must not rise faster than its threshold.
  const half = samples.slice(Math.floor(samples.length / 2));
  const xs = half.map((s) => s.minute);
  const verdicts = (Object.keys(THRESHOLDS_PER_MIN) as (keyof typeof THRESHOLDS_PER_MIN)[]).map((key) => {
    const ys = half.map((s) => s[key]).filter((v): v is number => typeof v === 'number');
    if (ys.length !== half.length || ys.length < 2) return { key, slopePerMin: null, stdErr: null, limit: THRESHOLDS_PER_MIN[key], ok: true, note: 'not measured' };
    const { slope, stdErr } = fitLine(xs, ys);
    // Grows: faster than the limit, and by more than SIGNIFICANCE standard errors (noise on a busy
    // machine, e.g. the p95 of frame intervals, is not growth; a steady leak has a small error).
    const grows = slope > THRESHOLDS_PER_MIN[key] && (stdErr === Infinity ? ys.length === 2 : slope > SIGNIFICANCE * stdErr);
    return { key, slopePerMin: slope, stdErr: Number.isFinite(stdErr) ? stdErr : null, limit: THRESHOLDS_PER_MIN[key], ok: !grows, note: '' };
  });
  const tourStalled = samples.length >= 2 && samples[samples.length - 1].tourSteps <= samples[Math.floor(samples.length / 2)].tourSteps && !!samples[0].tourSteps;
  const ok = verdicts.every((v) => v.ok) && !tourStalled && samples.length > 0 && samples[samples.length - 1].ready;
  console.log('\nrise per minute over the second half (limit):');
  for (const v of verdicts) console.log(`  ${v.key.padEnd(22)} ${v.slopePerMin === null ? v.note : `${v.slopePerMin.toFixed(3)} ± ${v.stdErr === null ? '?' : v.stdErr.toFixed(3)}`} (limit ${v.limit}) ${v.ok ? 'ok' : 'GROWS'}`);
  if (tourStalled) console.log('  the booth tour stopped advancing');
  if (errors.length) console.log(`console errors (${errors.length}): ${errors.slice(0, 5).join(' | ')}`);
  mkdirSync(join(ROOT, 'test-results'), { recursive: true });
  const file = join(ROOT, 'test-results', `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ minutes, everyS, samples, verdicts, tourStalled, errors, ok }, null, 2));
  console.log(`\n${ok ? 'PASS' : 'FAIL'}: report in ${file}`);
  await browser.close();
  await server.close();
  process.exit(ok ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
