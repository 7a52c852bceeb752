/**
 * The audio thread's only processor: input -> capture ring, output ring -> mix -> output.
 *
 * One node does both capture and playback (DESIGN.md draws two) so that the dry delay line and the
 * wet read position run on the same render-quantum clock: wet sample p is played exactly
 * wetStartQuanta * 128 + p samples after the stream began, whatever the worker's timing, which is
 * what makes dry/wet alignment a constant.
 *
 * process() copies and counts: it never allocates, awaits, throws, logs or posts per quantum.
 * In transfer mode (no cross-origin isolation) it posts one batch per BATCH_SAMPLES from a
 * preallocated pool instead of writing a ring.
 */
import { RingBuffer } from 'ringbuf.js';
import { BATCH_POOL_SIZE, BATCH_SAMPLES, FloatSlot, QUANTUM_FRAMES, Slot, STATS_BYTES, WAKE_STRIDE_SAMPLES, statsViews } from '../shared/layout';
import { RecordChannel, type AudioPortMessage, type FromWorklet, type IoProcessorOptions, type ToWorklet } from '../shared/messages';

/** Dry delay line length: 2^19 samples (5.4 s at 96 kHz), longer than any solo latency. */
const DELAY_CAPACITY = 1 << 19;
/** Samples over which a change of the dry delay crossfades (about 21 ms at 48 kHz). */
const DRY_FADE_SAMPLES = 1024;
/** Output limiter threshold (-0.2 dBFS): the output never exceeds it. */
const LIMIT = 0.977;
/** Quanta per meter period (about 43 ms at 48 kHz). */
const METER_QUANTA = 16;
/** Quanta between stats messages in transfer mode (about 70 ms at 48 kHz). */
const STATS_POST_QUANTA = 26;

type RingCtor = new (sab: SharedArrayBuffer, type: typeof Float32Array) => RingBuffer;

/** A pool of transferable batches posted on a port; allocation only at construction. */
class BatchSender {
  private readonly pool: Float32Array[] = [];
  private current: Float32Array | null = null;
  private fill = 0;
  dropped = 0;
  /** `post` returns false when nothing can take the batch yet (no port): its samples count as dropped. */
  constructor(private readonly post: (buffer: Float32Array, length: number, dropped: number) => boolean) {
    for (let i = 0; i < BATCH_POOL_SIZE; i++) this.pool.push(new Float32Array(BATCH_SAMPLES));
  }
  giveBack(buffer: Float32Array): void {
    if (buffer.length === BATCH_SAMPLES) this.pool.push(buffer);
  }
  push(samples: Float32Array): void {
    if (!this.current) {
      const next = this.pool.pop();
      if (!next) {
        this.dropped += samples.length;
        return;
      }
      this.current = next;
      this.fill = 0;
    }
    this.current.set(samples, this.fill);
    this.fill += samples.length;
    if (this.fill >= BATCH_SAMPLES) this.flush();
  }
  flush(): void {
    if (!this.current || this.fill === 0) return;
    if (this.post(this.current, this.fill, this.dropped)) {
      this.dropped = 0;
      this.current = null;
    } else {
      this.dropped += this.fill;
    }
    this.fill = 0;
  }
}

class IoProcessor extends AudioWorkletProcessor {
  private readonly ints: Int32Array;
  private readonly floats: Float32Array;
  private readonly sharedStats: boolean;
  private readonly captureRing: RingBuffer | null = null;
  private readonly outputRing: RingBuffer | null = null;
  private readonly mono = new Float32Array(QUANTUM_FRAMES);
  private readonly wet = new Float32Array(QUANTUM_FRAMES);
  private readonly mixed = new Float32Array(QUANTUM_FRAMES);
  private readonly scratch = new Float32Array(QUANTUM_FRAMES);
  private readonly delay = new Float32Array(DELAY_CAPACITY);
  private delayWrite = 0;
  private dryFrom = 0;
  private dryTo = 0;
  private dryFadeLeft = 0;
  private appliedWetDelaySeq = 0;
  private quantaSeen = 0;
  private limiterGain = 1;
  private readonly limiterRelease = 1 / (0.05 * sampleRate);
  private meterPeak = 0;
  private meterSumSq = 0;
  private meterOutPeak = 0;
  private meterWetPeak = 0;
  private meterCount = 0;
  private statsCountdown = STATS_POST_QUANTA;
  // Transfer mode state.
  private audioPort: MessagePort | null = null;
  private captureSender: BatchSender | null = null;
  private readonly outputQueue: Float32Array[] = [];
  private readonly outputLengths: number[] = [];
  private outputOffset = 0;
  private recording = false;
  /** One sender per RecordChannel (mix, wet, input). */
  private readonly recordSenders: BatchSender[];

