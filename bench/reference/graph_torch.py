#!/usr/bin/env python3
"""An exported AnomalySharp model run by PyTorch, operator by operator, for side-by-side speed figures.

The reference for the trained models (STFPM, FastFlow, Reverse Distillation) and the DFM sample: their exported ONNX
file holds the whole algorithm (frozen network, learned network, anomaly map, blur, score) and its trained weights,
so running its operators in PyTorch eager mode (F.conv2d, F.conv_transpose2d, F.layer_norm, F.interpolate, ...) is
the same algorithm on the same weights, as anomalib would run it: one PyTorch kernel per layer, no graph compiler.
What differs from anomalib's modules is only the bookkeeping of this small interpreter (a dictionary look-up per
operator), and that the export has folded each batch norm into its convolution (anomalib keeps them separate, which
costs PyTorch a little more).

Same protocol as the bench's child for our side (DeployBench.MeasureOne): image AUROC of the file's normalized score
over the whole test set in batches of 16, then images/s at batch 1 (after one warm-up pass) and batch 16 over the
first 64 test images; decode (Pillow, resized antialiased bilinear to the file's input size, RGB 0..1) included.

Usage: python3 bench/reference/graph_torch.py --model stfpm.onnx --data ../shared/data/magnetic_tile --threads 2
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
from PIL import Image

from padim_torch import auroc, check_blas, test_images


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def text(value, default):
    return value.decode() if isinstance(value, bytes) else (value if value is not None else default)


def ints(t):
    return [int(v) for v in t.flatten().tolist()]


def pad_pairs(pads, rank):
    """ONNX pads [b1..bn, e1..en] as F.pad's (last dim first) pairs over the spatial dims; the first two must be 0."""
    begin, end = pads[:rank], pads[rank:]
    if any(begin[:2]) or any(end[:2]):
        raise ValueError("padding of the batch or channel axis is not handled by this reference")
    out = []
    for d in reversed(range(2, rank)):
        out += [begin[d], end[d]]
    return out


def reduce_axes(a, ins, x):
    """Reduction axes from the attribute (opset < 18, except ReduceSum) or the second input; None means all."""
    if len(ins) > 1 and ins[1] is not None:
        return ints(ins[1])
    axes = a.get("axes")
    return list(axes) if axes is not None else list(range(x.dim()))


