/**
 * Browser-test harness: serves the production build (dist/) with or without cross-origin
 * isolation, launches Debian's Chromium through playwright-core with a WAV file as the microphone,
 * and offers signal helpers for checking what comes out.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import FFT from 'fft.js';
import { encodeWav, decodeWav } from '../../src/dsp/wav';
import type { AuralscopeApi, Status } from '../../src/shared/api';

export const ROOT = resolve(import.meta.dirname, '../..');
export const DIST = join(ROOT, 'dist');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why browser tests cannot run here, or null when they can. */
export function browserSkipReason(): string | null {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (install Debian's chromium: apt-get install -y chromium)`;
  if (!existsSync(join(DIST, 'index.html'))) return 'no production build in dist/ (npm test runs `vite build` first)';
  return null;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json',
  '.wasm': 'application/wasm', '.bin': 'application/octet-stream', '.wav': 'audio/wav', '.map': 'application/json', '.png': 'image/png',
};

/** A static server for dist/ (and extra files under /fixtures/); `isolated` adds COOP/COEP. */
export async function serve(opts: { isolated: boolean; fixtures?: Map<string, Uint8Array> }): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
    if (opts.isolated) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    headers['Cross-Origin-Resource-Policy'] = 'same-origin';
    const fixture = path.startsWith('/fixtures/') ? opts.fixtures?.get(path.slice('/fixtures/'.length)) : undefined;
    if (fixture) {
      // Byte ranges, so a media element can stream and seek a long file.
      const type = TYPES[extname(path)] ?? 'application/octet-stream';
      const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
      if (range) {
        const start = range[1] ? Number(range[1]) : 0;
        const end = range[2] ? Math.min(Number(range[2]), fixture.length - 1) : fixture.length - 1;
        res.writeHead(206, { ...headers, 'Content-Type': type, 'Accept-Ranges': 'bytes', 'Content-Range': `bytes ${start}-${end}/${fixture.length}`, 'Content-Length': end - start + 1 });
        res.end(fixture.subarray(start, end + 1));
        return;
      }
      res.writeHead(200, { ...headers, 'Content-Type': type, 'Accept-Ranges': 'bytes', 'Content-Length': fixture.length });
      res.end(fixture);
      return;
    }
    const file = normalize(join(DIST, path === '/' ? 'index.html' : path));
    if (!file.startsWith(DIST) || !existsSync(file)) {
      res.writeHead(404, headers);
      res.end('not found');
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** Writes a mono float signal as a 16-bit WAV in a temp folder; returns its absolute path. */
export function writeTempWav(name: string, signal: Float32Array, sampleRateHz: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'auralscope-'));
  const path = join(dir, name);
  writeFileSync(path, encodeWav([signal], sampleRateHz, 'pcm16'));
  return path;
}

