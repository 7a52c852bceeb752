"""The model's front end in numpy, identical to the browser's (src/dsp/stft.ts).

11,025 Hz audio, periodic Hann window of 512 samples, hop 256, 257 bins, frame t covers samples
[t*256, t*256 + 512) with no centre padding, magnitude |rfft(w * x)| unnormalised, scaled as
log(1 + C * |X|) with C = LOG1P_C.

Run as a script it reads float32 little-endian samples on stdin and writes the magnitudes
(frames x 257, float64 little-endian, frame-major) on stdout: the TS parity test uses this.
"""
import sys

import numpy as np

SAMPLE_RATE_HZ = 11025
N_FFT = 512
HOP_SAMPLES = 256
N_BINS = N_FFT // 2 + 1
WINDOW_FRAMES = 173
WINDOW_SAMPLES = N_FFT + (WINDOW_FRAMES - 1) * HOP_SAMPLES  # 44,544
LOG1P_C = 100.0


def hann_periodic(n=N_FFT):
    """Periodic Hann window: w[i] = 0.5 - 0.5 cos(2 pi i / n)."""
    i = np.arange(n, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * i / n)


def stft_mag(x):
    """|STFT| of a 1-D signal as [frames, bins] float64 (no centre padding)."""
    x = np.asarray(x, dtype=np.float64)
    n_frames = 1 + (len(x) - N_FFT) // HOP_SAMPLES if len(x) >= N_FFT else 0
    if n_frames <= 0:
        return np.zeros((0, N_BINS))
    idx = np.arange(N_FFT)[None, :] + HOP_SAMPLES * np.arange(n_frames)[:, None]
    frames = x[idx] * hann_periodic()[None, :]
    return np.abs(np.fft.rfft(frames, axis=1))


def scale(mag):
    """Input scaling log(1 + C |X|)."""
    return np.log1p(LOG1P_C * mag)


def features(x):
    """Scaled spectrogram in the model's layout [bins (low->high), frames (old->new)]."""
    return scale(stft_mag(x)).T


def main():
    raw = sys.stdin.buffer.read()
    x = np.frombuffer(raw, dtype='<f4')
    mag = stft_mag(x)
    sys.stdout.buffer.write(np.ascontiguousarray(mag, dtype='<f8').tobytes())


if __name__ == '__main__':
    main()
