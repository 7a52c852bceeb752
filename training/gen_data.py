"""Render random multi-instrument clips with fluidsynth and store the model's input features.

Each clip is random music (tempo, key, chord progression, melody, bass line, General MIDI drum
pattern) for a random subset of instruments at random levels, pans, reverb and chorus sends,
rendered by the `fluidsynth` CLI from a Standard MIDI file written here, then given a random EQ,
gain and a little noise in numpy. Labels come from the MIDI programs actually played.

Many clips go into one MIDI file (a segment each, separated by a silent gap with all-sound-off)
so the soundfont is loaded once per chunk, not once per clip.

Output (one split): <out>/<split>_x.npy float16 [clips, 257, 173] (log1p-scaled |STFT|),
<out>/<split>_y.npy uint8 [clips, tags], <out>/<split>_meta.json.

    /usr/bin/python3 training/gen_data.py --split train --clips 6000 --seed 1 \
        --soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2 --out training/data --jobs 2
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frontend  # noqa: E402

TAGS = [
    'piano', 'chromatic percussion', 'organ', 'guitar', 'distorted guitar', 'bass', 'strings',
    'brass', 'reed', 'pipe', 'synth lead', 'synth pad', 'drums',
]

# Melodic families: tag -> GM programs used (0-based). Timpani (47) is left out of 'strings'.
FAMILIES = {
    'piano': list(range(0, 8)),
    'chromatic percussion': list(range(8, 16)),
    'organ': list(range(16, 24)),
    'guitar': list(range(24, 32)),
    'bass': list(range(32, 40)),
    'strings': list(range(40, 47)) + list(range(48, 52)),
    'brass': list(range(56, 64)),
    'reed': list(range(64, 72)),
    'pipe': list(range(72, 80)),
    'synth lead': list(range(80, 88)),
    'synth pad': list(range(88, 96)),
}
FAMILY_NAMES = list(FAMILIES)
DRUM_KITS = [0, 8, 16, 24, 25, 32, 40]

RENDER_RATE_HZ = 22050          # rendered at 2x, then decimated with a low-pass FIR (no aliasing)
TICKS_PER_SECOND = 960          # 480 ticks per quarter at the default 120 bpm
LEAD_IN_MAX_S = 0.6             # the clip window starts at a random time into the music
GAP_S = 2.0                     # silence between segments so reverb tails die
CLIP_S = frontend.WINDOW_SAMPLES / frontend.SAMPLE_RATE_HZ
SEG_S = LEAD_IN_MAX_S + CLIP_S + GAP_S
CHUNK_CLIPS = 40

MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]


def labels_for(programs, drums):
    """Multi-hot label vector from the melodic GM programs played and whether drums played."""
    y = np.zeros(len(TAGS), dtype=np.uint8)
    for p in programs:
        for fam, progs in FAMILIES.items():
            if p in progs:
                y[TAGS.index(fam)] = 1
        if p in (29, 30):
            y[TAGS.index('distorted guitar')] = 1
    if drums:
        y[TAGS.index('drums')] = 1
    return y


# ---------------------------------------------------------------- Standard MIDI file writer

def _varlen(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def write_midi(path, events):
    """Write a format-0 SMF. events: list of (time_s, order, bytes) with raw channel messages."""
    events = sorted(events, key=lambda e: (e[0], e[1]))
    track = bytearray()
    track += b'\x00\xff\x51\x03' + (500000).to_bytes(3, 'big')  # 120 bpm: 960 ticks per second
    last = 0
    for t, _, msg in events:
        tick = max(last, int(round(t * TICKS_PER_SECOND)))
        track += _varlen(tick - last) + msg
        last = tick
    track += b'\x00\xff\x2f\x00'
    with open(path, 'wb') as f:
        f.write(b'MThd' + struct.pack('>IHHH', 6, 0, 1, 480))
        f.write(b'MTrk' + struct.pack('>I', len(track)) + bytes(track))


# ---------------------------------------------------------------- random music

def compose(rng, t0, clip_len_s):
    """Random music for one segment starting at t0. Returns (events, programs, drums)."""
    ev = []
    end = t0 + clip_len_s
    bpm = rng.uniform(70, 170)
    beat = 60.0 / bpm
    root = int(rng.integers(0, 12))
    scale = MAJOR if rng.random() < 0.6 else MINOR
    degrees = [0, 3, 4, 5, 1, 2, 6]
    prog_len = int(rng.choice([2, 4]))
    chords = [0] + [int(rng.choice(degrees, p=[.2, .2, .2, .2, .08, .08, .04])) for _ in range(3)]
    beats_per_chord = prog_len
    n_beats = int(np.ceil(clip_len_s / beat)) + 1

    def chord_at(b):
        return chords[(b // beats_per_chord) % len(chords)]

    def scale_pitch(deg, octave):
        return 12 * octave + root + scale[deg % 7] + 12 * (deg // 7)

    def chord_tones(deg, octave):
        return [scale_pitch(deg + k, octave) for k in (0, 2, 4)]

    def note(ch, t, dur, pitch, vel):
        if t >= end or pitch < 0 or pitch > 127:
            return
        off = min(t + dur, end)
        ev.append((t, 1, bytes([0x90 | ch, pitch, max(1, min(127, vel))])))
        ev.append((off, 0, bytes([0x80 | ch, pitch, 0])))

    # Choose instruments: 0-4 melodic families (at least one sound overall), drums at 50%.
    n_mel = int(rng.choice([0, 1, 2, 3, 4], p=[0.05, 0.25, 0.3, 0.25, 0.15]))
    drums = rng.random() < 0.5
    if n_mel == 0 and not drums:
        n_mel = 1
    fams = list(rng.choice(FAMILY_NAMES, size=n_mel, replace=False))
    programs = []
    ch = 0
    for fam in fams:
        prog = int(rng.choice(FAMILIES[fam]))
        programs.append(prog)
        ev.append((t0, -2, bytes([0xC0 | ch, prog])))
        for cc, val in ((7, int(rng.integers(55, 128))), (10, int(rng.integers(20, 108))),
                        (11, 127), (91, int(rng.integers(0, 90))), (93, int(rng.integers(0, 70))),
                        (64, 0), (1, 0)):
            ev.append((t0, -1, bytes([0xB0 | ch, cc, val])))
        base_vel = int(rng.integers(50, 115))
        if fam == 'bass':
            role = 'bass'
        elif fam in ('synth pad', 'organ') and rng.random() < 0.6:
            role = 'chords'
        elif fam in ('synth lead', 'brass', 'reed', 'pipe') and rng.random() < 0.7:
            role = 'melody'
        else:
            role = str(rng.choice(['chords', 'arp', 'melody']))
        if role == 'bass':
            octave = int(rng.choice([2, 3]))
            pattern = rng.choice(['root', 'eighths', 'walk'])
            step = beat / 2 if pattern == 'eighths' else beat
            t = t0
            i = 0
            while t < end:
                b = int((t - t0) / beat)
                deg = chord_at(b)
                if pattern == 'walk':
                    deg += int(rng.choice([0, 2, 4, -1]))
                elif pattern == 'root' and i % 2 == 1 and rng.random() < 0.4:
                    deg += 4
                note(ch, t, step * rng.uniform(0.6, 0.98), scale_pitch(deg, octave),
                     base_vel + int(rng.integers(-10, 10)))
                t += step
                i += 1
        elif role == 'chords':
            octave = int(rng.choice([4, 5]))
            hits = rng.choice(['whole', 'beats', 'offbeats'])
            for b in range(n_beats):
                if b % beats_per_chord != 0 and hits == 'whole':
                    continue
                tb = t0 + b * beat + (beat / 2 if hits == 'offbeats' else 0.0)
                dur = beats_per_chord * beat * 0.98 if hits == 'whole' else beat * rng.uniform(0.3, 0.9)
                strum = rng.uniform(0, 0.03) if fam == 'guitar' else 0.0
                for k, p in enumerate(chord_tones(chord_at(b), octave)):
                    note(ch, tb + k * strum, dur, p, base_vel + int(rng.integers(-8, 8)))
        elif role == 'arp':
            octave = int(rng.choice([4, 5]))
            step = beat / int(rng.choice([2, 4]))
            t = t0
            i = 0
            while t < end:
                b = int((t - t0) / beat)
                tones = chord_tones(chord_at(b), octave) + [scale_pitch(chord_at(b), octave + 1)]
                note(ch, t, step * 0.9, tones[i % len(tones)], base_vel + int(rng.integers(-10, 10)))
                t += step
                i += 1
        else:  # melody
            octave = int(rng.choice([4, 5, 6]))
            deg = int(rng.integers(0, 7))
            t = t0
            while t < end:
                dur = beat * float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0, 0.25]))
                if rng.random() < 0.15:
                    t += dur
                    continue
                deg = int(np.clip(deg + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]), -3, 10))
                note(ch, t, dur * rng.uniform(0.7, 1.0), scale_pitch(deg, octave),
                     base_vel + int(rng.integers(-15, 15)))
                t += dur
        ch += 1
    if drums:
        dch = 9
        ev.append((t0, -2, bytes([0xC0 | dch, int(rng.choice(DRUM_KITS))])))
        for cc, val in ((7, int(rng.integers(55, 128))), (10, 64), (91, int(rng.integers(0, 60))),
                        (93, 0)):
            ev.append((t0, -1, bytes([0xB0 | dch, cc, val])))
        hat = int(rng.choice([42, 42, 44, 46, 51]))  # closed, pedal, open hat, ride
        snare = int(rng.choice([38, 40, 39]))
        sub = int(rng.choice([2, 4]))
        kick_pattern = rng.random(2 * sub) < 0.35
        kick_pattern[0] = True
        for b in range(n_beats):
            for s in range(sub):
                t = t0 + (b + s / sub) * beat
                vel = int(rng.integers(60, 120))
                if rng.random() < 0.9:
                    note(dch, t, 0.1, hat, vel - 20 if s % 2 else vel)
                if kick_pattern[(b % 2) * sub + s] and (b % 2 == 0 or rng.random() < 0.5):
                    note(dch, t, 0.1, 36, vel)
                if s == 0 and b % 2 == 1:
                    note(dch, t, 0.1, snare, vel)
                elif rng.random() < 0.05:
                    note(dch, t, 0.1, int(rng.choice([45, 47, 48, 50, 49, 57])), vel)
    return ev, programs, drums


# ---------------------------------------------------------------- audio post-processing

def _lowpass_fir(n_taps=63, cutoff=0.45):
    """Windowed-sinc half-band low-pass (cutoff as a fraction of the input rate)."""
    m = np.arange(n_taps) - (n_taps - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * m) * np.blackman(n_taps)
    return h / h.sum()


FIR = _lowpass_fir(63, 0.23)


def decimate2(x):
    """22,050 -> 11,025 Hz with an anti-alias FIR."""
    return np.convolve(x, FIR, mode='same')[::2]


def post_process(rng, x):
    """Random EQ, level and a little noise on one clip (float64, 11,025 Hz)."""
    n = len(x)
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(n, 1.0 / frontend.SAMPLE_RATE_HZ)
    # Tilt in dB per octave around 1 kHz plus one random peak/notch.
    tilt = rng.uniform(-3, 3)
    gain_db = tilt * np.log2(np.maximum(f, 20.0) / 1000.0)
    fc = np.exp(rng.uniform(np.log(100), np.log(4500)))
    gain_db += rng.uniform(-9, 9) * np.exp(-0.5 * (np.log2(np.maximum(f, 1.0) / fc) / rng.uniform(0.3, 1.2)) ** 2)
    if rng.random() < 0.3:  # band-limited like a cheap speaker / mic
        gain_db += -24 * np.clip(np.log2(np.maximum(f, 1.0) / rng.uniform(60, 200)), None, 0) ** 2
    spec *= 10 ** (gain_db / 20)
    x = np.fft.irfft(spec, n)
    rms = np.sqrt(np.mean(x ** 2)) + 1e-12
    target_db = rng.uniform(-38, -12)
    x *= 10 ** (target_db / 20) / rms
    noise = rng.standard_normal(n)
    if rng.random() < 0.5:  # pinkish
        ns = np.fft.rfft(noise) / np.sqrt(np.maximum(f, 20.0) / 20.0)
        noise = np.fft.irfft(ns, n)
        noise /= np.sqrt(np.mean(noise ** 2)) + 1e-12
    x += noise * 10 ** ((target_db - rng.uniform(30, 60)) / 20)
    return np.clip(x, -1, 1)


# ---------------------------------------------------------------- rendering

def render_chunk(args):
    """Render clips [start, start+count) of a split; returns (features, labels)."""
    soundfont, seed, start, count = args
    rng = np.random.default_rng([seed, start])
    events = []
    labels = []
    offsets = []
    for i in range(count):
        t0 = i * SEG_S
        lead = rng.uniform(0, LEAD_IN_MAX_S)
        ev, programs, drums = compose(rng, t0, lead + CLIP_S)
        events += ev
        # Silence everything before the next segment so nothing carries over.
        for ch in range(16):
            events.append((t0 + lead + CLIP_S + 0.01, 2, bytes([0xB0 | ch, 123, 0])))
            events.append((t0 + lead + CLIP_S + 0.01, 3, bytes([0xB0 | ch, 120, 0])))
            events.append((t0 + lead + CLIP_S + 0.02, 4, bytes([0xB0 | ch, 121, 0])))
        labels.append(labels_for(programs, drums))
        offsets.append(t0 + lead)
    events.append((count * SEG_S, 5, bytes([0xB0, 7, 100])))  # pads the file to full length
    tmp = tempfile.mkdtemp(prefix='auralscope-gen-')
    try:
        mid = os.path.join(tmp, 'c.mid')
        wav = os.path.join(tmp, 'c.raw')
        write_midi(mid, events)
        room = rng.uniform(0.1, 0.8)
        cmd = ['fluidsynth', '-ni', '-q', '-g', '0.4', '-r', str(RENDER_RATE_HZ), '-T', 'raw', '-O', 'float',
               '-o', 'synth.reverb.room-size=%.3f' % room,
               '-o', 'synth.reverb.level=%.3f' % rng.uniform(0.3, 0.9),
               '-o', 'synth.chorus.depth=%.3f' % rng.uniform(2, 12),
               '-o', 'synth.polyphony=128', '-o', 'audio.file.endian=little',
               '-F', wav, soundfont, mid]
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if res.returncode != 0 or not os.path.exists(wav):
            raise RuntimeError('fluidsynth failed: %s' % res.stderr.decode(errors='replace')[-500:])
        # Raw float output is interleaved stereo; mix to mono.
        audio = np.fromfile(wav, dtype='<f4').astype(np.float64)
        audio = audio[: len(audio) // 2 * 2].reshape(-1, 2).mean(axis=1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    feats = np.zeros((count, frontend.N_BINS, frontend.WINDOW_FRAMES), dtype=np.float16)
    need = 2 * frontend.WINDOW_SAMPLES + 128
    for i, off in enumerate(offsets):
        s = int(round(off * RENDER_RATE_HZ))
        seg = audio[max(0, s - 64): s - 64 + need]
        if len(seg) < need:
            seg = np.pad(seg, (0, need - len(seg)))
        x = decimate2(seg)[32: 32 + frontend.WINDOW_SAMPLES]
        x = post_process(rng, x)
        feats[i] = frontend.features(x).astype(np.float16)
    return feats, np.stack(labels)


def check_tools(soundfont):
    """Fail with a clear message when fluidsynth or the soundfont is missing."""
    if shutil.which('fluidsynth') is None:
        sys.exit('gen_data: fluidsynth not found on PATH: install the Debian package `fluidsynth`')
    if not os.path.isfile(soundfont):
        pkg = 'timgm6mb-soundfont' if 'TimGM6mb' in soundfont else 'fluid-soundfont-gm'
        sys.exit('gen_data: soundfont %s not found: install the Debian package `%s`' % (soundfont, pkg))


def reusable_clips(a):
    """How many leading clips an existing render of this split shares with the one asked for (0: none)."""
    try:
        with open(os.path.join(a.out, a.split + '_meta.json')) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return 0
    same = (meta.get('seed') == a.seed and meta.get('soundfont') == os.path.basename(a.soundfont)
            and meta.get('chunk', CHUNK_CLIPS) == a.chunk and meta.get('tags') == TAGS
            and meta.get('log1p_c') == frontend.LOG1P_C and meta.get('render_rate_hz') == RENDER_RATE_HZ)
    n = int(meta.get('clips', 0))
    if not same or n > a.clips or (n % a.chunk and n != a.clips):
        return 0
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--split', required=True)
    ap.add_argument('--clips', type=int, required=True)
    ap.add_argument('--seed', type=int, required=True)
    ap.add_argument('--soundfont', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--chunk', type=int, default=CHUNK_CLIPS)
    a = ap.parse_args()
    check_tools(a.soundfont)
    os.makedirs(a.out, exist_ok=True)
    t_start = time.time()
    xs = np.lib.format.open_memmap(os.path.join(a.out, a.split + '_x.npy.tmp'), mode='w+', dtype=np.float16,
                                   shape=(a.clips, frontend.N_BINS, frontend.WINDOW_FRAMES))
    ys = np.zeros((a.clips, len(TAGS)), dtype=np.uint8)
    kept = reusable_clips(a)
    if kept:
        # Chunks are seeded by [seed, first clip], so an earlier, smaller render of this split with the
        # same seed, soundfont and chunk size holds exactly the first clips of this one.
        xs[:kept] = np.load(os.path.join(a.out, a.split + '_x.npy'), mmap_mode='r')[:kept]
        ys[:kept] = np.load(os.path.join(a.out, a.split + '_y.npy'))[:kept]
        print('[gen %s] kept the first %d clips of the earlier render (same seed, soundfont, chunk)' % (a.split, kept),
              flush=True)
    chunks = [(a.soundfont, a.seed, s, min(a.chunk, a.clips - s)) for s in range(kept, a.clips, a.chunk)]
    done = kept
    with Pool(a.jobs) as pool:
        for (_, _, s, c), (f, y) in zip(chunks, pool.imap(render_chunk, chunks)):
            xs[s: s + c] = f
            ys[s: s + c] = y
            done += c
            el = time.time() - t_start
            print('[gen %s] %d/%d clips, %.0f s, eta %.0f s' % (a.split, done, a.clips, el, el / (done - kept) * (a.clips - done)),
                  flush=True)
    xs.flush()
    del xs
    os.replace(os.path.join(a.out, a.split + '_x.npy.tmp'), os.path.join(a.out, a.split + '_x.npy'))
    np.save(os.path.join(a.out, a.split + '_y.npy'), ys)
    meta = {'split': a.split, 'clips': a.clips, 'seed': a.seed, 'soundfont': os.path.basename(a.soundfont),
            'tags': TAGS, 'positives': {t: int(ys[:, i].sum()) for i, t in enumerate(TAGS)},
            'seconds': round(time.time() - t_start, 1), 'kept_from_earlier_render': kept, 'log1p_c': frontend.LOG1P_C,
            'render_rate_hz': RENDER_RATE_HZ, 'chunk': a.chunk}
    with open(os.path.join(a.out, a.split + '_meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print('[gen %s] done: %s' % (a.split, json.dumps(meta['positives'])), flush=True)


if __name__ == '__main__':
    main()
