"""Export a trained run to a TensorFlow.js LayersModel + manifest + parity fixture.

    /usr/bin/python3 training/export.py --run training/runs/cnn16-16-32-64-64 --id auralscope-cnn16-16-32-64-64 \
        --models models --fixtures test/fixtures/model-parity

Writes <models>/<id>/model.json (format 'layers-model', Keras functional config, stock layers
only), <models>/<id>/group1-shard1of1.bin (float32 little-endian), <models>/<id>/manifest.json
(src/shared/manifest.ts) and <fixtures>/<id>.json (saved inputs + the trainer's outputs).
Batch-norm is folded into the conv weights; the exporter refuses shapes the browser cannot load.
"""
import argparse
import base64
import datetime
import json
import os
import sys

import numpy as np

try:
    import torch
except ImportError:
    sys.exit('export: PyTorch not found for %s: install the Debian package `python3-torch`' % sys.executable)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frontend  # noqa: E402
from train import N_LAYERS, AuralNet  # noqa: E402

SHARD = 'group1-shard1of1.bin'
MIN_FRAMES = 2 ** N_LAYERS  # every pool needs at least one 2x2 window


class ExportError(Exception):
    """A shape or value the browser model cannot load."""


def fold_batch_norm(model):
    """Plain conv weights/biases [(kernel [out,in,3,3], bias [out])] with eval-mode BN folded in."""
    layers = []
    for conv, bn in zip(model.convs, model.bns):
        w = conv.weight.detach().double()
        b = conv.bias.detach().double()
        if isinstance(bn, torch.nn.BatchNorm2d):
            s = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
            w = w * s.view(-1, 1, 1, 1)
            b = (b - bn.running_mean.double()) * s + bn.bias.detach().double()
        layers.append((w.float().numpy(), b.float().numpy()))
    return layers


def check_shapes(convs, dense_w, dense_b, n_labels, input_shape):
    """Refuse anything the browser's loader and deconvolution cannot handle, naming what is wrong."""
    if len(convs) != N_LAYERS:
        raise ExportError('expected %d conv layers, got %d' % (N_LAYERS, len(convs)))
    bins, frames, ch_in = input_shape
    if ch_in != 1:
        raise ExportError('expected 1 input channel, got %d' % ch_in)
    if bins < MIN_FRAMES or frames < MIN_FRAMES:
        raise ExportError('expected an input of at least %dx%d (5 poolings), got %dx%d' % (MIN_FRAMES, MIN_FRAMES, bins, frames))
    prev = 1
    for i, (w, b) in enumerate(convs):
        if w.ndim != 4 or w.shape[2:] != (3, 3):
            raise ExportError('conv%d: expected a 3x3 kernel, got shape %s' % (i + 1, list(w.shape)))
        if w.shape[1] != prev:
            raise ExportError('conv%d: expected %d input channels, got %d' % (i + 1, prev, w.shape[1]))
        if b.shape != (w.shape[0],):
            raise ExportError('conv%d: expected bias of shape [%d], got %s' % (i + 1, w.shape[0], list(b.shape)))
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ExportError('conv%d: weights are not all finite' % (i + 1))
        prev = w.shape[0]
    if dense_w.shape != (n_labels, prev):
        raise ExportError('tags: expected a dense kernel of [%d labels, %d channels], got %s'
                          % (n_labels, prev, list(dense_w.shape)))
    if dense_b.shape != (n_labels,) or not np.all(np.isfinite(dense_w)):
        raise ExportError('tags: expected a finite bias of shape [%d], got %s' % (n_labels, list(dense_b.shape)))


def _init(name):
    if name == 'zeros':
        return {'class_name': 'Zeros', 'config': {}}
    return {'class_name': 'VarianceScaling',
            'config': {'scale': 1.0, 'mode': 'fan_avg', 'distribution': 'uniform', 'seed': None}}


