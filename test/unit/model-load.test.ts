/** Loading and validation: manifest fields, layers, input shape, weights, taps, labels; "expected X, got Y". */
import * as tf from '@tensorflow/tfjs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Analyzer } from '../../src/model/analyzer';
import { loadModel, loadModelFromFiles, loadModelFromUrl } from '../../src/model/load';
import { validateManifest } from '../../src/model/manifest';
import { loadModelFromDir } from '../../src/model/node-io';
import { FIXTURE_A, FIXTURE_B, fixtureFiles, fixtureHandler, makeFixture, writeFixture } from '../fixtures/fixture-net/make';
import type { Fixture } from '../fixtures/fixture-net/make';

let A: Fixture;
let B: Fixture;
beforeAll(async () => {
  await tf.setBackend('cpu');
  A = await makeFixture(FIXTURE_A);
  B = await makeFixture(FIXTURE_B);
});

type Json = Record<string, unknown>;
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** A copy of the fixture with its topology, weights manifest or manifest edited. */
function edited(f: Fixture, edit: (top: Json, layers: Json[], specs: tf.io.WeightsManifestEntry[], manifest: Json) => void): { handler: tf.io.IOHandler; manifest: Json } {
  const top = clone(f.modelJson.modelTopology) as Json;
  const specs = clone(f.modelJson.weightsManifest[0].weights);
  const manifest = clone(f.manifest) as unknown as Json;
  edit(top, (top.config as Json).layers as Json[], specs, manifest);
  return { handler: tf.io.fromMemory({ modelTopology: top, weightSpecs: specs, weightData: f.weightsBin.slice(0) }), manifest };
}

async function loadError(x: { handler: tf.io.IOHandler; manifest: Json }): Promise<string> {
  const n = tf.memory().numTensors;
  try {
    await loadModel(x.handler, x.manifest);
  } catch (e) {
    expect(tf.memory().numTensors).toBe(n); // a refused model leaves no tensors behind
    return (e as Error).message;
  }
  throw new Error('expected the model to be refused');
}

describe('validateManifest', () => {
  it('accepts the fixture manifest and returns it typed', () => {
    expect(validateManifest(clone(A.manifest))).toEqual(A.manifest);
  });

  it.each([
    ['frontEnd.nFft', -3, 'manifest.frontEnd.nFft: expected a positive integer, got -3'],
    ['frontEnd.window', 'hamming', "manifest.frontEnd.window: expected one of 'hann', got \"hamming\""],
    ['frontEnd.scaling.c', 0, 'manifest.frontEnd.scaling.c: expected a positive finite number, got 0'],
    ['inputShape', [17, 16], 'manifest.inputShape: expected [bins, windowFrames, 1], got [17,16]'],
    ['inputShape', [18, 16, 1], 'manifest.inputShape[0]: expected 17 (nFft / 2 + 1), got 18'],
    ['taps', [], 'manifest.taps: expected a non-empty array, got []'],
    ['output.activation', 'relu', "manifest.output.activation: expected one of 'sigmoid', 'softmax', got \"relu\""],
    ['labels', ['a', 'a', 'b'], 'manifest.labels: expected distinct labels, got ["a","a","b"]'],
    ['format', 'x@2', "manifest.format: expected 'auralscope-model@1', got \"x@2\""],
    ['provenance', undefined, 'manifest.provenance: expected an object, got undefined'],
  ])('%s = %j is refused', (path, value, message) => {
    const m = clone(A.manifest) as unknown as Json;
    const keys = path.split('.');
    let o = m;
    for (const k of keys.slice(0, -1)) o = o[k] as Json;
    o[keys[keys.length - 1]] = value;
    expect(() => validateManifest(m)).toThrow(message);
  });
});