/** Launches headless Chromium; `micWav` is played as the microphone (looped). */
export async function launch(micWav?: string): Promise<Browser> {
  const args = [
    '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic',
    '--no-first-run', '--autoplay-policy=no-user-gesture-required', '--enable-unsafe-webgpu',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  ];
  if (micWav) args.push(`--use-file-for-fake-audio-capture=${micWav}`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/** Console errors and page errors seen by a page. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

/** status() from the page. */
export function status(page: Page): Promise<Status> {
  return page.evaluate(() => (window as unknown as { auralscope: AuralscopeApi }).auralscope.status());
}

/** Polls until `pred(status)` holds; throws with the last status after timeoutMs. */
export async function waitForStatus(page: Page, pred: (s: Status) => boolean, timeoutMs: number, what: string): Promise<Status> {
  const end = Date.now() + timeoutMs;
  let last: Status | null = null;
  while (Date.now() < end) {
    last = await page.evaluate(() => (window as unknown as { auralscope?: AuralscopeApi }).auralscope?.status() ?? null) as Status | null;
    if (last && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last status: ${JSON.stringify(last)}`);
}

/** Records `seconds` of the output in the page and decodes the WAV. */
export async function recordOutput(page: Page, seconds: number): Promise<{ sampleRateHz: number; samples: Float32Array }> {
  const b64 = await page.evaluate(async (s) => {
    const bytes = await (window as unknown as { auralscope: AuralscopeApi }).auralscope.recordOutput(s);
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(bin);
  }, seconds);
  const wav = decodeWav(new Uint8Array(Buffer.from(b64, 'base64')));
  return { sampleRateHz: wav.sampleRateHz, samples: wav.channels[0] };
}

/**
 * Best alignment of `test` against the periodic signal `period` (the looped microphone file):
 * the offset o maximising sum test[i] period[(o + i) mod P], found by FFT cross-correlation, and
 * the normalised correlation there.
 */
export function alignToLoop(period: Float32Array, test: Float32Array): { offset: number; correlation: number } {
  const P = period.length, M = test.length;
  let n = 1;
  while (n < P + 2 * M) n <<= 1;
  const fft = new FFT(n);
  const a = new Float64Array(n), b = new Float64Array(n);
  for (let i = 0; i < P + M; i++) a[i] = period[i % P];
  for (let i = 0; i < M; i++) b[i] = test[i];
  const A = fft.createComplexArray() as number[], B = fft.createComplexArray() as number[];
  fft.realTransform(A, Array.from(a));
  fft.completeSpectrum(A);
  fft.realTransform(B, Array.from(b));
  fft.completeSpectrum(B);
  const C = fft.createComplexArray() as number[];
  for (let k = 0; k < n; k++) {
    const ar = A[2 * k], ai = A[2 * k + 1], br = B[2 * k], bi = -B[2 * k + 1];
    C[2 * k] = ar * br - ai * bi;
    C[2 * k + 1] = ar * bi + ai * br;
  }
  const c = fft.createComplexArray() as number[];
  fft.inverseTransform(c, C);
  let best = 0, bestVal = -Infinity;
  for (let o = 0; o < P; o++) if (c[2 * o] > bestVal) { bestVal = c[2 * o]; best = o; }
  let cross = 0, e1 = 0, e2 = 0;
  for (let i = 0; i < M; i++) {
    const x = period[(best + i) % P], y = test[i];
    cross += x * y; e1 += x * x; e2 += y * y;
  }
  return { offset: best, correlation: cross / Math.sqrt(e1 * e2 || 1) };
}

/** Peak bin of a frame (array of bins dB values). */
export function peakBin(frame: number[]): number {
  let k = 0;
  for (let i = 1; i < frame.length; i++) if (frame[i] > frame[k]) k = i;
  return k;
}

/** Opens the app in a new page with the query string `query` and waits until it is ready. */
export async function openApp(browser: Browser, url: string, query = ''): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  await page.goto(`${url}/${query}`);
  await waitForStatus(page, (s) => s.ready, 30_000, 'the app to be ready');
  return { page, errors };
}

/**
 * A seeded multitone (30 sines at random frequencies in 100-4500 Hz, random phases, peak 0.4):
 * below 0.45 x 11,025 Hz so the identity path passes it, and without short-period repetition so
 * an alignment is unambiguous.
 */
export function multitone(seed: number, seconds: number, rateHz: number): Float32Array {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const n = Math.round(seconds * rateHz);
  const out = new Float32Array(n);
  for (let j = 0; j < 30; j++) {
    const hz = 100 + rand() * 4400;
    const ph = rand() * 2 * Math.PI;
    const w = (2 * Math.PI * hz) / rateHz;
    for (let i = 0; i < n; i++) out[i] += Math.sin(w * i + ph);
  }
  let peak = 0;
  for (const x of out) peak = Math.max(peak, Math.abs(x));
  const fade = Math.round(0.01 * rateHz);
  for (let i = 0; i < n; i++) out[i] *= (0.4 / peak) * Math.min(1, i / fade, (n - 1 - i) / fade);
  return out;
}
