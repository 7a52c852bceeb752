/**
 * Measures forward (5 x conv3x3+ReLU+maxpool) + one deconvolution (a backward chain of conv2d's
 * with swapped channels, plus unpool masks) at 257 x 173 on tfjs backends in Node, for several
 * channel counts. Usage: npx tsx training/bench_channels.ts [wasm|cpu] [16,24,32,48,64] [median|min|cpu]
 * (median/min of wall time, or median process CPU time).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

const BINS = 257;
const FRAMES = 173;
const LAYERS = 5;

/** Median of a list of numbers. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** Times forward + mirror for one channel count; returns [forwardMs, forward+convMirrorMs, forward+fullMirrorMs]. */
async function benchChannels(spec: number[], reps: number): Promise<[number, number, number]> {
  const kernels: tf.Tensor4D[] = [];
  const flipped: tf.Tensor4D[] = [];
  for (let l = 0; l < LAYERS; l++) {
    const cin = l === 0 ? 1 : (spec[l - 1] ?? 1);
    const k = tf.randomNormal([3, 3, cin, spec[l] ?? 1], 0, 0.1, 'float32', 7 + l) as tf.Tensor4D;
    kernels.push(k);
    flipped.push(tf.tidy(() => tf.transpose(tf.reverse(k, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D));
  }
  const x = tf.randomUniform([1, BINS, FRAMES, 1], 0, 5, 'float32', 3) as tf.Tensor4D;
  // mode 0: forward only; 1: + conv2d-only mirror chain; 2: + mirror with unpool switches.
  const run = (mode: number): tf.Tensor => tf.tidy(() => {
    let h: tf.Tensor4D = x;
    const preShapes: tf.Tensor4D[] = [];
    for (let l = 0; l < LAYERS; l++) {
      const c = tf.relu(tf.conv2d(h, kernels[l] as tf.Tensor4D, 1, 'same'));
      preShapes.push(c);
      h = tf.maxPool(c, 2, 2, 'valid');
    }
    if (mode === 0) return h;
    let g: tf.Tensor4D = h;
    for (let l = LAYERS - 1; l >= 0; l--) {
      const pre = preShapes[l] as tf.Tensor4D;
      if (mode === 1) {
        g = tf.conv2d(pre, flipped[l] as tf.Tensor4D, 1, 'same');
        continue;
      }
      // Unpool: nearest upsample, pad to the pre-pool size, keep only switch positions.
      let up = tf.image.resizeNearestNeighbor(g, [g.shape[1] * 2, g.shape[2] * 2]);
      up = tf.pad(up, [[0, 0], [0, pre.shape[1] - up.shape[1]], [0, pre.shape[2] - up.shape[2]], [0, 0]]);
      const sw = tf.equal(pre, tf.pad(tf.image.resizeNearestNeighbor(tf.maxPool(pre, 2, 2, 'valid'), [up.shape[1] - (pre.shape[1] % 2), up.shape[2] - (pre.shape[2] % 2)]), [[0, 0], [0, pre.shape[1] % 2], [0, pre.shape[2] % 2], [0, 0]]));
      g = tf.relu(tf.mul(up, tf.cast(sw, 'float32'))) as tf.Tensor4D;
      g = tf.conv2d(g, flipped[l] as tf.Tensor4D, 1, 'same');
    }
    return g;
  });
  const time = async (mode: number): Promise<number> => {
    const ts: number[] = [];
    for (let i = 0; i < reps + 2; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const y = run(mode);
      await y.data();
      y.dispose();
      const cpu = process.cpuUsage(c0);
      // 'cpu': process CPU time (user + system), close to the uncontended wall time of the
      // single-threaded wasm backend on a CPU shared with other jobs.
      if (i >= 2) ts.push(useCpu ? (cpu.user + cpu.system) / 1000 : performance.now() - t0);
    }
    return useMin ? Math.min(...ts) : median(ts);
  };
  const fwd = await time(0);
  const convOnly = await time(1);
  const total = await time(2);
  x.dispose();
  kernels.forEach((k) => k.dispose());
  flipped.forEach((k) => k.dispose());
  return [fwd, convOnly, total];
}

const backend = process.argv[2] ?? 'wasm';
// Fastest of the repetitions (min) instead of the median: a fairer estimate on a shared, busy CPU.
const useMin = process.argv[4] === 'min';
const useCpu = process.argv[4] === 'cpu';
// Uniform counts '16,24,32', or per-layer specs joined with '-': '16-16-32-64-64'.
const counts = (process.argv[3] ?? '16,24,32,48,64').split(',').map((c) => c.split('-').map(Number));
await tf.setBackend(backend);
await tf.ready();
console.log(`backend ${tf.getBackend()}, input ${BINS}x${FRAMES}`);
for (const c of counts) {
  const spec = c.length === 1 ? Array<number>(LAYERS).fill(c[0] ?? 16) : c;
  const [fwd, convOnly, total] = await benchChannels(spec, 25);
  console.log(`channels ${c.join('-')}: forward ${fwd.toFixed(1)} ms, + conv2d mirror ${convOnly.toFixed(1)} ms, ` +
    `+ mirror with unpool switches ${total.toFixed(1)} ms`);
}