  constructor(options: { processorOptions?: unknown }) {
    super(options);
    const opts = options.processorOptions as IoProcessorOptions;
    if (opts.transport === 'shared') {
      const Ring = RingBuffer as unknown as RingCtor;
      this.captureRing = new Ring(opts.captureRing, Float32Array);
      this.outputRing = new Ring(opts.outputRing, Float32Array);
      ({ ints: this.ints, floats: this.floats } = statsViews(opts.stats));
      this.sharedStats = true;
    } else {
      ({ ints: this.ints, floats: this.floats } = statsViews(new ArrayBuffer(STATS_BYTES)));
      this.floats[FloatSlot.masterGain] = 1;
      this.sharedStats = false;
      this.captureSender = new BatchSender((buffer, length, dropped) => {
        if (!this.audioPort) return false;
        const msg: AudioPortMessage = { type: 'capture', buffer, length, dropped };
        this.audioPort.postMessage(msg, [buffer.buffer]);
        return true;
      });
    }
    this.recordSenders = [RecordChannel.mix, RecordChannel.wet, RecordChannel.input].map((channel) => new BatchSender((buffer, length) => {
      const msg: FromWorklet = { type: 'record', channel, buffer, length };
      this.port.postMessage(msg, [buffer.buffer]);
      return true;
    }));
    this.port.onmessage = (e: MessageEvent<ToWorklet>) => this.onControl(e.data);
  }

  private onControl(msg: ToWorklet): void {
    switch (msg.type) {
      case 'params': {
        const p = msg.params;
        this.floats[FloatSlot.mix] = p.mix;
        this.floats[FloatSlot.masterGain] = p.masterGain;
        this.floats[FloatSlot.dryGain] = p.dryGain;
        this.ints[Slot.dryDelaySamples] = p.dryDelaySamples;
        this.ints[Slot.wetStartQuanta] = p.wetStartQuanta;
        this.ints[Slot.recording] = p.recording ? 1 : 0;
        this.ints[Slot.recordChannels] = p.recordChannels;
        break;
      }
      case 'audio-port':
        this.audioPort = msg.port;
        this.audioPort.onmessage = (e: MessageEvent<AudioPortMessage>) => this.onAudio(e.data);
        break;
      case 'record-return':
        this.recordSenders[msg.channel]?.giveBack(msg.buffer);
        break;
      default: {
        const never: never = msg;
        void never;
      }
    }
  }

  private onAudio(msg: AudioPortMessage): void {
    switch (msg.type) {
      case 'output':
        this.outputQueue.push(msg.buffer);
        this.outputLengths.push(msg.length);
        break;
      case 'return':
        this.captureSender?.giveBack(msg.buffer);
        break;
      case 'capture':
        break;
      default: {
        const never: never = msg;
        void never;
      }
    }
  }

  /** Transfer mode: reads up to n queued output samples into `out`; returns how many. */
  private readQueued(out: Float32Array, n: number): number {
    let got = 0;
    while (got < n && this.outputQueue.length > 0) {
      const buf = this.outputQueue[0];
      const len = this.outputLengths[0];
      const take = Math.min(n - got, len - this.outputOffset);
      out.set(buf.subarray(this.outputOffset, this.outputOffset + take), got);
      got += take;
      this.outputOffset += take;
      if (this.outputOffset >= len) {
        this.outputQueue.shift();
        this.outputLengths.shift();
        this.outputOffset = 0;
        const msg: AudioPortMessage = { type: 'return', buffer: buf };
        this.audioPort?.postMessage(msg, [buf.buffer]);
      }
    }
    return got;
  }