def keras_topology(channels, n_labels, bins):
    """Keras functional-model config with the layer names the browser expects."""
    layers = [{'class_name': 'InputLayer', 'name': 'spectrogram', 'inbound_nodes': [],
               'config': {'batch_input_shape': [None, bins, None, 1], 'dtype': 'float32', 'sparse': False,
                          'name': 'spectrogram'}}]
    prev = 'spectrogram'
    for i in range(N_LAYERS):
        conv, pool = 'conv%d' % (i + 1), 'pool%d' % (i + 1)
        layers.append({'class_name': 'Conv2D', 'name': conv, 'inbound_nodes': [[[prev, 0, 0, {}]]],
                       'config': {'name': conv, 'trainable': True, 'dtype': 'float32', 'filters': channels[i],
                                  'kernel_size': [3, 3], 'strides': [1, 1], 'padding': 'same',
                                  'data_format': 'channels_last', 'dilation_rate': [1, 1], 'activation': 'relu',
                                  'use_bias': True, 'kernel_initializer': _init('glorot'),
                                  'bias_initializer': _init('zeros'), 'kernel_regularizer': None,
                                  'bias_regularizer': None, 'activity_regularizer': None,
                                  'kernel_constraint': None, 'bias_constraint': None}})
        layers.append({'class_name': 'MaxPooling2D', 'name': pool, 'inbound_nodes': [[[conv, 0, 0, {}]]],
                       'config': {'name': pool, 'trainable': True, 'dtype': 'float32', 'pool_size': [2, 2],
                                  'padding': 'valid', 'strides': [2, 2], 'data_format': 'channels_last'}})
        prev = pool
    layers.append({'class_name': 'GlobalAveragePooling2D', 'name': 'gap', 'inbound_nodes': [[[prev, 0, 0, {}]]],
                   'config': {'name': 'gap', 'trainable': True, 'dtype': 'float32', 'data_format': 'channels_last'}})
    layers.append({'class_name': 'Dense', 'name': 'tags', 'inbound_nodes': [[['gap', 0, 0, {}]]],
                   'config': {'name': 'tags', 'trainable': True, 'dtype': 'float32', 'units': n_labels,
                              'activation': 'sigmoid', 'use_bias': True, 'kernel_initializer': _init('glorot'),
                              'bias_initializer': _init('zeros'), 'kernel_regularizer': None,
                              'bias_regularizer': None, 'activity_regularizer': None, 'kernel_constraint': None,
                              'bias_constraint': None}})
    return {'class_name': 'Model', 'keras_version': '2.15.0', 'backend': 'tensor_flow.js',
            'config': {'name': 'auralscope', 'layers': layers, 'input_layers': [['spectrogram', 0, 0]],
                       'output_layers': [['tags', 0, 0]]}}


def plain_forward(convs, dense_w, dense_b, x):
    """Forward pass of the folded (exported) network in torch float32: (pooled maps, tags)."""
    h = torch.from_numpy(x).float().view(1, 1, x.shape[0], x.shape[1])
    pooled = []
    with torch.no_grad():
        for w, b in convs:
            h = torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.conv2d(
                h, torch.from_numpy(w), torch.from_numpy(b), padding=1)), 2, 2)
            pooled.append(h[0].permute(1, 2, 0).numpy())  # -> [H, W, C] (NHWC without batch)
        tags = torch.sigmoid(h.mean(dim=(2, 3)) @ torch.from_numpy(dense_w).T + torch.from_numpy(dense_b))
    return pooled, tags[0].numpy()


def augmentation_text(metrics):
    if not metrics['augment']:
        return 'none'
    mix = metrics.get('mix', 0.33)
    return ('random gain and EQ in the feature domain, %d %% of each batch mixed with another clip' % round(100 * mix)
            if mix > 0 else 'random gain and EQ in the feature domain (no clip mixing)')


def initialised_from(checkpoint):
    """What a fine-tuned run started from: the earlier run's own metrics (beside its best.pt), when present."""
    rel = os.path.relpath(checkpoint)
    info = {'checkpoint': os.path.abspath(checkpoint) if rel.startswith('..') else rel}
    try:
        with open(os.path.join(os.path.dirname(checkpoint), 'metrics.json')) as f:
            m = json.load(f)
    except (OSError, ValueError):
        return info
    info.update({'trainClips': m.get('train_clips'), 'epochsRun': m.get('epochs_run'), 'bestEpoch': m.get('best_epoch'),
                 'device': m.get('device'), 'torch': m.get('torch'), 'lr': m.get('lr'), 'ema': m.get('ema'),
                 'augmentation': augmentation_text(m), 'initialisedFrom': m.get('init'),
                 'validationMeanRocAuc': round(m['validationMeanRocAuc'], 4),
                 'testMeanRocAuc': round(m['testMeanRocAuc'], 4)})
    return {k: v for k, v in info.items() if v is not None}


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype='<f4').tobytes()).decode('ascii')


