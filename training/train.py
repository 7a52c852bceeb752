"""Train the paper's network (5 x [conv3x3, ReLU, maxpool 2x2], GAP, dense, sigmoid) on the
rendered clips; early stopping on validation mean ROC-AUC.

    nice -n 10 /usr/bin/python3 training/train.py --data training/data --run training/runs/cnn16 \
        --channels 16 --epochs 8

Writes <run>/best.pt (state dict with batch-norm, folded at export), <run>/metrics.json and
<run>/train.log. Batch-norm is used in training only; export.py folds it into the conv weights so
the browser model is plain conv + ReLU + pool (Choi's deconvolution stays exact).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    sys.exit('train: PyTorch not found for %s: install the Debian package `python3-torch`' % sys.executable)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frontend  # noqa: E402

N_LAYERS = 5


def parse_channels(spec):
    """Per-layer channel counts from 16, '16' (uniform) or '16-16-32-64-64' / a list (one per layer)."""
    if isinstance(spec, (list, tuple)):
        out = [int(c) for c in spec]
    else:
        out = [int(c) for c in str(spec).split('-')]
    if len(out) == 1:
        out = out * N_LAYERS
    if len(out) != N_LAYERS or min(out) < 1:
        raise ValueError('expected 1 or %d positive channel counts, got %r' % (N_LAYERS, spec))
    return out


class AuralNet(nn.Module):
    """The paper's topology; batch-norm after each conv during training (folded at export)."""

    def __init__(self, channels, n_tags, batch_norm=True):
        super().__init__()
        self.channels = parse_channels(channels)
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        for i, c in enumerate(self.channels):
            self.convs.append(nn.Conv2d(1 if i == 0 else self.channels[i - 1], c, 3, padding=1))
            self.bns.append(nn.BatchNorm2d(c) if batch_norm else nn.Identity())
        self.dense = nn.Linear(self.channels[-1], n_tags)

    def forward(self, x, taps=False):
        """x: [N, 1, bins, frames] scaled spectrogram -> logits [N, tags] (and pooled maps)."""
        pooled = []
        for conv, bn in zip(self.convs, self.bns):
            x = F.max_pool2d(F.relu(bn(conv(x))), 2, 2)
            pooled.append(x)
        logits = self.dense(x.mean(dim=(2, 3)))
        return (logits, pooled) if taps else logits


