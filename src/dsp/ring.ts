// Audio rings: single-producer single-consumer wait-free Float32 queues in a SharedArrayBuffer (ringbuf.js).
//
// Usage: one thread calls createAudioRing(capacityFrames) once and hands the SharedArrayBuffer to both
// sides (postMessage / processorOptions). Each side builds its own view with openAudioRing(sab) and
// keeps one role for the ring's lifetime:
//   writer: const n = ring.push(block, count)  // copies up to count samples; returns how many fitted
//   reader: const n = ring.pop(block, count)   // copies up to count samples; returns how many were there
// push/pop on preallocated Float32Arrays neither allocate nor block, so the audio thread may call them
// from process(). available_read()/available_write() can be late (an under-estimate) on the other side.
import { RingBuffer } from 'ringbuf.js';

/** Allocates the shared storage of a mono Float32 ring holding capacityFrames samples. Allocates: call once. */
export function createAudioRing(capacityFrames: number): SharedArrayBuffer {
  if (!Number.isInteger(capacityFrames) || capacityFrames < 1) {
    throw new Error(`expected a ring capacity in frames >= 1, got ${capacityFrames}`);
  }
  return RingBuffer.getStorageForCapacity(capacityFrames, Float32Array);
}

/** This thread's view of a ring made by createAudioRing (one view per thread; a view is one role). */
export function openAudioRing(sab: SharedArrayBuffer): RingBuffer {
  return new RingBuffer(sab, Float32Array);
}

export { RingBuffer };
