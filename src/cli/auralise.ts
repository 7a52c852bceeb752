/**
 * `auralise`: the offline version of the live solo (issue 5 item 7). The same reading, resampling,
 * STFT, front end (mel models: filterbank in, normalised transpose back), framing and window rule
 * as `explain`; the projection of one selection over the whole file
 * multiplies the original complex STFT (src/dsp/auralise.ts) and is written as a float32 WAV at the
 * analysis rate, level-matched to the input's RMS (gain ceiling +24 dB) and peak-limited to -1 dBFS.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { writeFile } from 'node:fs/promises';
import { auraliseOffline, matchLevel } from '../dsp/auralise';
import { encodeWav } from '../dsp/wav';
import { Analyzer, METHODS } from '../model/analyzer';
import type { Method, Selection } from '../model/analyzer';
import { axisField, totalTimeStrideFrames } from '../model/graph';
import { fitClipToFrames, inputBins, networkInput, padClip, projectionToStft } from '../model/frontend';
import { inputTensor } from '../model/input';
import { loadModelFromDir } from '../model/node-io';
import { magnitudeFrames, projectFile, readAnalysisSignal } from './audio-input';
import { defaultModelDir } from './explain';
import { intArg, parseCommandArgs, runCommand, UsageError } from './command';

/** Help text of the auralise command. */
export const AURALISE_USAGE = `usage: npm run cli -- auralise <audio.wav> --layer L --feature k [--method deconvnet|saliency|guided|gradcam]
                        [--label NAME] [--rectify] [--mute] [--whole] [--hop-group N] [--model DIR] --out out.wav

  --method M     projection (default deconvnet, Choi's)
  --rectify      clip the mask at 0 (default: Choi's signed mask; a negative value flips the phase)
  --mute         play everything but the feature: X (1 - r), r = rectified mask / its maximum, in [0, 1]
  --whole        the whole file as one window (as Choi did); default: the live window rule, each frame
                 from the first window in which it is settled
  --out FILE     float32 WAV at the model's analysis rate, RMS matched to the input (gain <= +24 dB),
                 peak <= -1 dBFS`;

/** Parsed options of the auralise command. */
export interface AuraliseOptions {
  wavPath: string;
  layer: number;
  feature: number;
  method: Method;
  label: string | null;
  rectify: boolean;
  mute: boolean;
  whole: boolean;
  hopGroupFrames: number;
  modelDir: string | null;
  outPath: string;
}


