/**
 * Owns the analysis worker: creates it, wires its transport, reads its frames, and restarts it
 * when it dies (an error event, or no published hop for WATCHDOG_MS while audio runs).
 */
import { wrap, releaseProxy, transfer, type Remote } from 'comlink';
import EngineWorker from '../worker/engine.worker.ts?worker';
import type { EngineApi, EngineConfig, EngineInfo, EngineStats } from '../shared/api';
import { createMailbox, MailboxReader, unpackFrame, type EngineFrame } from '../shared/frame';
import { Slot } from '../shared/layout';
import type { AudioGraph } from './audio-graph';

/** Mailbox capacity in float32 values: a 2048 x 257 spectrogram plus analysis sections. */
const MAILBOX_CAPACITY = 1 << 21;
/** A worker that publishes nothing for this long while audio runs is restarted. */
const WATCHDOG_MS = 3000;

export interface EngineEvents {
  onRestart(reason: string): void;
  onReady(info: EngineInfo): void;
}

export class EngineClient {
  private worker: Worker | null = null;
  private api: Remote<EngineApi> | null = null;
  private mailbox: SharedArrayBuffer | null = null;
  private reader: MailboxReader | null = null;
  private latestTransferred: Float32Array | null = null;
  private transferSeq = 0;
  private lastStats: EngineStats | null = null;
  private lastHopCount = -1;
  private lastHopChangeMs = 0;
  private restarting = false;
  private disposed = false;
  info: EngineInfo | null = null;
  generation = 0;

  constructor(private readonly graph: AudioGraph, private readonly config: EngineConfig, private readonly events: EngineEvents) {
    if (graph.shared) {
      this.mailbox = createMailbox(MAILBOX_CAPACITY);
      this.reader = new MailboxReader(this.mailbox);
    }
  }

  /** Starts (or restarts) the worker and waits for its init. */
  async start(): Promise<EngineInfo> {
    this.stopWorker();
    const worker = new EngineWorker();
    this.worker = worker;
    this.generation++;
    worker.addEventListener('error', (e) => {
      e.preventDefault();
      void this.restart(`the analysis worker crashed (${e.message || 'error'})`);
    });
    const api = wrap<EngineApi>(worker);
    this.api = api;
    let info: EngineInfo;
    if (this.graph.shared && this.mailbox) {
      info = await api.init(this.config, { kind: 'shared', ...this.graph.shared, mailbox: this.mailbox });
    } else {
      const audio = new MessageChannel();
      const frames = new MessageChannel();
      frames.port1.onmessage = (e: MessageEvent<Float32Array>) => {
        this.latestTransferred = e.data;
        this.transferSeq++;
      };
      this.graph.connectAudioPort(audio.port1);
      info = await api.init(this.config, transfer({ kind: 'transfer', audioPort: audio.port2, framePort: frames.port2 }, [audio.port2, frames.port2]));
    }
    this.info = info;
    this.lastHopChangeMs = performance.now();
    this.events.onReady(info);
    return info;
  }

  private stopWorker(): void {
    if (this.api) this.api[releaseProxy]();
    this.worker?.terminate();
    this.worker = null;
    this.api = null;
  }

  /** Replaces a dead or stuck worker. */
  async restart(reason: string): Promise<void> {
    if (this.restarting || this.disposed) return;
    this.restarting = true;
    this.events.onRestart(reason);
    try {
      await this.start();
    } finally {
      this.restarting = false;
    }
  }

  /** The newest frame since the last call, or null (read once per animation frame). */
  readFrame(): EngineFrame | null {
    if (this.reader) return this.reader.read();
    const p = this.latestTransferred;
    if (!p) return null;
    this.latestTransferred = null;
    return unpackFrame(p, this.transferSeq);
  }

  /** Polls the worker's stats and runs the watchdog; call a few times per second. */
  async poll(audioRunning: boolean): Promise<EngineStats | null> {
    const api = this.api;
    if (!api || this.restarting) return this.lastStats;
    const hops = this.graph.shared ? Atomics.load(this.graph.stats.ints, Slot.hopsAnalysed) : (this.lastStats?.hopsAnalysed ?? 0) + this.transferSeq;
    const now = performance.now();
    if (hops !== this.lastHopCount) {
      this.lastHopCount = hops;
      this.lastHopChangeMs = now;
    } else if (audioRunning && now - this.lastHopChangeMs > WATCHDOG_MS) {
      void this.restart('the analysis worker stopped responding');
      return this.lastStats;
    }
    try {
      this.lastStats = await Promise.race([
        api.stats(),
        new Promise<null>((res) => setTimeout(() => res(null), 1000)),
      ]) ?? this.lastStats;
    } catch {
      // The worker is gone; the error event or the watchdog restarts it.
    }
    return this.lastStats;
  }

  /** Debug: asks the worker to crash for real. */
  async crash(): Promise<void> {
    await this.api?.crash();
  }

  dispose(): void {
    this.disposed = true;
    void this.api?.dispose();
    this.stopWorker();
  }
}
