"""PyTorch reference timing for `npm run bench`: the paper's network (training/train.py AuralNet,
without batch-norm, as exported) on one [1, 1, bins, frames] input, CPU.

    /usr/bin/python3 training/bench_torch.py --channels 16 --tags 10 --runs 50 --threads 1,2

Prints one JSON object: per thread count, the median and p95 (ms) of a forward pass (no_grad) and
of a forward pass plus a backward to the input from one pool5 feature's summed map (the
deconvolution-like cost: the same transposed convolutions and unpooling, run by autograd).
"""
import argparse
import json
import math
import os
import sys
import time

try:
    import torch
except ImportError:
    print(json.dumps({'error': 'PyTorch not found for %s (Debian: python3-torch)' % sys.executable}))
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import AuralNet  # noqa: E402


def stats(ms):
    """Median and p95 (nearest rank) of a list of milliseconds."""
    s = sorted(ms)
    n = len(s)
    median = s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
    return {'medianMs': median, 'p95Ms': s[max(0, math.ceil(0.95 * n) - 1)], 'runs': n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--channels', default='16')
    ap.add_argument('--tags', type=int, default=10)
    ap.add_argument('--bins', type=int, default=257)
    ap.add_argument('--frames', type=int, default=173)
    ap.add_argument('--runs', type=int, default=50)
    ap.add_argument('--threads', default='1,2')
    a = ap.parse_args()
    torch.manual_seed(5)
    net = AuralNet(a.channels, a.tags, batch_norm=False).eval()
    x0 = torch.rand(1, 1, a.bins, a.frames) * 3
    out = {'torch': torch.__version__, 'channels': net.channels, 'input': [1, 1, a.bins, a.frames], 'threads': {}}
    for n in [int(t) for t in a.threads.split(',')]:
        torch.set_num_threads(n)
        fwd, bwd = [], []
        for i in range(a.runs + 3):  # 3 warm-up runs
            t0 = time.perf_counter()
            with torch.no_grad():
                net(x0)
            t1 = time.perf_counter()
            x = x0.clone().requires_grad_(True)
            _, pooled = net(x, taps=True)
            pooled[-1][:, 0].sum().backward()
            t2 = time.perf_counter()
            if i >= 3:
                fwd.append(1000 * (t1 - t0))
                bwd.append(1000 * (t2 - t1))
        out['threads'][str(n)] = {'forward': stats(fwd), 'forwardBackward': stats(bwd)}
    print(json.dumps(out))


if __name__ == '__main__':
    main()