/** Parses `auralise` arguments (without the command name). */
export function parseAuraliseArgs(argv: string[]): AuraliseOptions {
  const { values: v, positionals } = parseCommandArgs(argv, {
    layer: { type: 'string' }, feature: { type: 'string' }, method: { type: 'string', default: 'deconvnet' }, label: { type: 'string' },
    rectify: { type: 'boolean', default: false }, mute: { type: 'boolean', default: false }, whole: { type: 'boolean', default: false },
    'hop-group': { type: 'string', default: '2' }, model: { type: 'string' }, out: { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError(`expected one WAV file, got ${positionals.length ? positionals.join(' ') : 'none'}`);
  if (!METHODS.includes(v.method as Method)) throw new UsageError(`--method: expected one of ${METHODS.join(', ')}, got '${v.method}'`);
  if (!v.out) throw new UsageError('--out: expected an output WAV path, got nothing');
  return {
    wavPath: positionals[0], layer: intArg(v.layer, 'layer', 1), feature: intArg(v.feature, 'feature', 0), method: v.method as Method,
    label: v.label ?? null, rectify: v.rectify === true, mute: v.mute === true, whole: v.whole === true,
    hopGroupFrames: intArg(v['hop-group'], 'hop-group', 1), modelDir: v.model ?? null, outPath: v.out,
  };
}

/** What auralise() returns besides the file. */
export interface AuraliseResult {
  sampleRateHz: number;
  samples: Float32Array;
  frames: number;
  windows: number;
  gain: number;
}

/** Runs the analysis and the synthesis, writes the WAV. */
export async function auralise(opts: AuraliseOptions, log: (line: string) => void = () => {}): Promise<AuraliseResult> {
  if (tf.getBackend() !== 'wasm' && !(await tf.setBackend('wasm'))) throw new Error("backend 'wasm': expected it to start, got unavailable");
  await tf.ready();
  const model = await loadModelFromDir(opts.modelDir ?? defaultModelDir());
  const analyzer = new Analyzer(model);
  try {
    const man = model.manifest;
    const fe = man.frontEnd;
    const taps = model.graph.taps;
    if (opts.layer > taps.length) throw new UsageError(`--layer: expected 1..${taps.length}, got ${opts.layer}`);
    let label: number | undefined;
    if (opts.label !== null) {
      label = man.labels.indexOf(opts.label);
      if (label < 0) throw new UsageError(`--label: expected one of ${man.labels.join(', ')}, got '${opts.label}'`);
    }
    const sel: Selection = { layer: opts.layer - 1, feature: opts.feature, method: opts.method, label };
    analyzer.checkSelection(sel);
    const { signal } = await readAnalysisSignal(opts.wavPath, fe.sampleRateHz);
    // --whole frames the clip as the model's own front end did offline (FrontEnd.padding; a
    // fixed-frames net gets the clip fitted to its frames first); the padded signal is
    // resynthesised and put back in place in a clip-long output. The live rule: no padding.
    const fitted = opts.whole && model.graph.fixedFrames !== null ? fitClipToFrames(signal, model.graph.fixedFrames, fe) : { signal, startSample: 0 };
    const padded = opts.whole ? padClip(fitted.signal, fe) : { signal, leftPadSamples: 0 };
    const { mag, frames, bins } = magnitudeFrames(padded.signal, fe.nFft, fe.hopSamples);
    if (frames < analyzer.minFrames) throw new Error(`${opts.wavPath}: expected at least ${analyzer.minFrames} STFT frames, got ${frames}`);
    const labelMethod = opts.method === 'gradcam' || label !== undefined;
    const rfOp = labelMethod && opts.method !== 'gradcam' ? model.graph.trunk.length - 1 : taps[sel.layer].opIndex;
    const { map, windows } = await projectFile(frames, bins, {
      whole: opts.whole, hopGroupFrames: opts.hopGroupFrames, windowFrames: model.graph.fixedFrames ?? man.inputShape[1],
      strideFrames: totalTimeStrideFrames(model.graph), receptiveFieldFrames: axisField(model.graph.trunk, rfOp, 'w').field, fixedFrames: model.graph.fixedFrames,
    }, async (s, e) => {
      const x = inputTensor(networkInput(mag.subarray(s * bins, e * bins), e - s, fe), e - s, inputBins(fe));
      try {
        return projectionToStft((await analyzer.analyse(x, sel)).projection, e - s, fe);
      } finally {
        x.dispose();
      }
    });
    const yPadded = auraliseOffline(padded.signal, map, { nFft: fe.nFft, hopSamples: fe.hopSamples }, { mode: opts.mute ? 'mute' : 'solo', rectify: opts.rectify, maskScale: 0 });
    const y = new Float32Array(signal.length);
    y.set(yPadded.subarray(padded.leftPadSamples, padded.leftPadSamples + Math.min(fitted.signal.length, signal.length - fitted.startSample)), fitted.startSample);
    let sum = 0;
    for (const v of signal) sum += v * v;
    const gain = matchLevel(y, { targetRms: Math.sqrt(sum / Math.max(1, signal.length)), maxGainDb: 24, peakCeilingDb: -1 });
    await writeFile(opts.outPath, encodeWav([y], fe.sampleRateHz, 'float32'));
    log(`auralise: wrote ${opts.outPath} (${(y.length / fe.sampleRateHz).toFixed(2)} s at ${fe.sampleRateHz} Hz, ${windows} window${windows === 1 ? '' : 's'}, gain ${(20 * Math.log10(gain)).toFixed(1)} dB)`);
    return { sampleRateHz: fe.sampleRateHz, samples: y, frames, windows, gain };
  } finally {
    analyzer.dispose();
    model.dispose();
  }
}

/** The auralise command: parses argv, runs, prints errors; returns the exit code. */
export async function runAuralise(argv: string[]): Promise<number> {
  return runCommand('auralise', AURALISE_USAGE, argv, parseAuraliseArgs, async (opts) => {
    await auralise(opts, (line) => console.error(line));
    return 0;
  });
}