def op(node):
    """The PyTorch function of one ONNX node: inputs -> one output or a tuple of outputs."""
    t, a = node.op_type, attrs(node)
    if t == "Conv":
        pads = list(a.get("pads", [0, 0, 0, 0]))
        stride, dil, groups = tuple(a.get("strides", [1, 1])), tuple(a.get("dilations", [1, 1])), a.get("group", 1)
        if pads[0] == pads[2] and pads[1] == pads[3]:
            return lambda x, w, b=None: F.conv2d(x, w, b, stride, (pads[0], pads[1]), dil, groups)
        pairs = [pads[1], pads[3], pads[0], pads[2]]  # a Conv's pads are spatial only: [top, left, bottom, right]
        return lambda x, w, b=None: F.conv2d(F.pad(x, pairs), w, b, stride, 0, dil, groups)
    if t == "ConvTranspose":
        pads = list(a.get("pads", [0, 0, 0, 0]))
        if pads[0] != pads[2] or pads[1] != pads[3]:
            raise ValueError("asymmetric ConvTranspose padding is not handled by this reference")
        stride, outpad, groups = tuple(a.get("strides", [1, 1])), tuple(a.get("output_padding", [0, 0])), a.get("group", 1)
        return lambda x, w, b=None: F.conv_transpose2d(x, w, b, stride, (pads[0], pads[1]), outpad, groups, tuple(a.get("dilations", [1, 1])))
    if t == "BatchNormalization":
        eps = a.get("epsilon", 1e-5)
        return lambda x, s, b, m, v: F.batch_norm(x, m, v, s, b, False, 0.0, eps)
    if t == "MaxPool":
        pads, k, s = list(a.get("pads", [0, 0, 0, 0])), tuple(a["kernel_shape"]), tuple(a.get("strides", a["kernel_shape"]))
        if pads[0] == pads[2] and pads[1] == pads[3]:
            return lambda x: F.max_pool2d(x, k, s, (pads[0], pads[1]))
        pairs = [pads[1], pads[3], pads[0], pads[2]]
        return lambda x: F.max_pool2d(F.pad(x, pairs, value=float("-inf")), k, s)
    if t == "AveragePool":
        pads, k, s = list(a.get("pads", [0, 0, 0, 0])), tuple(a["kernel_shape"]), tuple(a.get("strides", a["kernel_shape"]))
        include = bool(a.get("count_include_pad", 0))
        return lambda x: F.avg_pool2d(x, k, s, (pads[0], pads[1]), count_include_pad=include)
    if t == "LayerNormalization":
        axis, eps = a.get("axis", -1), a.get("epsilon", 1e-5)
        return lambda x, w, b=None: F.layer_norm(x, x.shape[axis:], w, b, eps)
    if t == "Resize":
        mode = text(a.get("mode"), "nearest")
        coords = text(a.get("coordinate_transformation_mode"), "half_pixel")
        if mode == "linear":
            if coords not in ("half_pixel", "pytorch_half_pixel", "align_corners"):
                raise ValueError(f"Resize coordinate mode {coords} is not handled by this reference")
            kind, corners = "bilinear", coords == "align_corners"
        elif mode == "nearest" and coords == "asymmetric" and text(a.get("nearest_mode"), "round_prefer_floor") == "floor":
            kind, corners = "nearest", None
        else:
            raise ValueError(f"Resize mode {mode} / {coords} is not handled by this reference")

        def resize(x, roi=None, scales=None, sizes=None):
            if sizes is not None and sizes.numel() > 0:
                return F.interpolate(x, size=ints(sizes)[2:], mode=kind, align_corners=corners)
            return F.interpolate(x, scale_factor=[float(v) for v in scales.tolist()[2:]], mode=kind, align_corners=corners)
        return resize
    if t == "Pad":
        mode = text(a.get("mode"), "constant")

        def pad(x, pads, value=None, axes=None):
            pairs = pad_pairs(ints(pads), x.dim())
            if mode == "constant":
                return F.pad(x, pairs, value=float(value) if value is not None else 0.0)
            return F.pad(x, pairs, mode={"reflect": "reflect", "edge": "replicate"}[mode])
        return pad
    if t == "Gather":
        axis = a.get("axis", 0)

        def gather(x, idx):
            idx = idx.long()
            if idx.dim() == 0:
                return x.select(axis, int(idx))
            out = x.index_select(axis, idx.flatten())
            return out.reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])
        return gather
    if t == "Shape":
        start, end = a.get("start", 0), a.get("end")
        return lambda x: torch.tensor(list(x.shape)[start:end], dtype=torch.int64)
    if t == "Slice":
        def slice_(x, starts, ends, axes=None, steps=None):
            axes_ = ints(axes) if axes is not None else list(range(len(ints(starts))))
            steps_ = ints(steps) if steps is not None else [1] * len(axes_)
            index = [slice(None)] * x.dim()
            for ax, s, e, st in zip(axes_, ints(starts), ints(ends), steps_):
                if st != 1:
                    raise ValueError("Slice with a step is not handled by this reference")
                n = x.shape[ax]
                index[ax] = slice(max(0, min(n, s if s >= 0 else s + n)), max(0, min(n, e if e >= 0 else e + n)))
            return x[tuple(index)]
        return slice_
    if t == "Concat":
        axis = a["axis"]
        return lambda *xs: torch.cat(xs, axis)
    if t == "Split":
        axis = a.get("axis", 0)
        count = len(node.output)

        def split(x, sizes=None):
            if sizes is None:
                return torch.tensor_split(x, count, axis)
            return torch.split(x, ints(sizes), axis)
        return split
    if t == "ReduceL2":
        keep = bool(a.get("keepdims", 1))
        return lambda x, *r: torch.linalg.vector_norm(x, dim=reduce_axes(a, (x,) + r, x), keepdim=keep)
    if t == "ReduceSumSquare":
        keep = bool(a.get("keepdims", 1))
        return lambda x, *r: (x * x).sum(dim=reduce_axes(a, (x,) + r, x), keepdim=keep)
    if t == "ReduceSum":
        keep = bool(a.get("keepdims", 1))
        return lambda x, *r: x.sum(dim=reduce_axes(a, (x,) + r, x), keepdim=keep)
    if t == "ReduceMean":
        keep = bool(a.get("keepdims", 1))
        return lambda x, *r: x.mean(dim=reduce_axes(a, (x,) + r, x), keepdim=keep)
    if t == "ReduceMax":
        keep = bool(a.get("keepdims", 1))
        return lambda x, *r: x.amax(dim=reduce_axes(a, (x,) + r, x), keepdim=keep)
    if t == "Clip":
        return lambda x, lo=None, hi=None: torch.clamp(x, None if lo is None else float(lo), None if hi is None else float(hi))
    if t == "Max":
        def maximum(*xs):
            out = xs[0]
            for x in xs[1:]:
                out = torch.maximum(out, x)
            return out
        return maximum
    if t == "Reshape":
        return lambda x, shape: x.reshape([x.shape[i] if v == 0 else v for i, v in enumerate(ints(shape))])
    if t == "Transpose":
        perm = a.get("perm")
        return lambda x: x.permute(perm if perm is not None else list(reversed(range(x.dim()))))
    if t == "Unsqueeze":
        def unsqueeze(x, axes=None):
            for ax in sorted(ints(axes) if axes is not None else a["axes"]):
                x = x.unsqueeze(ax)
            return x
        return unsqueeze
    if t == "Flatten":
        axis = a.get("axis", 1)
        return lambda x: x.reshape(int(np.prod(x.shape[:axis])), -1)
    if t == "Softmax":
        axis = a.get("axis", -1)
        return lambda x: torch.softmax(x, axis)
    simple = {
        "Relu": F.relu, "Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div, "Neg": torch.neg,
        "Exp": torch.exp, "Atan": torch.atan, "Sqrt": torch.sqrt, "Pow": torch.pow, "Tanh": torch.tanh,
        "Sigmoid": torch.sigmoid, "MatMul": torch.matmul, "Abs": torch.abs, "Log": torch.log,
        "Identity": lambda x: x,
    }
    if t in simple:
        return simple[t]
    raise ValueError(f"operator {t} is not handled by this reference")