  private readWet(): void {
    const ints = this.ints;
    const wet = this.wet;
    wet.fill(0);
    if (ints[Slot.quanta] < ints[Slot.wetStartQuanta]) return;
    // After an underrun, the missing samples are discarded when they arrive so that wet sample p
    // always plays at the same time: alignment survives a late worker.
    let skip = ints[Slot.wetSkipPending];
    let got = 0;
    if (this.outputRing) {
      while (skip > 0) {
        const n = this.outputRing.pop(this.scratch, Math.min(skip, QUANTUM_FRAMES));
        if (n === 0) break;
        skip -= n;
      }
      if (skip === 0) got = this.outputRing.pop(wet, QUANTUM_FRAMES);
    } else {
      while (skip > 0) {
        const n = this.readQueued(this.scratch, Math.min(skip, QUANTUM_FRAMES));
        if (n === 0) break;
        skip -= n;
      }
      if (skip === 0) got = this.readQueued(wet, QUANTUM_FRAMES);
    }
    if (got < QUANTUM_FRAMES) {
      for (let i = got; i < QUANTUM_FRAMES; i++) wet[i] = 0;
      skip += QUANTUM_FRAMES - got;
      ints[Slot.playbackUnderruns]++;
    }
    ints[Slot.wetSkipPending] = skip;
    Atomics.add(ints, Slot.playbackSamples, QUANTUM_FRAMES);
  }

