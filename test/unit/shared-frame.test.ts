/**
 * The frame packing and the latest-frame mailbox: round trips, and a real second thread writing
 * while this one reads (a torn read would mix two frames' values).
 */
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { createMailbox, MailboxReader, MailboxWriter, packFrame, packedLength, unpackFrame, type EngineFrame } from '../../src/shared/frame';

function frame(value: number, withAnalysis: boolean): Omit<EngineFrame, 'seq'> {
  const bins = 9, frames = 7;
  return {
    spectrogram: { bins, frames, hzPerBin: 21.5, secondsPerFrame: 0.023, totalFrames: 1234, data: new Float32Array(bins * frames).fill(value) },
    analysis: withAnalysis ? {
      layer: 2, feature: 5, method: 1, label: -1, windowStartFrame: 96, windowFrames: 7, channels: 3, thumbHeight: 2, thumbWidth: 4,
      thumbnails: new Float32Array(24).map((_, i) => i), mapHeight: 3, mapWidth: 2, map: new Float32Array([1, 2, 3, 4, 5, 6]),
      projection: new Float32Array(63).map((_, i) => -i), predictions: new Float32Array([0.1, 0.9]),
    } : null,
  };
}

describe('frame packing', () => {
  it('round-trips with and without the analysis section', () => {
    for (const withAnalysis of [false, true]) {
      const f = frame(3.5, withAnalysis);
      const buf = new Float32Array(packedLength(f));
      expect(packFrame(f, buf)).toBe(buf.length);
      const g = unpackFrame(buf, 17);
      expect(g.seq).toBe(17);
      const { secondsPerFrame, ...rest } = g.spectrogram;
      const { secondsPerFrame: want, ...wantRest } = f.spectrogram;
      expect(rest).toEqual(wantRest);
      expect(Math.abs(secondsPerFrame - want) / want).toBeLessThan(1e-7); // carried as float32
      expect(g.analysis).toEqual(f.analysis);
    }
  });

  it('the mailbox refuses a frame that does not fit, and delivers each new frame once', () => {
    const small = createMailbox(10);
    expect(new MailboxWriter(small).publish(frame(1, false))).toBe(false);
    const sab = createMailbox(4096);
    const w = new MailboxWriter(sab), r = new MailboxReader(sab);
    expect(r.read()).toBeNull();
    w.publish(frame(1, false));
    w.publish(frame(2, true));
    const got = r.read();
    expect(got?.spectrogram.data[0]).toBe(2);
    expect(got?.analysis?.feature).toBe(5);
    expect(r.read()).toBeNull();
  });

  it('never returns a torn frame while another thread publishes', async () => {
    const sab = createMailbox(1 << 16);
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const code = `
      const { workerData } = require('node:worker_threads');
      const ints = new Int32Array(workerData.sab, 0, 2);
      const payload = new Float32Array(workerData.sab, 8);
      const stop = new Int32Array(workerData.flag);
      const n = 20000;
      for (let v = 1; Atomics.load(stop, 0) === 0; v++) {
        Atomics.add(ints, 0, 1);
        payload[0] = 1; payload[1] = 0; payload[2] = 1; payload[3] = n; payload[4] = 1; payload[5] = 1; payload[6] = v;
        payload.fill(v, 7, 7 + n);
        Atomics.store(ints, 1, 7 + n);
        Atomics.add(ints, 0, 1);
        if (v % 2 === 0) Atomics.wait(stop, 0, 0, 1); // the real worker publishes about 22 times a second
      }
    `;
    const worker = new Worker(code, { eval: true, workerData: { sab, flag: flag.buffer } });
    await new Promise((r) => setTimeout(r, 50));
    const reader = new MailboxReader(sab);
    let reads = 0;
    const end = Date.now() + 400;
    while (Date.now() < end) {
      const f = reader.read();
      if (!f) continue;
      reads++;
      const v = f.spectrogram.totalFrames;
      const d = f.spectrogram.data;
      for (let i = 0; i < d.length; i++) if (d[i] !== v) expect(d[i], `value ${i} of frame ${v}`).toBe(v);
    }
    Atomics.store(flag, 0, 1);
    await worker.terminate();
    expect(reads).toBeGreaterThan(20);
  });
});