class TorchGraph:
    """The exported graph's nodes, in order, each as one PyTorch call; initializers become tensors once."""

    def __init__(self, path):
        model = onnx.load(path)
        graph = model.graph
        self.meta = {p.key: p.value for p in model.metadata_props}
        self.params = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in graph.initializer}
        self.steps = [(op(n), list(n.input), list(n.output)) for n in graph.node]
        self.input = graph.input[0].name
        self.outputs = [o.name for o in graph.output]

    def __call__(self, x):
        values = dict(self.params)
        values[self.input] = x
        for fn, ins, outs in self.steps:
            args = [values[i] if i else None for i in ins]
            while args and args[-1] is None:
                args.pop()
            y = fn(*args)
            if len(outs) == 1:
                values[outs[0]] = y
            else:
                for name, v in zip(outs, y):
                    values[name] = v
        return [values[o] for o in self.outputs]


def load(path, height, width):
    rgb = Image.open(path).convert("RGB").resize((width, height), Image.BILINEAR)
    return torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="an exported AnomalySharp .onnx file")
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--weights", help="ignored (the file holds its own weights); accepted for the bench's common arguments")
    args = p.parse_args()
    check_blas()
    torch.set_num_threads(args.threads)
    net = TorchGraph(args.model)
    height, width = int(net.meta["anomalysharp.image_height"]), int(net.meta["anomalysharp.image_width"])
    score = net.outputs.index("score")
    test, labels = test_images(args.data)

    def predict(files):
        return net(torch.cat([load(f, height, width) for f in files]))[score].flatten().tolist()

    with torch.no_grad():
        scores = []
        for i in range(0, len(test), 16):
            scores += predict(test[i:i + 16])
        speed = test[:64]

        def rate(batch):
            start = time.perf_counter()
            for i in range(0, len(speed), batch):
                predict(speed[i:i + batch])
            return len(speed) / (time.perf_counter() - start)
        rate(1)
        b1, b16 = rate(1), rate(16)
    print(f"{net.meta.get('anomalysharp.model', '?')}: b1 {b1:.1f} images/s, b16 {b16:.1f} images/s incl. decode, "
          f"image AUROC {auroc(np.array(labels), np.array(scores)):.3f}, {args.threads} threads")


if __name__ == "__main__":
    main()
