// Band-limited streaming sample-rate conversion (mono Float32) over libsamplerate (wasm, SRC_SINC_BEST_QUALITY).
//
// Why this converter (measured by test/unit/dsp-resample.test.ts, node 20):
// - the wasm is embedded in the JS bundle (no .wasm file, no fetch) and compiles synchronously, which a worker allows;
// - stop band: a sine above the target Nyquist (1.01x..3x) comes out >= 145 dB down for 48/44.1 kHz -> 11,025 Hz;
// - passband: sine SNR >= 130 dB up to 0.45 x the lower rate (SRC_SINC_MEDIUM_QUALITY falls to 13 dB at 0.45,
//   its 90 % bandwidth edge, so BEST is the only libsamplerate converter that meets the spec);
// - group delay 0: output sample k is the input signal at time k / outRateHz (impulse peak within 0.1 sample),
//   and chunking does not change a single output sample. The converter holds back about half its filter
//   (~13 ms) until more input arrives, so early calls return fewer samples: that is buffering, not delay.
import * as libsamplerateNs from '@alexanderolsen/libsamplerate-js';

type LibSampleRate = typeof libsamplerateNs;
type Converter = Awaited<ReturnType<LibSampleRate['create']>>;

// The package is a UMD/CommonJS bundle: bundlers expose named exports, node's ESM loader only `default`.
const libsamplerate: LibSampleRate =
  typeof libsamplerateNs.create === 'function'
    ? libsamplerateNs
    : (libsamplerateNs as unknown as { default: LibSampleRate }).default;

/** Streaming mono resampler with a constant, known group delay; one instance per stream. */
export class StreamResampler {
  /** Group delay in output samples: output sample k is the input signal at time (k - latencySamples) / outRateHz. */
  readonly latencySamples = 0;
  /** Input sample rate in Hz. */
  readonly inRateHz: number;
  /** Output sample rate in Hz. */
  readonly outRateHz: number;
  private converter: Converter | null;
  private disposed = false;

  private constructor(inRateHz: number, outRateHz: number, converter: Converter | null) {
    this.inRateHz = inRateHz;
    this.outRateHz = outRateHz;
    this.converter = converter;
  }

  /** Creates a converter from inRateHz to outRateHz (each an integer in 1..192,000 Hz); equal rates copy through. */
  static async create(inRateHz: number, outRateHz: number): Promise<StreamResampler> {
    for (const [name, rate] of [['inRateHz', inRateHz], ['outRateHz', outRateHz]] as const) {
      if (!Number.isInteger(rate) || rate < 1 || rate > 192_000) {
        throw new Error(`expected ${name} to be an integer in 1..192000, got ${rate}`);
      }
    }
    const converter =
      inRateHz === outRateHz
        ? null
        : await libsamplerate.create(1, inRateHz, outRateHz, {
            converterType: libsamplerate.ConverterType.SRC_SINC_BEST_QUALITY,
          });
    return new StreamResampler(inRateHz, outRateHz, converter);
  }

  /** Converts the next chunk (any length) and returns the output it completes. Allocates the returned array. */
  process(input: Float32Array): Float32Array {
    if (this.converter === null) {
      if (this.disposed) throw new Error('expected a live StreamResampler, got one already disposed');
      return Float32Array.from(input);
    }
    if (input.length === 0) return new Float32Array(0);
    return this.converter.full(input);
  }

  /** Forgets all buffered input; the next sample is the start of a new stream. */
  reset(): void {
    if (this.converter !== null) {
      // The converterType setter re-initialises libsamplerate's state (the wrapper has no src_reset).
      this.converter.converterType = libsamplerate.ConverterType.SRC_SINC_BEST_QUALITY;
    }
  }

  /** Frees the wasm converter; the instance is unusable afterwards. */
  dispose(): void {
    this.disposed = true;
    if (this.converter !== null) {
      this.converter.destroy();
      this.converter = null;
    }
  }
}