def roc_auc(y_true, score):
    """Rank-based ROC-AUC (Mann-Whitney U), ties get their average rank; NaN if one class only."""
    y_true = np.asarray(y_true).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float('nan')
    order = np.argsort(score, kind='mergesort')
    s = score[order]
    ranks = np.empty(len(s), dtype=np.float64)
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i: j + 1] = 0.5 * (i + j) + 1.0
        i = j + 1
    r = np.empty_like(ranks)
    r[order] = ranks
    return float((r[y_true].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def per_tag_auc(y, p, tags):
    """Per-tag ROC-AUC dict and its mean (over tags with both classes present)."""
    aucs = {t: roc_auc(y[:, i], p[:, i]) for i, t in enumerate(tags)}
    vals = [v for v in aucs.values() if not math.isnan(v)]
    return aucs, float(np.mean(vals)) if vals else float('nan')


def predict(model, x16, batch=64, device='cpu'):
    """Sigmoid outputs for a float16 array [N, bins, frames] (eval mode, no grad)."""
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(x16), batch):
            xb = torch.from_numpy(x16[s: s + batch].astype(np.float32)).unsqueeze(1).to(device)
            out.append(torch.sigmoid(model(xb)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.dense.out_features))


def augment(xb, yb, gen, mix_fraction=0.33):
    """Feature-domain augmentation: random gain, smooth random EQ, and mixing of clip pairs.

    xb holds log1p(C|X|); |X| is recovered exactly with expm1, modified, and re-scaled. mix_fraction of
    the clips (0: none) are mixed with another clip of the batch. The random
    draws come from the CPU generator in a fixed order (same on every device); the arithmetic runs
    where xb is (the GPU, when training there).
    """
    n, bins, _ = xb.shape
    dev = xb.device
    mag = torch.expm1(xb.clamp(min=0))
    gain_db = torch.empty(n, 1, 1).uniform_(-15, 15, generator=gen).to(dev)
    f = torch.linspace(0, 1, bins).view(1, bins, 1).to(dev)
    tilt = torch.empty(n, 1, 1).uniform_(-12, 12, generator=gen).to(dev) * (f - 0.3)
    fc = torch.rand(n, 1, 1, generator=gen).to(dev)
    bw = torch.empty(n, 1, 1).uniform_(0.03, 0.3, generator=gen).to(dev)
    bump = torch.empty(n, 1, 1).uniform_(-10, 10, generator=gen).to(dev) * torch.exp(-0.5 * ((f - fc) / bw) ** 2)
    mag = mag * 10 ** ((gain_db + tilt + bump) / 20)
    if mix_fraction <= 0:
        return torch.log1p(mag), yb
    mix = (torch.rand(n, generator=gen) < mix_fraction).to(dev)
    if mix.any():
        perm = torch.randperm(n, generator=gen).to(dev)
        rel = 10 ** (torch.empty(n, 1, 1).uniform_(-10, 3, generator=gen).to(dev) / 20)
        mixed = torch.sqrt(mag ** 2 + (rel * mag[perm]) ** 2)
        mag = torch.where(mix.view(n, 1, 1), mixed, mag)
        yb = torch.where(mix.view(n, 1), torch.maximum(yb, yb[perm]), yb)
    return torch.log1p(mag), yb


def log(path, msg):
    line = '[%s] %s' % (time.strftime('%H:%M:%S'), msg)
    print(line, flush=True)
    with open(path, 'a') as f:
        f.write(line + '\n')


def load_split(data, split, limit=None):
    x = np.load(os.path.join(data, split + '_x.npy'), mmap_mode='r')
    y = np.load(os.path.join(data, split + '_y.npy'))
    if limit:
        x, y = x[:limit], y[:limit]
    return np.ascontiguousarray(x), y.astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default='training/data')
    ap.add_argument('--run', required=True)
    ap.add_argument('--channels', default='16', help="uniform ('16') or per layer ('16-16-32-64-64')")
    ap.add_argument('--epochs', type=int, default=12)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--patience', type=int, default=3)
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--max-minutes', type=float, default=0, help='stop after this wall time (0: no limit)')
    ap.add_argument('--evals-per-epoch', type=int, default=1)
    ap.add_argument('--train-limit', type=int, default=0)
    ap.add_argument('--no-augment', action='store_true')
    ap.add_argument('--mix', type=float, default=0.33, help='fraction of each batch mixed with another clip of the '
                    'batch (labels OR-ed); 0 keeps the gain and EQ augmentation only')
    ap.add_argument('--init', default='', help='start from this best.pt (same channels and tags) instead of random weights')
    ap.add_argument('--warmup', type=float, default=0.1, help='fraction of the one-cycle schedule spent warming up')
    ap.add_argument('--ema', type=float, default=0, help='evaluate and keep an exponential moving average of the '
                    'weights with this decay per step (0: off; 0.999 averages about the last 1,000 steps)')
    ap.add_argument('--device', default='cpu', help="'cpu' (default), 'cuda' or 'auto' (cuda when available); "
                    'augmentation and batching stay on the CPU with the same seeded generator either way')
    a = ap.parse_args()
    device = a.device
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if device == 'cuda' and not torch.cuda.is_available():
        sys.exit('train: --device cuda, but this PyTorch sees no CUDA device')

    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.set_num_threads(a.threads)
    os.makedirs(a.run, exist_ok=True)
    logf = os.path.join(a.run, 'train.log')
    with open(os.path.join(a.data, 'train_meta.json')) as f:
        tags = json.load(f)['tags']
    xtr, ytr = load_split(a.data, 'train', a.train_limit or None)
    xva, yva = load_split(a.data, 'val')
    xte, yte = load_split(a.data, 'test')
    log(logf, 'train %s val %s test %s, channels %s, device %s (torch %s), args %s'
        % (xtr.shape, xva.shape, xte.shape, a.channels, device, torch.__version__, vars(a)))

    model = AuralNet(a.channels, len(tags)).to(device)
    channels = model.channels
    if a.init:
        ck = torch.load(a.init, map_location='cpu')
        if ck.get('tags') != tags or parse_channels(ck.get('channels')) != channels:
            sys.exit('train: --init %s: expected channels %s and tags %s, got %s and %s'
                     % (a.init, channels, tags, ck.get('channels'), ck.get('tags')))
        model.load_state_dict(ck['state_dict'])
        log(logf, 'initialised from %s' % a.init)
    ema = None
    if a.ema:
        ema = AuralNet(channels, len(tags)).to(device)
        ema.load_state_dict(model.state_dict())
        ema.eval()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    gen = torch.Generator().manual_seed(a.seed)
    steps_per_epoch = int(math.ceil(len(xtr) / a.batch))
    # Evaluate at evenly spaced points of each epoch, the last one at the epoch's end.
    eval_points = {int(round(k * steps_per_epoch / a.evals_per_epoch)) for k in range(1, a.evals_per_epoch + 1)}
    total_steps = steps_per_epoch * a.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=total_steps, pct_start=a.warmup)
    best = {'val_mean': -1.0}
    bad_evals = 0
    t_start = time.time()
    step = 0
    stop = False
    history = []
    for epoch in range(a.epochs):
        order = torch.randperm(len(xtr), generator=gen).numpy()
        model.train()
        run_loss = 0.0
        for bi in range(steps_per_epoch):
            idx = np.sort(order[bi * a.batch: (bi + 1) * a.batch])
            xb = torch.from_numpy(xtr[idx].astype(np.float32)).to(device)
            yb = torch.from_numpy(ytr[idx]).to(device)
            if not a.no_augment:
                xb, yb = augment(xb, yb, gen, a.mix)
            model.train()
            loss = F.binary_cross_entropy_with_logits(model(xb.unsqueeze(1)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if ema is not None:
                with torch.no_grad():
                    for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
                        if e.dtype.is_floating_point:
                            e.mul_(a.ema).add_(m, alpha=1 - a.ema)
                        else:
                            e.copy_(m)
            run_loss += loss.item()
            if step % 50 == 0:
                log(logf, 'epoch %d step %d/%d loss %.4f (%.1f s)' % (epoch + 1, step, total_steps, run_loss / 50,
                                                                     time.time() - t_start))
                run_loss = 0.0
            over_time = a.max_minutes and (time.time() - t_start) > a.max_minutes * 60
            if (bi + 1) in eval_points or over_time:
                judged = model if ema is None else ema
                pva = predict(judged, xva, device=device)
                va, va_mean = per_tag_auc(yva, pva, tags)
                pte = predict(judged, xte, device=device)
                te, te_mean = per_tag_auc(yte, pte, tags)
                history.append({'step': step, 'epoch': round(step / steps_per_epoch, 2), 'val_mean': va_mean,
                                'test_mean': te_mean, 'seconds': round(time.time() - t_start, 1)})
                log(logf, 'eval step %d (epoch %.2f): val mean ROC-AUC %.4f, test (unseen soundfont) %.4f'
                    % (step, step / steps_per_epoch, va_mean, te_mean))
                if va_mean > best['val_mean']:
                    best = {'val_mean': va_mean, 'val': va, 'test_mean': te_mean, 'test': te, 'step': step,
                            'epoch': round(step / steps_per_epoch, 2)}
                    torch.save({'state_dict': {k: v.cpu() for k, v in judged.state_dict().items()}, 'channels': channels, 'tags': tags},
                               os.path.join(a.run, 'best.pt'))
                    bad_evals = 0
                else:
                    bad_evals += 1
                    if bad_evals >= a.patience:
                        log(logf, 'early stop: no validation improvement in %d evaluations' % a.patience)
                        stop = True
                if over_time:
                    log(logf, 'stop: time budget of %.0f min reached' % a.max_minutes)
                    stop = True
            if stop:
                break
        if stop:
            break
    seconds = time.time() - t_start
    metrics = {
        'tags': tags, 'channels': channels, 'best_step': best.get('step'), 'best_epoch': best.get('epoch'),
        'epochs_run': round(step / steps_per_epoch, 2), 'epochs_planned': a.epochs,
        'training_seconds': round(seconds, 1), 'seed': a.seed, 'batch': a.batch, 'lr': a.lr,
        'augment': not a.no_augment, 'mix': a.mix, 'init': a.init or None, 'ema': a.ema or None, 'warmup': a.warmup, 'device': device, 'torch': torch.__version__, 'train_clips': len(xtr), 'val_clips': len(xva), 'test_clips': len(xte),
        'validationRocAuc': best.get('val'), 'validationMeanRocAuc': best['val_mean'],
        'testRocAuc': best.get('test'), 'testMeanRocAuc': best.get('test_mean'), 'history': history,
    }
    with open(os.path.join(a.run, 'metrics.json'), 'w') as f:
        json.dump(metrics, f, indent=1)
    log(logf, 'done in %.0f s; best at step %s: val mean %.4f, test mean %.4f'
        % (seconds, best.get('step'), best['val_mean'], best.get('test_mean') or float('nan')))
    for t in tags:
        log(logf, '  %-22s val %.4f  test %.4f' % (t, best['val'][t], best['test'][t]))


if __name__ == '__main__':
    main()
