/** Start-up choice of the fastest tfjs backend by a short, time-capped benchmark. Pure tfjs, no DOM. */
import * as tf from '@tensorflow/tfjs';

/** What chooseBackend decided and why. */
export interface BackendChoice {
  /** Backend now active (tf.getBackend()). */
  name: string;
  /** One sentence for the status line. */
  reason: string;
  /** Benchmark time per candidate in ms; unavailable or skipped ones are absent. */
  timingsMs: Record<string, number>;
  /** Why a candidate was not timed: its error, or the time cap. */
  skipped: Record<string, string>;
}

/**
 * Tries each candidate (tf.setBackend), times `bench(name)` on it and keeps the fastest; stops
 * trying once `capMs` of total time is spent. Unavailable backends are reported with their error.
 */
export async function chooseBackend(candidates: string[], bench: (name: string) => Promise<number>, capMs: number): Promise<BackendChoice> {
  const timingsMs: Record<string, number> = {};
  const skipped: Record<string, string> = {};
  const t0 = performance.now();
  for (const name of candidates) {
    const spent = performance.now() - t0;
    if (Object.keys(timingsMs).length > 0 && spent >= capMs) {
      skipped[name] = `not tried: the ${capMs} ms benchmark budget was spent (${spent.toFixed(0)} ms)`;
      continue;
    }
    try {
      const ok = await tf.setBackend(name);
      if (!ok) {
        skipped[name] = 'unavailable: tf.setBackend returned false';
        continue;
      }
      await tf.ready();
      const ms = await bench(name);
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`benchmark returned ${ms}`);
      timingsMs[name] = ms;
    } catch (e) {
      skipped[name] = `unavailable: ${(e as Error).message}`;
    }
  }
  const timed = Object.entries(timingsMs).sort((a, b) => a[1] - b[1]);
  if (timed.length === 0) {
    const why = Object.entries(skipped).map(([n, r]) => `${n}: ${r}`).join('; ');
    throw new Error(`chooseBackend: expected at least one usable backend among ${candidates.join(', ')}, got none (${why})`);
  }
  const [best, bestMs] = timed[0];
  if (tf.getBackend() !== best) await tf.setBackend(best);
  const others = timed.slice(1).map(([n, ms]) => `${n} ${ms.toFixed(1)} ms`);
  const reason = `${best}: fastest in the start-up benchmark (${bestMs.toFixed(1)} ms${others.length ? `; ${others.join(', ')}` : ''})` +
    (Object.keys(skipped).length ? `; not used: ${Object.entries(skipped).map(([n, r]) => `${n} (${r})`).join(', ')}` : '');
  return { name: best, reason, timingsMs, skipped };
}

/** Forces one backend; throws with the reason when it cannot start. */
export async function forceBackend(name: string): Promise<BackendChoice> {
  let ok = false;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new Error(`backend '${name}': expected it to start, got ${(e as Error).message}`);
  }
  if (!ok) throw new Error(`backend '${name}': expected it to start, got unavailable (not registered or not supported here)`);
  await tf.ready();
  return { name, reason: `${name}: chosen by the user`, timingsMs: {}, skipped: {} };
}
