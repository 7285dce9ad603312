#!/usr/bin/env python3
"""PaDiM in plain PyTorch on the same pretrained weights, for side-by-side speed figures.

The reference the benchmarks compare AnomalySharp with: anomalib's PaDiM recipe written directly in PyTorch (eager
mode, the network's Conv and BatchNorm run as separate layers in eval mode as torchvision's ResNet18 does), on the
ResNet18 that AnomalySharp packages (Microsoft.ML.DnnImageFeaturizer.ResNet18's ONNX graph: its weights are read
with the onnx package and run by a small interpreter of the graph's own operators, so both sides use one set of
weights). Decoding with Pillow, one process, no data-loader workers.

Same algorithm as AnomalySharp's PaDiM: layers 1-3 at 256 px, 100 of the 448 channels chosen at random, one
Gaussian per feature position (covariance + 0.01 I), Mahalanobis distance, bilinear upsampling, Gaussian blur
sigma 4, image score = the map's maximum. The channel choice draws from PyTorch's generator, so the chosen channels
(and the AUROC) differ slightly from AnomalySharp's.

Usage: python3 bench/reference/padim_torch.py --data ../shared/data/magnetic_tile --threads 2 --weights ResNet18.onnx
Needs Debian's python3-torch (1.13), python3-onnx, python3-pil, python3-numpy and libopenblas0-openmp: Debian's torch
does its matrix products through the system's libblas.so.3, which without OpenBLAS is the unoptimized reference BLAS.
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
from PIL import Image

SIZE = 256
LAYER_BLOCKS = [2, 2, 2, 3]  # this graph's ResNet18 has three blocks in layer4


class OnnxResNet(torch.nn.Module):
    """Runs the ONNX graph's nodes (Conv, BatchNormalization, Relu, Add, MaxPool) up to the deepest tapped layer."""

    def __init__(self, path, layers=3):
        super().__init__()
        graph = onnx.load(path).graph
        self.params = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in graph.initializer}
        consumers = {}
        for n in graph.node:
            for i in n.input:
                consumers.setdefault(i, []).append(n)
        adds = [n for n in graph.node if n.op_type == "Add"]
        ends, k = [], -1
        for blocks in LAYER_BLOCKS[:layers]:
            k += blocks
            ends.append(next(c for c in consumers[adds[k].output[0]] if c.op_type == "Relu").output[0])
        self.outputs = ends
        self.nodes = []
        for n in graph.node:
            self.nodes.append(n)
            if n.output[0] == ends[-1]:
                break
        self.input = graph.input[0].name

    @staticmethod
    def _attrs(node):
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    def forward(self, x):
        values = {self.input: x}
        for n in self.nodes:
            a = self._attrs(n)
            ins = [values[i] if i in values else self.params[i] for i in n.input]
            if n.op_type == "Conv":
                pads = list(a.get("pads", [0, 0, 0, 0]))
                y = F.pad(ins[0], (pads[1], pads[3], pads[0], pads[2])) if any(pads) else ins[0]
                y = F.conv2d(y, ins[1], ins[2] if len(ins) > 2 else None, stride=tuple(a["strides"]), groups=a.get("group", 1))
            elif n.op_type == "BatchNormalization":
                y = F.batch_norm(ins[0], ins[3], ins[4], ins[1], ins[2], False, 0.0, a.get("epsilon", 1e-5))
            elif n.op_type == "Relu":
                y = F.relu(ins[0])
            elif n.op_type == "Add":
                y = ins[0] + ins[1]
            elif n.op_type == "MaxPool":
                pads = list(a.get("pads", [0, 0, 0, 0]))
                y = F.pad(ins[0], (pads[1], pads[3], pads[0], pads[2]), value=float("-inf"))
                y = F.max_pool2d(y, tuple(a["kernel_shape"]), tuple(a["strides"]))
            else:
                raise ValueError(f"operator {n.op_type} is not handled by this reference")
            values[n.output[0]] = y
        return [values[o] for o in self.outputs]