def export(run, model_id, models_dir, fixtures_dir, data_dir, name=None, command=None, fixture_inputs=2, machine=None):
    ckpt = torch.load(os.path.join(run, 'best.pt'), map_location='cpu')
    with open(os.path.join(run, 'metrics.json')) as f:
        metrics = json.load(f)
    tags = ckpt['tags']
    model = AuralNet(ckpt['channels'], len(tags))
    model.load_state_dict(ckpt['state_dict'])
    model.eval()
    convs = fold_batch_norm(model)
    dense_w = model.dense.weight.detach().float().numpy()
    dense_b = model.dense.bias.detach().float().numpy()
    input_shape = [frontend.N_BINS, frontend.WINDOW_FRAMES, 1]
    check_shapes(convs, dense_w, dense_b, len(tags), input_shape)
    channels = [w.shape[0] for w, _ in convs]

    out = os.path.join(models_dir, model_id)
    os.makedirs(out, exist_ok=True)
    specs, blobs = [], []
    for i, (w, b) in enumerate(convs):
        k = np.transpose(w, (2, 3, 1, 0))  # torch [out,in,kh,kw] -> keras [kh,kw,in,out]
        specs += [{'name': 'conv%d/kernel' % (i + 1), 'shape': list(k.shape), 'dtype': 'float32'},
                  {'name': 'conv%d/bias' % (i + 1), 'shape': list(b.shape), 'dtype': 'float32'}]
        blobs += [k, b]
    specs += [{'name': 'tags/kernel', 'shape': [dense_w.shape[1], dense_w.shape[0]], 'dtype': 'float32'},
              {'name': 'tags/bias', 'shape': [len(tags)], 'dtype': 'float32'}]
    blobs += [dense_w.T, dense_b]
    with open(os.path.join(out, SHARD), 'wb') as f:
        for a in blobs:
            f.write(np.ascontiguousarray(a, dtype='<f4').tobytes())
    model_json = {'format': 'layers-model', 'generatedBy': 'auralscope training/export.py', 'convertedBy': None,
                  'modelTopology': keras_topology(channels, len(tags), frontend.N_BINS),
                  'weightsManifest': [{'paths': [SHARD], 'weights': specs}]}
    with open(os.path.join(out, 'model.json'), 'w') as f:
        json.dump(model_json, f, indent=1)

    with open(os.path.join(data_dir, 'train_meta.json')) as f:
        train_meta = json.load(f)
    with open(os.path.join(data_dir, 'val_meta.json')) as f:
        val_meta = json.load(f)
    with open(os.path.join(data_dir, 'test_meta.json')) as f:
        test_meta = json.load(f)
    # Tags absent from a split (only in tiny smoke runs) have no ROC-AUC: left out, never NaN in JSON.
    r4 = lambda d: {k: round(v, 4) for k, v in d.items() if v == v}  # noqa: E731
    manifest = {
        'format': 'auralscope-model@1',
        'id': model_id,
        'name': name or 'Auralscope CNN, %s channels' % ('-'.join(str(c) for c in channels)
                                                         if len(set(channels)) > 1 else str(channels[0])),
        'description': ('Choi (2016) topology: 5 x [3x3 conv, ReLU, 2x2 max-pool] on a linear STFT magnitude '
                        '(log1p-scaled), global average pooling and a sigmoid per tag; channels per layer %s. '
                        'Trained by training/train.py on %d random multi-instrument General MIDI clips of 4 s '
                        'rendered with fluidsynth and the FluidR3 GM soundfont; tested on clips rendered with '
                        'TimGM6mb, a soundfont it never heard.' % (', '.join(str(c) for c in channels), metrics['train_clips'])),
        'frontEnd': {'sampleRateHz': frontend.SAMPLE_RATE_HZ, 'nFft': frontend.N_FFT,
                     'hopSamples': frontend.HOP_SAMPLES, 'window': 'hann', 'frequency': {'kind': 'stft'},
                     'scaling': {'kind': 'log1p', 'c': frontend.LOG1P_C}},
        'inputShape': input_shape,
        'taps': [{'layer': 'pool%d' % (i + 1), 'displayName': 'Layer %d' % (i + 1), 'channels': channels[i]}
                 for i in range(N_LAYERS)],
        'output': {'layer': 'tags', 'activation': 'sigmoid'},
        'labels': tags,
        'provenance': {
            'soundfonts': {'train': train_meta['soundfont'], 'validation': val_meta['soundfont'],
                           'test': test_meta['soundfont']},
            'debianPackages': ['fluidsynth', 'fluid-soundfont-gm', 'timgm6mb-soundfont', 'python3-torch'],
            'clips': {'train': metrics['train_clips'], 'validation': metrics['val_clips'],
                      'test': metrics['test_clips']},
            'clipSeconds': round(frontend.WINDOW_SAMPLES / frontend.SAMPLE_RATE_HZ, 4),
            'seeds': {'train': train_meta['seed'], 'validation': val_meta['seed'], 'test': test_meta['seed'],
                      'trainer': metrics['seed']},
            'command': command or 'npm run train',
            'date': datetime.date.today().isoformat(),
            'epochsRun': metrics['epochs_run'], 'epochsPlanned': metrics['epochs_planned'],
            'bestEpoch': metrics['best_epoch'], 'trainingSeconds': metrics['training_seconds'],
            'framework': 'PyTorch %s (%s), batch-norm folded into the conv weights at export'
                         % (metrics.get('torch', torch.__version__), metrics.get('device', 'cpu').upper()),
            'optimizer': 'Adam, one-cycle lr %g, batch %d, binary cross-entropy' % (metrics['lr'], metrics['batch']),
            'augmentation': augmentation_text(metrics),
        },
        'metrics': {'validationRocAuc': r4(metrics['validationRocAuc']),
                    'validationMeanRocAuc': round(metrics['validationMeanRocAuc'], 4),
                    'testRocAuc': r4(metrics['testRocAuc']),
                    'testMeanRocAuc': round(metrics['testMeanRocAuc'], 4)},
    }
    if metrics.get('ema'):
        manifest['provenance']['optimizer'] += ', weights averaged (EMA, decay %g per step)' % metrics['ema']
    if metrics.get('init'):
        manifest['provenance']['initialisedFrom'] = initialised_from(metrics['init'])
    if machine:
        manifest['provenance']['machine'] = machine
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1, allow_nan=False)

    # Parity fixture: saved inputs (one at the minimum window, one longer) and the folded net's outputs,
    # checked against the trainer's own (batch-norm) model here before writing.
    xte = np.load(os.path.join(data_dir, 'test_x.npy'), mmap_mode='r')
    cases = []
    for j in range(fixture_inputs):
        x = np.asarray(xte[j], dtype=np.float32)
        if j % 2 == 1:  # the longest sliding window, 173 + 31 frames (frames are variable in model.json)
            x = np.concatenate([x, np.asarray(xte[j + 1], dtype=np.float32)[:, :31]], axis=1)
        pooled, tag_out = plain_forward(convs, dense_w, dense_b, x)
        with torch.no_grad():
            ref = torch.sigmoid(model(torch.from_numpy(x).view(1, 1, *x.shape)))[0].numpy()
        if np.max(np.abs(ref - tag_out)) > 1e-5:
            raise ExportError('batch-norm folding changed the outputs by %g' % np.max(np.abs(ref - tag_out)))
        cases.append({
            'bins': int(x.shape[0]), 'frames': int(x.shape[1]),
            # float16 LE (the stored features are float16, so this is exact), [bins][frames] row-major
            'inputFloat16Base64': base64.b64encode(np.ascontiguousarray(x, dtype='<f2').tobytes()).decode('ascii'),
            'tags': [float(v) for v in tag_out],
            'taps': {'pool%d' % (i + 1): {'shape': list(p.shape), 'mean': float(p.mean()), 'max': float(p.max())}
                     for i, p in enumerate(pooled)},
            'pool5Base64': b64(pooled[-1]),  # float32 LE, [H][W][C] row-major
        })
    os.makedirs(fixtures_dir, exist_ok=True)
    with open(os.path.join(fixtures_dir, model_id + '.json'), 'w') as f:
        json.dump({'model': model_id, 'labels': tags, 'cases': cases}, f)
    print('export: wrote %s (channels %s, labels %d) and %s' % (out, channels, len(tags),
                                                               os.path.join(fixtures_dir, model_id + '.json')))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', required=True)
    ap.add_argument('--id', required=True)
    ap.add_argument('--models', default='models')
    ap.add_argument('--fixtures', default='test/fixtures/model-parity')
    ap.add_argument('--data', default='training/data')
    ap.add_argument('--name')
    ap.add_argument('--command')
    ap.add_argument('--fixture-inputs', type=int, default=2)
    ap.add_argument('--machine', help='where it was trained, in words (written to the provenance)')
    a = ap.parse_args()
    try:
        export(a.run, a.id, a.models, a.fixtures, a.data, a.name, a.command, a.fixture_inputs, a.machine)
    except ExportError as e:
        sys.exit('export: refusing to export %s: %s' % (a.run, e))


if __name__ == '__main__':
    main()
