#!/usr/bin/env python3
"""PatchCore in plain PyTorch on the same pretrained weights and the same memory bank, for side-by-side figures.

The reference for AnomalySharp's exported PatchCore: anomalib's inference recipe written directly in PyTorch (eager
mode, batch 1, decode with Pillow included): ResNet18 layers 2 and 3 of the graph AnomalySharp packages (run by
padim_torch.py's small interpreter, so both sides use one set of weights), 3x3 average pooling, layer 3 upsampled
bilinearly to layer 2's grid, the exact nearest bank patch of every patch by one distance matrix (as anomalib's
euclidean_dist: |x|^2 - 2 x.b + |b|^2, clamped, square root), the paper's re-weighted image score (softmax over the
distances of the most anomalous patch to the 9 nearest bank neighbours of its nearest bank patch), the map upsampled
bilinearly and blurred with sigma 4.

The memory bank is read from an exported AnomalySharp PatchCore (its `patchcore_memory_bank` initializer; the
inverted-file search stores the same rows reordered), so the two sides differ only in how they search. With --fit
the bank is built here instead, by greedy k-center on a Gaussian random projection (anomalib's coreset sampler), and
the fit time is printed.

Usage: python3 bench/reference/patchcore_torch.py --data ../shared/data/magnetic_tile --threads 2 \
           --weights ResNet18.onnx (--bank patchcore.onnx | --fit [--projection-dim 64] [--ratio 0.1])
Needs Debian's python3-torch (1.13), python3-onnx, python3-pil, python3-numpy and libopenblas0-openmp (see padim_torch.py).
"""
import argparse
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from padim_torch import SIZE, OnnxResNet, auroc, batches, blur_kernel, check_blas, load, mean_bgr  # noqa: E402

NEIGHBOURS = 9


def files(data):
    train = sorted(os.path.join(data, "train", "good", f) for f in os.listdir(os.path.join(data, "train", "good")))
    test, labels = [], []
    for d in sorted(os.listdir(os.path.join(data, "test"))):
        for f in sorted(os.listdir(os.path.join(data, "test", d))):
            test.append(os.path.join(data, "test", d, f))
            labels.append(0 if d == "good" else 1)
    return train, test, np.array(labels)


def embed(net, x):
    """Locally aware patch features [B*P, 384] on layer 2's grid, and the grid's side."""
    _, f2, f3 = net(x)
    p2 = F.avg_pool2d(f2, 3, 1, 1)
    p3 = F.interpolate(F.avg_pool2d(f3, 3, 1, 1), size=p2.shape[-2:], mode="bilinear", align_corners=False)
    e = torch.cat([p2, p3], 1)
    return e.permute(0, 2, 3, 1).reshape(-1, e.shape[1]), e.shape[-1]


def squared_distances(x, bank, bank_norms):
    return (x.pow(2).sum(1, keepdim=True) - 2 * x @ bank.T + bank_norms).clamp_min(0)


def k_center_greedy(rows, count, dim, seed):
    """anomalib's coreset: random projection, start from a random row, repeatedly take the row farthest from the chosen."""
    g = torch.Generator().manual_seed(seed)
    projected = rows @ (torch.randn(rows.shape[1], dim, generator=g) / dim ** 0.5)
    chosen = [int(torch.randint(len(projected), (1,), generator=g))]
    nearest = (projected - projected[chosen[0]]).pow(2).sum(1)
    for _ in range(count - 1):
        i = int(nearest.argmax())
        chosen.append(i)
        nearest = torch.minimum(nearest, (projected - projected[i]).pow(2).sum(1))
    return rows[torch.tensor(chosen)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--weights", required=True)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--bank", help="an exported AnomalySharp PatchCore whose memory bank is searched here")
    source.add_argument("--fit", action="store_true", help="build the bank here by k-center greedy")
    p.add_argument("--ratio", type=float, default=0.1)
    p.add_argument("--projection-dim", type=int, default=64)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--scores", help="write the image scores here, one per line, in test-set order")
    args = p.parse_args()
    check_blas()
    torch.set_num_threads(args.threads)
    net = OnnxResNet(args.weights).eval()
    mean = mean_bgr(args.weights)
    train, test, labels = files(args.data)

    with torch.no_grad():
        fit_seconds = None
        if args.bank:
            init = next(t for t in onnx.load(args.bank).graph.initializer if t.name.startswith("patchcore_memory_bank"))
            bank = torch.from_numpy(numpy_helper.to_array(init).astype(np.float32).copy())
        else:
            start = time.perf_counter()
            rows = torch.cat([embed(net, x)[0] for x in batches(train, mean)])
            bank = k_center_greedy(rows, max(1, int(len(rows) * args.ratio)), args.projection_dim, args.seed)
            del rows
            fit_seconds = time.perf_counter() - start
        bank_norms = bank.pow(2).sum(1)
        kernel, radius = blur_kernel(4.0)

        scores = []
        start = time.perf_counter()
        for path in test:
            rows, side = embed(net, load(path, mean))
            d2 = squared_distances(rows, bank, bank_norms)
            nearest, nn = d2.min(1)
            patch = nearest.sqrt()
            worst = int(patch.argmax())
            centre = bank[nn[worst]].unsqueeze(0)
            support = squared_distances(centre, bank, bank_norms).topk(NEIGHBOURS, largest=False).indices[0]
            weights = torch.softmax((bank[support] - rows[worst]).norm(dim=1), 0)
            scores.append(float((1 - weights[0]) * patch[worst]))
            m = F.interpolate(patch.view(1, 1, side, side), size=(SIZE, SIZE), mode="bilinear", align_corners=False)
            m = F.conv2d(F.pad(m, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
            m = F.conv2d(F.pad(m, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
        seconds = time.perf_counter() - start
    if args.scores:
        with open(args.scores, "w") as f:
            f.write("\n".join(f"{s:.6f}" for s in scores) + "\n")
    fit = f"fit {fit_seconds:.1f} s ({len(train)} images), " if fit_seconds is not None else ""
    print(f"{fit}bank {bank.shape[0]} x {bank.shape[1]}, exact search, batch 1: {len(test) / seconds:.2f} images/s incl. decode, "
          f"image AUROC {auroc(labels, np.array(scores)):.3f}, {args.threads} threads")


if __name__ == "__main__":
    main()
