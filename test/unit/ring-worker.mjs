// Producer thread for ring.test.ts: pushes the sequence 0, 1, 2, ... (mod 2^24, exact in Float32) in
// seeded random chunk sizes, with canaries around its staging buffer, then reports back.
import { parentPort, workerData } from 'node:worker_threads';
import { RingBuffer } from 'ringbuf.js';

const { sab, total, maxChunk, seed, canary, guard } = workerData;
const ring = new RingBuffer(sab, Float32Array);

let a = seed >>> 0; // mulberry32, same as the test
function random() {
  a = (a + 0x6d2b79f5) >>> 0;
  let t = a;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const staging = new Float32Array(guard + maxChunk + guard).fill(canary);
let canaryErrors = 0;
let fullSpins = 0;
let next = 0;
parentPort.postMessage({ type: 'ready' });
while (next < total) {
  const n = Math.min(total - next, 1 + Math.floor(random() * maxChunk));
  for (let i = 0; i < n; i++) staging[guard + i] = (next + i) % 16777216;
  let done = 0;
  while (done < n) {
    const pushed = ring.push(staging, n - done, guard + done);
    if (pushed === 0) fullSpins++;
    done += pushed;
  }
  next += n;
  for (let i = 0; i < guard; i++) {
    if (staging[i] !== canary || staging[guard + maxChunk + i] !== canary) canaryErrors++;
  }
  if (random() < 0.01) {
    const until = performance.now() + random() * 0.5; // let the consumer drain the ring now and then
    while (performance.now() < until);
  }
}
parentPort.postMessage({ type: 'done', pushed: next, canaryErrors, fullSpins });
