/**
 * The audio graph on the main thread (standardized-audio-context): one AudioContext at the
 * device's own rate, the io worklet node, and the current source (microphone, file, demo).
 * Owns every node, track and element it creates and disconnects/stops them on change and dispose.
 */
import {
  AudioContext,
  AudioWorkletNode,
  type IAudioBufferSourceNode,
  type IAudioContext,
  type IAudioNode,
  type IAudioWorkletNode,
  type IMediaElementAudioSourceNode,
  type IMediaStreamAudioDestinationNode,
  type IMediaStreamAudioSourceNode,
} from 'standardized-audio-context';
import { RingBuffer } from 'ringbuf.js';
import ioWorkletUrl from '../worklet/io-processor.ts?worker&url';
import { FloatSlot, RING_CAPACITY_SAMPLES, Slot, STATS_BYTES, statsViews, type StatsViews } from '../shared/layout';
import { RecordChannel, type FromWorklet, type IoProcessorOptions, type RecordChannelIndex, type ToWorklet, type WorkletParams } from '../shared/messages';
import type { SourceKind, SourceRequest } from '../shared/api';
import { renderDemo } from '../dsp/demo';
import DemoWorker from './demo.worker.ts?worker';

/** What the graph reports to its owner. */
export interface GraphEvents {
  /** A user-facing problem with the source (permission, device gone, bad file). */
  onSourceProblem(text: string, offerDemo: boolean): void;
  /** The context changed state (suspended by autoplay rules or by the system). */
  onContextState(state: string): void;
}

/** Shared buffers of the isolated transport. */
export interface SharedBuffers {
  stats: SharedArrayBuffer;
  captureRing: SharedArrayBuffer;
  outputRing: SharedArrayBuffer;
}

type StorageFor = (capacity: number, type: typeof Float32Array) => SharedArrayBuffer;