  process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const ints = this.ints;
    const floats = this.floats;
    const mono = this.mono;
    // Mono downmix of whatever is connected (nothing connected: silence).
    const input = inputs[0];
    mono.fill(0);
    if (input && input.length > 0) {
      const g = 1 / input.length;
      for (let c = 0; c < input.length; c++) {
        const ch = input[c];
        for (let i = 0; i < QUANTUM_FRAMES; i++) mono[i] += ch[i] * g;
      }
    }
    // Capture.
    if (this.captureRing) {
      if (this.captureRing.available_write() >= QUANTUM_FRAMES) {
        this.captureRing.push(mono, QUANTUM_FRAMES);
      } else {
        ints[Slot.captureOverruns]++;
        Atomics.add(ints, Slot.captureDroppedSamples, QUANTUM_FRAMES);
      }
    } else {
      this.captureSender?.push(mono);
    }
    const before = ints[Slot.captureSamples];
    const after = (before + QUANTUM_FRAMES) | 0;
    Atomics.store(ints, Slot.captureSamples, after);
    if (((before / WAKE_STRIDE_SAMPLES) | 0) !== ((after / WAKE_STRIDE_SAMPLES) | 0)) {
      Atomics.notify(ints, Slot.captureSamples);
    }
    // Dry delay line.
    const delay = this.delay;
    const mask = DELAY_CAPACITY - 1;
    let w = this.delayWrite;
    for (let i = 0; i < QUANTUM_FRAMES; i++) delay[(w + i) & mask] = mono[i];
    // A wet delay change scheduled by the worker takes effect when the wet stream reaches it.
    const seq = ints[Slot.wetDelaySeq];
    if (seq !== this.appliedWetDelaySeq && ((ints[Slot.playbackSamples] - ints[Slot.wetDelayAt]) | 0) >= 0) {
      this.appliedWetDelaySeq = seq;
      ints[Slot.dryDelaySamples] = ints[Slot.wetStartQuanta] * QUANTUM_FRAMES + ints[Slot.wetDelayNext];
    }
    const dryTarget = Math.min(Math.max(ints[Slot.dryDelaySamples], 0), DELAY_CAPACITY - QUANTUM_FRAMES);
    if (dryTarget !== this.dryTo) {
      this.dryFrom = this.dryTo; // a change during a fade restarts it from the latest target
      this.dryTo = dryTarget;
      this.dryFadeLeft = this.quantaSeen === 0 ? 0 : DRY_FADE_SAMPLES;
    }
    // Wet.
    this.readWet();
    const mix = floats[FloatSlot.mix];
    const master = floats[FloatSlot.masterGain];
    const dryAmount = (1 - mix) * floats[FloatSlot.dryGain];
    const wet = this.wet;
    const out = this.mixed;
    let peak = this.meterPeak, sumSq = this.meterSumSq, outPeak = this.meterOutPeak, wetPeak = this.meterWetPeak;
    let lg = this.limiterGain;
    const release = this.limiterRelease;
    for (let i = 0; i < QUANTUM_FRAMES; i++) {
      let dry = delay[(w + i - this.dryTo) & mask];
      if (this.dryFadeLeft > 0) {
        const g = this.dryFadeLeft / DRY_FADE_SAMPLES;
        dry = g * delay[(w + i - this.dryFrom) & mask] + (1 - g) * dry;
        this.dryFadeLeft--;
      }
      let y = master * (dryAmount * dry + mix * wet[i]);
      if (!(y === y) || y === Infinity || y === -Infinity) y = 0; // never pass NaN or Inf on
      // Limiter: instant attack, 50 ms release; |y| never exceeds LIMIT.
      const ay = Math.abs(y);
      const want = ay > LIMIT ? LIMIT / ay : 1;
      if (want < lg) lg = want;
      else lg += (1 - lg) * release;
      if (lg < 1) ints[Slot.limiterActiveSamples]++;
      y *= lg;
      if (y > LIMIT) y = LIMIT;
      else if (y < -LIMIT) y = -LIMIT;
      out[i] = y;
      const a = Math.abs(mono[i]);
      if (a > peak) peak = a;
      sumSq += mono[i] * mono[i];
      const b = Math.abs(y);
      if (b > outPeak) outPeak = b;
      const c = Math.abs(wet[i]);
      if (c > wetPeak) wetPeak = c;
    }
    this.limiterGain = lg;
    w = (w + QUANTUM_FRAMES) & mask;
    this.delayWrite = w;
    this.quantaSeen++;
    const output = outputs[0];
    if (output) for (let c = 0; c < output.length; c++) output[c].set(out);
    // Recording: batches of the output mix, posted from the pool.
    const recording = ints[Slot.recording] === 1;
    if (recording) {
      const channels = ints[Slot.recordChannels];
      if (channels & (1 << RecordChannel.mix)) this.recordSenders[RecordChannel.mix].push(out);
      if (channels & (1 << RecordChannel.wet)) this.recordSenders[RecordChannel.wet].push(wet);
      if (channels & (1 << RecordChannel.input)) this.recordSenders[RecordChannel.input].push(mono);
    } else if (this.recording) {
      for (const r of this.recordSenders) r.flush();
    }
    this.recording = recording;
    // Meters.
    if (++this.meterCount >= METER_QUANTA) {
      floats[FloatSlot.inputPeak] = peak;
      floats[FloatSlot.inputRms] = Math.sqrt(sumSq / (METER_QUANTA * QUANTUM_FRAMES));
      floats[FloatSlot.outputPeak] = outPeak;
      floats[FloatSlot.wetPeak] = wetPeak;
      peak = sumSq = outPeak = wetPeak = 0;
      this.meterCount = 0;
    }
    this.meterPeak = peak;
    this.meterSumSq = sumSq;
    this.meterOutPeak = outPeak;
    this.meterWetPeak = wetPeak;
    ints[Slot.quanta]++;
    if (!this.sharedStats && --this.statsCountdown <= 0) {
      // Transfer mode only: the main thread cannot see our stats otherwise (allocates one copy).
      this.statsCountdown = STATS_POST_QUANTA;
      const msg: FromWorklet = { type: 'stats', stats: this.ints.buffer.slice(0) as ArrayBuffer };
      this.port.postMessage(msg);
    }
    return true;
  }
}

registerProcessor('auralscope-io', IoProcessor);
