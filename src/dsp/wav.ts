// WAV encode/decode over the wavefile package, as planar Float32 channels in [-1, 1).
import * as wavefileNs from 'wavefile';

// wavefile ships an ES module (bundlers) and a CommonJS build (node), whose namespace has only `default`.
const WaveFile: typeof wavefileNs.WaveFile =
  wavefileNs.WaveFile ?? (wavefileNs as unknown as { default: typeof wavefileNs }).default.WaveFile;

/** Sample format written by encodeWav: 16-bit integer PCM or 32-bit IEEE float. */
export type WavFormat = 'pcm16' | 'float32';

/** Encodes planar channels (equal lengths) as a RIFF/WAVE file; pcm16 clips to [-1, 1) and rounds. */
export function encodeWav(channels: Float32Array[], sampleRateHz: number, format: WavFormat): Uint8Array {
  if (channels.length < 1) throw new Error('expected at least one channel, got 0');
  const frames = channels[0].length;
  for (const c of channels) {
    if (c.length !== frames) throw new Error(`expected channels of equal length ${frames}, got ${c.length}`);
  }
  if (!Number.isInteger(sampleRateHz) || sampleRateHz < 1) {
    throw new Error(`expected an integer sample rate >= 1 Hz, got ${sampleRateHz}`);
  }
  let samples: Float64Array[];
  let bitDepthCode: string;
  switch (format) {
    case 'pcm16':
      bitDepthCode = '16';
      samples = channels.map((c) => {
        const s = new Float64Array(c.length);
        for (let i = 0; i < c.length; i++) s[i] = Math.max(-32768, Math.min(32767, Math.round(c[i] * 32768)));
        return s;
      });
      break;
    case 'float32':
      bitDepthCode = '32f';
      samples = channels.map((c) => Float64Array.from(c));
      break;
    default: {
      const never: never = format;
      throw new Error(`expected format 'pcm16' or 'float32', got ${String(never)}`);
    }
  }
  const wav = new WaveFile();
  wav.fromScratch(channels.length, sampleRateHz, bitDepthCode, samples);
  return wav.toBuffer();
}

/** Full-scale divisor for integer PCM codes; 8-bit PCM is unsigned with its zero at 128. */
const PCM_SCALE: Record<string, number> = { '8': 128, '16': 32768, '24': 8388608, '32': 2147483648 };

/** Decodes 8/16/24/32-bit PCM or 32/64-bit float WAV (any channel count) into planar Float32 channels. */
export function decodeWav(bytes: Uint8Array): { sampleRateHz: number; channels: Float32Array[] } {
  const tag = (offset: number): string => String.fromCharCode(...bytes.subarray(offset, offset + 4));
  if (bytes.length < 12 || !['RIFF', 'RIFX', 'RF64'].includes(tag(0)) || tag(8) !== 'WAVE') {
    const head = Array.from(bytes.subarray(0, 12), (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    throw new Error(`expected a RIFF/WAVE file, got ${bytes.length} bytes starting "${head}"`);
  }
  const wav = new WaveFile();
  wav.fromBuffer(bytes);
  const fmt = wav.fmt as { numChannels: number; sampleRate: number };
  const code = wav.bitDepth;
  const isFloat = code === '32f' || code === '64';
  if (!isFloat && !(code in PCM_SCALE)) {
    throw new Error(`expected 8/16/24/32-bit PCM or 32/64-bit float samples, got bit depth code "${code}"`);
  }
  const raw = wav.getSamples(false, Float64Array) as unknown as Float64Array | Float64Array[];
  const planar = fmt.numChannels === 1 ? [raw as Float64Array] : (raw as Float64Array[]);
  const channels = planar.map((c) => {
    const out = new Float32Array(c.length);
    if (isFloat) out.set(c);
    else if (code === '8') for (let i = 0; i < c.length; i++) out[i] = (c[i] - 128) / 128;
    else {
      const scale = PCM_SCALE[code];
      for (let i = 0; i < c.length; i++) out[i] = c[i] / scale;
    }
    return out;
  });
  return { sampleRateHz: fmt.sampleRate, channels };
}