def check_blas():
    """Debian's torch calls the system's libblas.so.3; the reference BLAS there would make PyTorch look far slower."""
    blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    if os.path.exists(blas) and "openblas" not in blas and "blis" not in blas:
        sys.exit(f"libblas.so.3 is {blas}, the unoptimized reference BLAS: apt-get install libopenblas0-openmp")


def mean_bgr(weights):
    prep = os.path.join(os.path.dirname(os.path.dirname(weights)), "ResNetPrepOnnx", "ResNetPreprocess.onnx")
    image = next(numpy_helper.to_array(t) for t in onnx.load(prep).graph.initializer if len(t.dims) == 4)
    return torch.tensor(image.reshape(3, -1).mean(1), dtype=torch.float32).view(1, 3, 1, 1)


def load(path, mean):
    rgb = Image.open(path).convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(rgb, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
    return x.flip(1) - mean  # BGR 0..255 minus the mean, the network's own input


def batches(files, mean, size=16):
    for i in range(0, len(files), size):
        yield torch.cat([load(f, mean) for f in files[i:i + size]])


def blur_kernel(sigma):
    radius = int(4 * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-x * x / (2 * sigma * sigma))
    return (k / k.sum()), radius


def auroc(labels, scores):
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    return (ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum())


def test_images(data):
    """The test images of an MVTec-layout folder, sorted, and their labels (0 for test/good)."""
    test, labels = [], []
    for d in sorted(os.listdir(os.path.join(data, "test"))):
        for f in sorted(os.listdir(os.path.join(data, "test", d))):
            test.append(os.path.join(data, "test", d, f))
            labels.append(0 if d == "good" else 1)
    return test, labels


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--weights", required=True)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    check_blas()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    net = OnnxResNet(args.weights).eval()
    mean = mean_bgr(args.weights)
    idx = torch.randperm(64 + 128 + 256)[:100].sort().values
    train = sorted(os.path.join(args.data, "train", "good", f) for f in os.listdir(os.path.join(args.data, "train", "good")))
    test, labels = test_images(args.data)

    def embed(x):
        f1, f2, f3 = net(x)
        size = f1.shape[-2:]
        e = torch.cat([f1, F.interpolate(f2, size=size, mode="nearest"), F.interpolate(f3, size=size, mode="nearest")], 1)
        return e.index_select(1, idx).flatten(2)  # [B, C, P]

    with torch.no_grad():
        fit_start = time.perf_counter()
        n, s1, s2 = 0, None, None
        for x in batches(train, mean):
            e = embed(x)
            s1 = e.sum(0) if s1 is None else s1 + e.sum(0)
            outer = torch.einsum("bcp,bdp->pcd", e, e)
            s2 = outer if s2 is None else s2 + outer
            n += e.shape[0]
        mu = (s1 / n).T.contiguous()  # [P, C]
        cov = (s2 - n * torch.einsum("pc,pd->pcd", mu, mu)) / (n - 1) + 0.01 * torch.eye(mu.shape[1])
        inv = torch.linalg.inv(cov)
        fit_seconds = time.perf_counter() - fit_start

        kernel, radius = blur_kernel(4.0)
        predict_start = time.perf_counter()
        scores = []
        for x in batches(test, mean):
            d = embed(x).permute(0, 2, 1) - mu  # [B, P, C]
            dist = torch.einsum("bpc,pcd,bpd->bp", d, inv, d).clamp_min(0).sqrt()
            side = int(round(dist.shape[1] ** 0.5))
            m = F.interpolate(dist.view(-1, 1, side, side), size=(SIZE, SIZE), mode="bilinear", align_corners=False)
            m = F.conv2d(F.pad(m, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
            m = F.conv2d(F.pad(m, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
            scores.extend(m.flatten(1).amax(1).tolist())
        predict_seconds = time.perf_counter() - predict_start
    total = time.perf_counter() - start
    print(f"fit {fit_seconds:.1f} s ({len(train)} images), predict {len(test) / predict_seconds:.1f} images/s incl. decode, "
          f"image AUROC {auroc(np.array(labels), np.array(scores)):.3f}, whole run {total:.1f} s, {args.threads} threads")


if __name__ == "__main__":
    main()
