/** Frame-interval statistics over a sliding window of requestAnimationFrame deltas (pure). */

/** Median and 95th percentile of a list of intervals, ms (0 when empty). */
export function intervalStats(intervalsMs: ArrayLike<number>): { medianMs: number; p95Ms: number } {
  const n = intervalsMs.length;
  if (n === 0) return { medianMs: 0, p95Ms: 0 };
  const sorted = Float64Array.from(intervalsMs).sort();
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  return { medianMs: n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2, p95Ms: at(0.95) };
}

/** Keeps the last `capacity` frame intervals (a fixed ring: no allocation per frame). */
export class FrameMeter {
  private readonly ring: Float64Array;
  private count = 0;
  private next = 0;
  private lastMs = -1;

  constructor(capacity = 600) {
    this.ring = new Float64Array(capacity);
  }

  /** Records a frame at time nowMs (performance.now()). */
  tick(nowMs: number): void {
    if (this.lastMs >= 0) {
      this.ring[this.next] = nowMs - this.lastMs;
      this.next = (this.next + 1) % this.ring.length;
      this.count = Math.min(this.count + 1, this.ring.length);
    }
    this.lastMs = nowMs;
  }

  /** Records a duration directly (e.g. the time a draw took), ms. */
  record(durationMs: number): void {
    this.ring[this.next] = durationMs;
    this.next = (this.next + 1) % this.ring.length;
    this.count = Math.min(this.count + 1, this.ring.length);
  }

  /** Median / p95 interval over the window, ms, and the matching frames per second. */
  stats(): { medianMs: number; p95Ms: number; fps: number; frames: number } {
    const s = intervalStats(this.ring.subarray(0, this.count));
    return { ...s, fps: s.medianMs > 0 ? 1000 / s.medianMs : 0, frames: this.count };
  }

  /** Forgets the intervals (e.g. after the page was hidden). */
  reset(): void {
    this.count = 0;
    this.next = 0;
    this.lastMs = -1;
  }
}