/** Wraps a platform error from getUserMedia into what the user can do about it. */
export function describeMicError(err: unknown): string {
  const name = err instanceof Error ? err.name : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Microphone permission was denied. Allow it in the browser\'s site settings, or use the demo piece.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No audio input device was found. Plug in a microphone or line input, or use the demo piece.';
    case 'NotReadableError':
      return 'The audio input is busy or failed to start (another program may hold it).';
    default:
      return `The microphone could not be opened: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Describes a media element error for a named file. */
function describeMediaError(name: string, err: MediaError | null): string {
  const why = !err ? 'unknown error'
    : err.code === MediaError.MEDIA_ERR_SRC_NOT_SUPPORTED ? 'it is not an audio format this browser can decode'
      : err.code === MediaError.MEDIA_ERR_DECODE ? 'the file is corrupt (decoding failed)'
        : err.code === MediaError.MEDIA_ERR_NETWORK ? 'it could not be read'
          : 'playback was aborted';
  return `Cannot play "${name}": ${why}.`;
}

export class AudioGraph {
  readonly context: IAudioContext;
  readonly shared: SharedBuffers | null;
  readonly stats: StatsViews;
  private node: IAudioWorkletNode<IAudioContext> | null = null;
  private source: IAudioNode<IAudioContext> | null = null;
  private stream: MediaStream | null = null;
  private element: HTMLAudioElement | null = null;
  private sinkElement: HTMLAudioElement | null = null;
  private sinkDestination: IMediaStreamAudioDestinationNode<IAudioContext> | null = null;
  private demoBuffer: AudioBuffer | null = null;
  private recordChunks: Float32Array[][] = [[], [], []];
  private recordWanted = 0;
  private recordDone: ((chunks: Float32Array[][]) => void) | null = null;
  private recordWhich: RecordChannelIndex[] = [];
  private params: WorkletParams;
  kind: SourceKind | 'none' = 'none';
  sourceName = '';

  constructor(private readonly events: GraphEvents, isolated: boolean) {
    this.context = new AudioContext({ latencyHint: 'interactive' });
    this.context.onstatechange = () => this.events.onContextState(this.context.state);
    if (isolated) {
      const storage = (RingBuffer as unknown as { getStorageForCapacity: StorageFor }).getStorageForCapacity;
      this.shared = {
        stats: new SharedArrayBuffer(STATS_BYTES),
        captureRing: storage(RING_CAPACITY_SAMPLES, Float32Array),
        outputRing: storage(RING_CAPACITY_SAMPLES, Float32Array),
      };
      this.stats = statsViews(this.shared.stats);
    } else {
      this.shared = null;
      this.stats = statsViews(new ArrayBuffer(STATS_BYTES));
    }
    this.params = { mix: 0, masterGain: 0.8, dryGain: 1, dryDelaySamples: 0, wetStartQuanta: 0, recording: false, recordChannels: 1 };
  }

  /** Loads the worklet and creates the io node; the wet pre-roll is fixed from here on. */
  async start(wetStartQuanta: number): Promise<void> {
    await this.context.audioWorklet!.addModule(ioWorkletUrl);
    const processorOptions: IoProcessorOptions = this.shared
      ? { transport: 'shared', ...this.shared }
      : { transport: 'transfer' };
    this.params.wetStartQuanta = wetStartQuanta;
    this.pushParams();
    if (!AudioWorkletNode) throw new Error('This browser has no AudioWorklet.');
    this.node = new AudioWorkletNode(this.context, 'auralscope-io', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [2],
      channelCount: 2,
      channelCountMode: 'explicit',
      processorOptions,
    });
    this.node.port.onmessage = (e: MessageEvent<FromWorklet>) => this.onWorklet(e.data);
    this.pushParams();
    this.node.connect(this.context.destination);
  }

  /** Transfer mode: hands the worker's audio port to the worklet. */
  connectAudioPort(port: MessagePort): void {
    const msg: ToWorklet = { type: 'audio-port', port };
    this.node?.port.postMessage(msg, [port]);
  }

  private onWorklet(msg: FromWorklet): void {
    switch (msg.type) {
      case 'record': {
        if (this.recordDone) this.recordChunks[msg.channel].push(msg.buffer.slice(0, msg.length));
        const back: ToWorklet = { type: 'record-return', channel: msg.channel, buffer: msg.buffer };
        this.node?.port.postMessage(back, [msg.buffer.buffer]);
        const have = Math.min(...this.recordWhich.map((c) => this.recordChunks[c].reduce((n, x) => n + x.length, 0)));
        if (this.recordDone && have >= this.recordWanted) {
          this.setParams({ recording: false });
          const done = this.recordDone;
          this.recordDone = null;
          done(this.recordChunks);
          this.recordChunks = [[], [], []];
        }
        break;
      }
      case 'stats':
        this.stats.ints.set(new Int32Array(msg.stats, 0, this.stats.ints.length));
        this.stats.floats.set(new Float32Array(msg.stats, this.stats.ints.length * 4, this.stats.floats.length));
        break;
      default: {
        const never: never = msg;
        void never;
      }
    }
  }

  /** Sets worklet parameters (shared block when isolated, else a port message). */
  setParams(p: Partial<WorkletParams>): void {
    this.params = { ...this.params, ...p };
    this.pushParams();
  }

  /** Records the dry delay the worklet already applied (shared mode) without writing it again. */
  syncDryDelay(samples: number): void {
    this.params = { ...this.params, dryDelaySamples: samples };
  }

  get currentParams(): WorkletParams {
    return { ...this.params };
  }

  private pushParams(): void {
    const p = this.params;
    if (this.shared) {
      const { ints, floats } = this.stats;
      floats[FloatSlot.mix] = p.mix;
      floats[FloatSlot.masterGain] = p.masterGain;
      floats[FloatSlot.dryGain] = p.dryGain;
      Atomics.store(ints, Slot.dryDelaySamples, p.dryDelaySamples);
      Atomics.store(ints, Slot.wetStartQuanta, p.wetStartQuanta);
      Atomics.store(ints, Slot.recordChannels, p.recordChannels);
      Atomics.store(ints, Slot.recording, p.recording ? 1 : 0);
    } else if (this.node) {
      const msg: ToWorklet = { type: 'params', params: p };
      this.node.port.postMessage(msg);
    }
  }

  /**
   * Records `seconds` of the chosen signals (the output mix, the wet solo stem, the raw input), all on
   * the same render-quantum clock; resolves with one array per channel asked, at the context rate.
   */
  record(seconds: number, channels: RecordChannelIndex[] = [RecordChannel.mix]): Promise<Float32Array[]> {
    if (this.recordDone) return Promise.reject(new Error('a recording is already running'));
    const wanted = Math.round(seconds * this.context.sampleRate);
    this.recordWanted = wanted;
    this.recordChunks = [[], [], []];
    this.recordWhich = [...channels];
    return new Promise((resolve) => {
      this.recordDone = (chunks) => {
        resolve(channels.map((c) => {
          const out = new Float32Array(wanted);
          let o = 0;
          for (const x of chunks[c]) {
            const n = Math.min(x.length, wanted - o);
            out.set(x.subarray(0, n), o);
            o += n;
            if (o >= wanted) break;
          }
          return out;
        }));
      };
      this.setParams({ recording: true, recordChannels: channels.reduce<number>((m, c) => m | (1 << c), 0) });
    });
  }

  /** Replaces the current source. Throws (with a user-facing message) when the new one fails. */
  async setSource(req: SourceRequest): Promise<void> {
    this.sourceRequests++;
    switch (req.kind) {
      case 'mic':
        return this.useMic(req.deviceId);
      case 'file':
        if (!req.url) throw new Error('setSource: expected a url for a file source, got none');
        return this.useFile(req.url, req.name ?? decodeURIComponent(req.url.split('/').pop() ?? req.url));
      case 'demo':
        return this.useDemo();
      default: {
        const never: never = req.kind;
        throw new Error(`setSource: expected 'mic' | 'file' | 'demo', got ${String(never)}`);
      }
    }
  }

  private attach(node: IAudioNode<IAudioContext>, kind: SourceKind, name: string): void {
    this.releaseSource();
    node.connect(this.node!);
    this.source = node;
    this.kind = kind;
    this.sourceName = name;
    // A live microphone is not monitored by default (feedback through speakers).
    this.setParams({ dryGain: kind === 'mic' ? 0 : 1 });
  }

  private async useMic(deviceId?: string): Promise<void> {
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: {
          deviceId: deviceId ? { exact: deviceId } : undefined,
          echoCancellation: false,
          noiseSuppression: false,
          autoGainControl: false,
        },
      });
    } catch (err) {
      throw new Error(describeMicError(err));
    }
    const track = stream.getAudioTracks()[0];
    if (!track) {
      stream.getTracks().forEach((t) => t.stop());
      throw new Error('The input stream has no audio track. Choose another input, or use the demo piece.');
    }
    const node: IMediaStreamAudioSourceNode<IAudioContext> = this.context.createMediaStreamSource(stream);
    this.attach(node, 'mic', track.label || 'microphone');
    this.stream = stream;
    track.addEventListener('ended', () => this.onTrackEnded(stream));
  }

  private onTrackEnded(stream: MediaStream): void {
    if (this.stream !== stream) return;
    this.releaseSource();
    this.events.onSourceProblem('The audio input was disconnected (the device was unplugged or stopped). Input is silent now.', true);
  }

  private useFile(url: string, name: string): Promise<void> {
    const el = new Audio();
    el.crossOrigin = 'anonymous';
    el.loop = true;
    el.preload = 'auto';
    return new Promise<void>((resolve, reject) => {
      const fail = () => {
        el.removeAttribute('src');
        reject(new Error(describeMediaError(name, el.error)));
      };
      el.addEventListener('error', fail, { once: true });
      el.addEventListener('canplay', () => {
        el.removeEventListener('error', fail);
        // A media element streams and decodes in bounded memory, however long the file.
        const node: IMediaElementAudioSourceNode<IAudioContext> = this.context.createMediaElementSource(el);
        this.attach(node, 'file', name);
        this.element = el;
        el.addEventListener('error', () => this.events.onSourceProblem(describeMediaError(name, el.error), true));
        el.addEventListener('ended', () => {
          if (!el.loop && this.element === el) this.events.onSourceProblem(`"${name}" finished playing.`, false);
        });
        void el.play().then(resolve, (err: unknown) => reject(new Error(`Cannot play "${name}": ${String(err)}`)));
      }, { once: true });
      el.src = url;
    });
  }

  /** Counts setSource calls: a demo still being synthesised when another source is chosen is not attached. */
  private sourceRequests = 0;

  private async useDemo(): Promise<void> {
    const request = this.sourceRequests;
    if (!this.demoBuffer || this.demoBuffer.sampleRate !== this.context.sampleRate) {
      const samples = await renderDemoOffThread(this.context.sampleRate);
      const buf = this.context.createBuffer(1, samples.length, this.context.sampleRate);
      buf.copyToChannel(samples, 0);
      this.demoBuffer = buf as unknown as AudioBuffer;
    }
    if (request !== this.sourceRequests) return; // another source was chosen while the demo rendered
    const src: IAudioBufferSourceNode<IAudioContext> = this.context.createBufferSource();
    src.buffer = this.demoBuffer as never;
    src.loop = true;
    src.start();
    this.attach(src, 'demo', 'demo piece');
  }

  /** The file source's media element (play/pause/seek/loop), or null. */
  get media(): HTMLAudioElement | null {
    return this.element;
  }

  /** Makes the current source end for real, as an unplugged device would. */
  endSourceForReal(): void {
    if (this.stream) {
      const stream = this.stream;
      const track = stream.getAudioTracks()[0];
      track?.stop();
      // track.stop() does not fire 'ended' (only the user agent does); report it the same way.
      this.onTrackEnded(stream);
    } else if (this.source) {
      this.releaseSource();
      this.events.onSourceProblem('The source ended. Input is silent now.', true);
    }
  }

  private releaseSource(): void {
    if (this.source) {
      try {
        if ('stop' in this.source && typeof (this.source as IAudioBufferSourceNode<IAudioContext>).stop === 'function') {
          (this.source as IAudioBufferSourceNode<IAudioContext>).stop();
        }
      } catch {
        // already stopped
      }
      this.source.disconnect();
      this.source = null;
    }
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
    if (this.element) {
      this.element.pause();
      this.element.removeAttribute('src');
      this.element.load();
      this.element = null;
    }
    this.kind = 'none';
    this.sourceName = '';
  }

  /** Routes the output to a chosen device: through an audio element's setSinkId ('' = default). */
  async setSink(deviceId: string): Promise<void> {
    if (!this.node) return;
    this.node.disconnect();
    this.sinkElement?.pause();
    this.sinkElement = null;
    this.sinkDestination = null;
    if (!deviceId) {
      this.node.connect(this.context.destination);
      return;
    }
    // standardized-audio-context does not expose AudioContext.setSinkId; a media element does.
    const dest = this.context.createMediaStreamDestination();
    this.node.connect(dest);
    const el = new Audio();
    el.srcObject = dest.stream;
    await (el as HTMLAudioElement & { setSinkId(id: string): Promise<void> }).setSinkId(deviceId);
    await el.play();
    this.sinkElement = el;
    this.sinkDestination = dest;
  }

  async dispose(): Promise<void> {
    this.releaseSource();
    this.node?.disconnect();
    this.sinkElement?.pause();
    await this.context.close();
  }
}

/**
 * The demo piece rendered in a worker, so the page keeps drawing while it is synthesised (1-2.5 s
 * at 48 kHz on a 2-core machine); on the main thread only where a worker cannot start.
 */
function renderDemoOffThread(sampleRateHz: number): Promise<Float32Array> {
  let worker: Worker;
  try {
    worker = new DemoWorker();
  } catch {
    return Promise.resolve(renderDemo(sampleRateHz));
  }
  return new Promise((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<Float32Array>) => {
      worker.terminate();
      resolve(e.data);
    };
    worker.onerror = (e) => {
      worker.terminate();
      reject(new Error(`The demo piece could not be synthesised: ${e.message || 'worker error'}`));
    };
    worker.postMessage({ sampleRateHz });
  });
}
