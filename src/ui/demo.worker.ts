/** Renders the demo piece off the main thread: its synthesis takes seconds at 48 kHz on a small CPU. */
import { renderDemo } from '../dsp/demo';

self.onmessage = (e: MessageEvent<{ sampleRateHz: number }>) => {
  const samples = renderDemo(e.data.sampleRateHz);
  (self as unknown as Worker).postMessage(samples, [samples.buffer]);
};
