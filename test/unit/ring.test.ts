import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createAudioRing, openAudioRing } from '../../src/dsp/ring';
import { mulberry32 } from '../fixtures/fixture-net/make';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
const rng = mulberry32;

/** Checks that values arrive as 0, 1, 2, ... (mod 2^24): reports the first lost, duplicated or reordered value. */
class SequenceVerifier {
  next = 0;
  error: string | null = null;
  check(values: Float32Array, count: number): void {
    for (let i = 0; i < count && this.error === null; i++) {
      const expected = this.next % 16777216;
      if (values[i] !== expected) this.error = `at sequence index ${this.next}: expected ${expected}, got ${values[i]}`;
      this.next++;
    }
  }
}

const CANARY = -12345.5;
const POISON = -777.25;
const GUARD = 16;

describe('SequenceVerifier (so the ring test can fail)', () => {
  it.each([
    ['lost', [0, 1, 3]],
    ['duplicated', [0, 1, 1, 2]],
    ['reordered', [0, 2, 1]],
  ])('reports a %s value', (_kind, seq) => {
    const v = new SequenceVerifier();
    v.check(Float32Array.from(seq), seq.length);
    expect(v.error).toMatch(/expected \d+, got \d+/);
  });
});

describe('audio ring across two threads', () => {
  it.each([
    [127, 300, 1],
    [4096, 1500, 2],
    [1000, 64, 3],
  ])('capacity %i, chunks up to %i (seed %i): every value once, in order, >= 100 laps', async (capacity, maxChunk, seed) => {
    const total = Math.max(200_000, 150 * capacity);
    const sab = createAudioRing(capacity);
    const ring = openAudioRing(sab);
    expect(ring.capacity()).toBe(capacity);
    const worker = new Worker(new URL('./ring-worker.mjs', import.meta.url), {
      workerData: { sab, total, maxChunk, seed: seed * 7919, canary: CANARY, guard: GUARD },
    });
    const messages: Array<{ type: string; pushed?: number; canaryErrors?: number; fullSpins?: number }> = [];
    let wake: () => void = () => undefined;
    worker.on('message', (m) => {
      messages.push(m);
      wake();
    });
    const failed = new Promise<never>((_, reject) => worker.on('error', reject));
    const waitFor = (type: string) =>
      Promise.race([
        failed,
        new Promise<void>((resolve) => {
          const poll = () => (messages.some((m) => m.type === type) ? resolve() : (wake = poll));
          poll();
        }),
      ]);
    await waitFor('ready');

    // Consumer: this thread pops seeded random chunk sizes into a poisoned, canary-guarded buffer.
    const random = rng(seed);
    const staging = new Float32Array(GUARD + maxChunk + GUARD).fill(CANARY);
    const view = staging.subarray(GUARD, GUARD + maxChunk);
    const verifier = new SequenceVerifier();
    let emptySpins = 0;
    let overreach = 0;
    const deadline = performance.now() + 60_000;
    while (verifier.next < total && verifier.error === null && performance.now() < deadline) {
      const want = 1 + Math.floor(random() * maxChunk);
      view.fill(POISON, 0, want);
      const got = ring.pop(view, want);
      if (got === 0) emptySpins++;
      for (let i = got; i < want; i++) if (view[i] !== POISON) overreach++;
      verifier.check(view, got);
      if (random() < 0.01) {
        const until = performance.now() + random() * 0.5; // let the producer fill the ring now and then
        while (performance.now() < until);
      }
    }
    expect(verifier.error).toBeNull();
    expect(verifier.next).toBe(total);
    await waitFor('done');
    const done = messages.find((m) => m.type === 'done');
    await worker.terminate();
    expect(done?.pushed).toBe(total);
    expect(done?.canaryErrors).toBe(0);
    expect(overreach).toBe(0);
    for (let i = 0; i < GUARD; i++) {
      expect(staging[i]).toBe(CANARY);
      expect(staging[GUARD + maxChunk + i]).toBe(CANARY);
    }
    expect(ring.available_read()).toBe(0);
    expect(total / capacity).toBeGreaterThanOrEqual(100);
    // Both edge cases were exercised: the producer met a full ring and the consumer an empty one.
    expect(done?.fullSpins).toBeGreaterThan(0);
    expect(emptySpins).toBeGreaterThan(0);
  });
});
