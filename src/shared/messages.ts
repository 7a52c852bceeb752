/**
 * Messages on the worklet's MessagePort and on the transfer-fallback ports. Used only where
 * SharedArrayBuffer is unavailable, and for recording: batches of BATCH_SAMPLES, never a message
 * per render quantum. Buffers travel by transfer and come back to their pool for reuse.
 */

/** Options the main thread gives the io processor at construction. */
export type IoProcessorOptions =
  | { transport: 'shared'; stats: SharedArrayBuffer; captureRing: SharedArrayBuffer; outputRing: SharedArrayBuffer }
  | { transport: 'transfer' };

/** Parameters the main thread sets on the worklet (shared mode writes the stats block instead). */
export interface WorkletParams {
  mix: number;
  masterGain: number;
  dryGain: number;
  dryDelaySamples: number;
  wetStartQuanta: number;
  recording: boolean;
  /** What a recording captures: a bitmask of RecordChannel bits. */
  recordChannels: number;
}

/** Recordable signals: the output mix, the wet (solo stem) before mixing, the raw mono input. */
export const RecordChannel = { mix: 0, wet: 1, input: 2 } as const;
/** One of RecordChannel's values. */
export type RecordChannelIndex = (typeof RecordChannel)[keyof typeof RecordChannel];

/** Main -> worklet. */
export type ToWorklet =
  | { type: 'params'; params: WorkletParams }
  /** The worker's audio port (transfer mode): captured batches go out on it, output batches come in. */
  | { type: 'audio-port'; port: MessagePort }
  /** A recording buffer returned to the worklet's pool. */
  | { type: 'record-return'; channel: RecordChannelIndex; buffer: Float32Array };

/** Worklet -> main. */
export type FromWorklet =
  /** A batch of the output mix while recording (`length` valid samples). */
  | { type: 'record'; channel: RecordChannelIndex; buffer: Float32Array; length: number }
  /** Transfer mode: a copy of the stats block, about every 70 ms. */
  | { type: 'stats'; stats: ArrayBuffer };

/** Worklet <-> worker on the audio port (transfer mode). */
export type AudioPortMessage =
  /** Captured input, worklet -> worker; `dropped` samples lost before it (pool empty). */
  | { type: 'capture'; buffer: Float32Array; length: number; dropped: number }
  /** Resynthesised output, worker -> worklet. */
  | { type: 'output'; buffer: Float32Array; length: number }
  /** A spent buffer returned to its sender's pool. */
  | { type: 'return'; buffer: Float32Array };