describe('loadModel validation', () => {
  it('refuses an unsupported layer by name', async () => {
    const msg = await loadError(edited(A, (_t, layers) => {
      layers.splice(2, 0, { class_name: 'SeparableConv2D', name: 'sep1', config: { name: 'sep1' }, inbound_nodes: [] });
    }));
    expect(msg).toMatch(/^layer 'sep1' \(SeparableConv2D\) is not supported; supported: InputLayer, Conv2D, MaxPooling2D/);
  });

  it('refuses a wrong input shape', async () => {
    const msg = await loadError(edited(A, (_t, layers) => {
      ((layers[0].config as Json).batch_input_shape as unknown[])[3] = 2;
    }));
    expect(msg).toBe('model input shape: expected [null, 17, null, 1] (manifest.inputShape), got [null, 17, null, 2]');
  });

  it('refuses missing weights', async () => {
    const msg = await loadError(edited(A, (_t, _l, specs) => {
      specs.splice(specs.findIndex((s) => s.name === 'conv2/kernel'), 1);
    }));
    expect(msg).toMatch(/weights of layer 'conv2': expected 'conv2\/kernel' with shape \[3, 3, 4, 6\], got none/);
  });

  it('refuses a weight of the wrong shape', async () => {
    const msg = await loadError(edited(B, (_t, _l, specs) => {
      // Same byte count, other shape: [5] bias read as... the kernel shape changes instead.
      const k = specs.find((s) => s.name === 'hidden/kernel') as tf.io.WeightsManifestEntry;
      k.shape = [k.shape[1], k.shape[0]];
    }));
    expect(msg).toBe("weights 'hidden/kernel': expected shape [6, 8], got [8, 6]");
  });

  it('refuses a tap channel mismatch, an unknown tap and a wrong label count', async () => {
    expect(await loadError(edited(A, (_t, _l, _s, m) => {
      ((m.taps as Json[])[1]).channels = 7;
    }))).toBe("manifest.taps[1].channels: expected 6 (channels of 'pool2' in the model), got 7");
    expect(await loadError(edited(A, (_t, _l, _s, m) => {
      ((m.taps as Json[])[1]).layer = 'tags';
    }))).toBe("manifest.taps[1].layer: expected a layer of the convolutional trunk (conv1, pool1, conv2, pool2, conv3, pool3), got 'tags'");
    expect(await loadError(edited(A, (_t, _l, _s, m) => {
      m.labels = ['a', 'b'];
    }))).toBe("manifest.labels: expected 3 labels (units of 'tags'), got 2");
  });

  it('refuses strided convolutions, even kernels, same-padded pools and branching graphs', async () => {
    expect(await loadError(edited(A, (_t, layers) => {
      (layers[1].config as Json).strides = [2, 1];
    }))).toBe("layer 'conv1' (Conv2D).strides: expected [1, 1], got [2, 1]");
    expect(await loadError(edited(B, (_t, layers) => {
      (layers[0].config as Json).kernel_size = [3, 4];
    }))).toBe("layer 'conv1' (Conv2D).kernel_size: expected odd sizes, got [3, 4]");
    expect(await loadError(edited(A, (_t, layers) => {
      (layers[2].config as Json).padding = 'same';
    }))).toBe("layer 'pool1' (MaxPooling2D).padding: expected 'valid', got \"same\"");
    expect(await loadError(edited(A, (_t, layers) => {
      layers[3].inbound_nodes = [[['spectrogram', 0, 0, {}], ['pool1', 0, 0, {}]]];
    }))).toBe("layer 'conv2': expected a simple chain with input from 'pool1', got input from ['spectrogram', 'pool1']");
  });
});

describe('loading paths', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'auralscope-model-'));
    await writeFixture(B, dir);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loads from picked files and from a folder, with the same predictions as tfjs-layers itself', async () => {
    const fromFiles = await loadModelFromFiles(fixtureFiles(B));
    const fromDir = await loadModelFromDir(dir);
    expect(fromDir.warmUpMs).toBeGreaterThan(0);
    const reference = await tf.loadLayersModel(fixtureHandler(B));
    const x = tf.randomUniform([1, FIXTURE_B.bins, 33, 1], 0, 2, 'float32', 9) as tf.Tensor4D;
    try {
      const want = await (reference.predict(x) as tf.Tensor).data();
      for (const m of [fromFiles, fromDir]) {
        const an = new Analyzer(m);
        const got = (await an.analyse(x, { layer: 0, feature: 0, method: 'saliency' })).predictions;
        an.dispose();
        for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
      }
    } finally {
      x.dispose();
      reference.dispose();
      fromFiles.dispose();
      fromDir.dispose();
    }
  });

  it('loads from a URL (model.json, shard and manifest over HTTP) and reports HTTP errors', async () => {
    const server = createServer((req, res) => {
      const name = (req.url ?? '').replace(/^\/models\/b\//, '');
      readFile(join(dir, name)).then((b) => res.end(b), () => {
        res.statusCode = 404;
        res.end();
      });
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const m = await loadModelFromUrl(`${base}/models/b/`);
      expect(m.manifest.id).toBe('fixture-b');
      expect(m.graph.taps.map((t) => t.name)).toEqual(['elu1', 'pool1', 'pool2']);
      m.dispose();
      await expect(loadModelFromUrl(`${base}/elsewhere`)).rejects.toThrow(/elsewhere\/manifest\.json: expected HTTP 200, got 404/);
    } finally {
      server.close();
    }
  });

  it('says which file is missing', async () => {
    const files = fixtureFiles(A);
    files.delete('weights.bin');
    await expect(loadModelFromFiles(files)).rejects.toThrow("weight shard 'weights.bin': expected the file among the model files, got none (missing weights)");
    await expect(loadModelFromDir('/nonexistent/auralscope')).rejects.toThrow(/model folder '\/nonexistent\/auralscope': expected a readable folder/);
  });
});

describe('Analyzer input and selection checks', () => {
  it('refuses out-of-range layer, feature and label, and wrong input shapes, with clear errors', async () => {
    const m = await loadModel(fixtureHandler(A), A.manifest, { warmUp: false });
    const an = new Analyzer(m);
    const x = tf.zeros([1, 17, 20, 1]) as tf.Tensor4D;
    try {
      expect(() => an.analyseTensors(x, { layer: 3, feature: 0, method: 'deconvnet' })).toThrow('selection.layer: expected an integer in 0..2, got 3');
      expect(() => an.analyseTensors(x, { layer: 1, feature: 6, method: 'deconvnet' })).toThrow("selection.feature: expected an integer in 0..5 (channels of 'pool2'), got 6");
      expect(() => an.analyseTensors(x, { layer: 1, feature: 0, method: 'gradcam', label: 3 })).toThrow('selection.label: expected an integer in 0..2, got 3');
      const short = tf.zeros([1, 17, 7, 1]) as tf.Tensor4D;
      expect(() => an.analyseTensors(short, { layer: 0, feature: 0, method: 'deconvnet' })).toThrow('analyse input: expected shape [1, 17, frames >= 8, 1], got [1, 17, 7, 1]');
      short.dispose();
    } finally {
      x.dispose();
      an.dispose();
      m.dispose();
    }
  });
});
