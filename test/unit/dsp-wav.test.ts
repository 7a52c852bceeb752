import * as wavefileNs from 'wavefile';
import { describe, expect, it } from 'vitest';
import { decodeWav, encodeWav } from '../../src/dsp/wav';

const WaveFile: typeof wavefileNs.WaveFile =
  wavefileNs.WaveFile ?? (wavefileNs as unknown as { default: typeof wavefileNs }).default.WaveFile;

function channelsOf(count: number, frames: number): Float32Array[] {
  return Array.from({ length: count }, (_, c) => {
    const x = new Float32Array(frames);
    for (let i = 0; i < frames; i++) x[i] = 0.9 * Math.sin(0.01 * (c + 1) * i + c) * Math.cos(0.0007 * i);
    return x;
  });
}

describe('encodeWav / decodeWav round trips', () => {
  it.each([1, 2, 5])('float32, %i channel(s): bit exact', (count) => {
    const ch = channelsOf(count, 1234);
    const back = decodeWav(encodeWav(ch, 11_025, 'float32'));
    expect(back.sampleRateHz).toBe(11_025);
    expect(back.channels).toEqual(ch);
  });

  it.each([1, 2, 3])('pcm16, %i channel(s): within half an LSB, clipped at full scale', (count) => {
    const ch = channelsOf(count, 999);
    ch[0][0] = 1.5;
    ch[0][1] = -1.5;
    const back = decodeWav(encodeWav(ch, 48_000, 'pcm16'));
    expect(back.sampleRateHz).toBe(48_000);
    expect(back.channels.length).toBe(count);
    expect(back.channels[0][0]).toBe(32767 / 32768);
    expect(back.channels[0][1]).toBe(-1);
    for (let c = 0; c < count; c++) {
      expect(back.channels[c].length).toBe(999);
      for (let i = 2; i < 999; i++) expect(Math.abs(back.channels[c][i] - ch[c][i])).toBeLessThanOrEqual(0.5 / 32768 + 1e-9);
    }
  });

  it('writes a header a reader can check byte by byte (pcm16 mono 8 kHz)', () => {
    const bytes = encodeWav([new Float32Array([0.5, -0.5])], 8000, 'pcm16');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('RIFF');
    expect(String.fromCharCode(...bytes.subarray(8, 12))).toBe('WAVE');
    expect(view.getUint16(20, true)).toBe(1); // PCM
    expect(view.getUint16(22, true)).toBe(1); // channels
    expect(view.getUint32(24, true)).toBe(8000);
    expect(view.getUint16(34, true)).toBe(16);
    expect(view.getInt16(44, true)).toBe(16384);
    expect(view.getInt16(46, true)).toBe(-16384);
  });
});

describe('decodeWav of files written by wavefile directly', () => {
  it.each([
    ['8', [0, 64, 128, 255], [-1, -0.5, 0, 127 / 128]],
    ['16', [-32768, -16384, 0, 32767], [-1, -0.5, 0, 32767 / 32768]],
    ['24', [-8388608, 4194304, 0, 8388607], [-1, 0.5, 0, 8388607 / 8388608]],
    ['32', [-2147483648, 1073741824, 0, 2147483647], [-1, 0.5, 0, 2147483647 / 2147483648]],
    ['32f', [-1, 0.25, 0, 0.75], [-1, 0.25, 0, 0.75]],
    ['64', [-1, 0.125, 1e-9, 0.75], [-1, 0.125, Math.fround(1e-9), 0.75]],
  ])('bit depth %s, stereo', (code, raw, expected) => {
    const w = new WaveFile();
    w.fromScratch(2, 22_050, code, [raw, raw.slice().reverse()]);
    const { sampleRateHz, channels } = decodeWav(w.toBuffer());
    expect(sampleRateHz).toBe(22_050);
    expect(channels.length).toBe(2);
    for (let i = 0; i < raw.length; i++) {
      expect(channels[0][i]).toBeCloseTo(expected[i], 7);
      expect(channels[1][i]).toBeCloseTo(expected[raw.length - 1 - i], 7);
    }
  });
});

describe('decodeWav rejects what is not a WAV file', () => {
  it.each([
    ['empty', new Uint8Array(0)],
    ['text', new TextEncoder().encode('hello, this is not audio at all')],
    ['a RIFF that is not WAVE', new TextEncoder().encode('RIFF\x04\x00\x00\x00AVI LIST')],
    ['an MP3 frame', new Uint8Array([0xff, 0xfb, 0x90, 0x64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])],
  ])('%s', (_name, bytes) => {
    expect(() => decodeWav(bytes)).toThrow(/^expected a RIFF\/WAVE file, got /);
  });

  it('rejects unknown sample formats with the bit depth it found', () => {
    const w = new WaveFile();
    w.fromScratch(1, 8000, '16', [1, 2, 3]);
    w.toMuLaw();
    expect(() => decodeWav(w.toBuffer())).toThrow(/expected 8\/16\/24\/32-bit PCM or 32\/64-bit float/);
  });
});
