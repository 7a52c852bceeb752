/**
 * Shared-memory layouts used by every thread (STYLE.md §2). Each block is created once by the main
 * thread, handed to the worklet and the worker, and each thread builds its own typed views on it.
 * A reader's value can be late: slots are single-writer and read with Atomics where order matters.
 */

/** Int32 slots of the control/stats block. Writer and readers are noted per slot. */
export const Slot = {
  /** Total samples the worklet pushed into the capture ring (wraps at 2^31). Writer: worklet. Reader: worker (Atomics.waitAsync). */
  captureSamples: 0,
  /** Render quanta whose input did not fit into the capture ring. Writer: worklet. */
  captureOverruns: 1,
  /** Samples dropped by those overruns. Writer: worklet. Reader: worker (inserts silence to stay in time). */
  captureDroppedSamples: 2,
  /** Render quanta whose wet signal was (partly) missing from the output ring. Writer: worklet. */
  playbackUnderruns: 3,
  /** Render quanta processed since the node started. Writer: worklet. */
  quanta: 4,
  /** Delay of the dry signal, in device samples. Writer: main (from the worker's latency report). Reader: worklet. */
  dryDelaySamples: 5,
  /** Quanta after which the worklet starts reading the output ring (wet pre-roll). Writer: main, before start. Reader: worklet. */
  wetStartQuanta: 6,
  /** Samples the worklet still has to discard from the output ring after an underrun (keeps wet in time). Writer: worklet. */
  wetSkipPending: 7,
  /** Bumped by the worker after each hop group it published. Writer: worker. Reader: main. */
  hopsAnalysed: 8,
  /** Hop groups the worker skipped because it fell behind (analysis only; audio is never skipped). Writer: worker. */
  droppedHops: 9,
  /** 1 while recording, 0 otherwise. Writer: main. Reader: worklet. */
  recording: 10,
  /** Samples the worklet wrote to the output ring's reader side (its read position, wraps). Writer: worklet. */
  playbackSamples: 11,
  /** Input samples the worker(s) consumed since the stream began, silence for drops included. Writer: worker. */
  inputConsumed: 12,
  /** Output samples the worker(s) wrote since the stream began. Writer: worker. A restarted worker pads
   *  the output with inputConsumed - outputWritten zeros so wet stays aligned across restarts. */
  outputWritten: 13,
  /** Positional delay of the wet stream (device samples) that takes effect at wet position wetDelayAt. Writer: worker. Reader: worklet. */
  wetDelayNext: 14,
  /** Wet stream position (compare with playbackSamples, wrap-safe) from which wetDelayNext holds. Writer: worker. */
  wetDelayAt: 15,
  /** Bumped by the worker after writing wetDelayNext/wetDelayAt; the worklet then moves its dry delay to
   *  wetStartQuanta x 128 + wetDelayNext at that position, with a crossfade. Writer: worker. */
  wetDelaySeq: 16,
  /** Bitmask of the signals a recording captures (1 << RecordChannel). Writer: main. Reader: worklet. */
  recordChannels: 18,
  /** Samples the output limiter reduced (|y| would have exceeded its threshold). Writer: worklet. */
  limiterActiveSamples: 17,
} as const;

/** Float32 slots of the same block (after the Int32 slots). */
export const FloatSlot = {
  /** Wet amount in [0, 1]: out = (1 - mix) * dry * dryGain + mix * wet. Writer: main. Reader: worklet. */
  mix: 0,
  /** Master output gain in [0, 1]. Writer: main. Reader: worklet. */
  masterGain: 1,
  /** Dry monitoring gain, 0 or 1 (0 for a live microphone by default: feedback). Writer: main. Reader: worklet. */
  dryGain: 2,
  /** Input peak |x| over the last meter period (about 50 ms). Writer: worklet. Reader: main. */
  inputPeak: 3,
  /** Input RMS over the last meter period. Writer: worklet. Reader: main. */
  inputRms: 4,
  /** Output peak |y| over the last meter period. Writer: worklet. Reader: main. */
  outputPeak: 5,
  /** Wet (resynthesised) peak over the last meter period. Writer: worklet. Reader: main. */
  wetPeak: 6,
} as const;

/** Number of Int32 slots reserved (room to grow without moving the float slots). */
export const INT_SLOTS = 32;
/** Number of Float32 slots reserved. */
export const FLOAT_SLOTS = 16;
/** Bytes of the control/stats block. */
export const STATS_BYTES = (INT_SLOTS + FLOAT_SLOTS) * 4;

/** Typed views on one control/stats block. */
export interface StatsViews {
  ints: Int32Array;
  floats: Float32Array;
}

/** Builds this thread's views on a stats block (shared or, without isolation, a local copy). */
export function statsViews(buffer: ArrayBufferLike): StatsViews {
  return {
    ints: new Int32Array(buffer, 0, INT_SLOTS),
    floats: new Float32Array(buffer, INT_SLOTS * 4, FLOAT_SLOTS),
  };
}

/** Capacity of the capture and output rings in samples at the device rate (2^17: 2.7 s at 48 kHz). */
export const RING_CAPACITY_SAMPLES = 1 << 17;

/** The render quantum of the Web Audio API, in frames. */
export const QUANTUM_FRAMES = 128;

/** Batch size (samples) of the transfer fallback and of recording: 16 quanta, never a message per quantum. */
export const BATCH_SAMPLES = 2048;

/** Buffers in each transfer pool (the fallback's preallocated pool). */
export const BATCH_POOL_SIZE = 64;

/** The worklet notifies the worker each time this many samples have been captured. */
export const WAKE_STRIDE_SAMPLES = 512;
