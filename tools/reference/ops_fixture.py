#!/usr/bin/env python3
"""Reference values for the Swift ops (Tests/QRTCoreTests/OpsTorchFixtureTests.swift).

Calls transformers' own RT-DETR functions (and torch for the plain ops) on small deterministic
inputs and writes Tests/QRTCoreTests/Fixtures/ops/ops_reference.json. Every tensor is stored
flat in the layout the Swift op uses (NHWC images, [tokens, channels] sequences); floats are the
shortest decimal that round-trips their float32 value.

    python3 tools/reference/ops_fixture.py   # from the repository root
"""
import json
import os

import numpy as np
import torch
import transformers
from transformers.models.rt_detr import modeling_rt_detr as rtd

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "QRTCoreTests", "Fixtures", "ops",
                   "ops_reference.json")


def flat(t):
    a = t.detach().to(torch.float32).contiguous().numpy().reshape(-1)
    return [float(repr(np.float32(v)).replace("np.float32(", "").rstrip(")")) for v in a]


def deformable_case(gen, shapes, heads, head_dim, queries, points, specials):
    """value [S, heads, hd]; locations [Q, heads, L, P, 2]; weights [Q, heads, L, P] (softmaxed)."""
    levels = len(shapes)
    s = sum(h * w for h, w in shapes)
    value = torch.randn(1, s, heads, head_dim, generator=gen)
    loc = torch.rand(1, queries, heads, levels, points, 2, generator=gen) * 1.6 - 0.3
    # Corner cases on query 0: exact edges (0, 1), pixel centres, the -1 / W boundary of ix,
    # the last pixel centre, far outside.
    flat_loc = loc.view(-1, 2)
    for i, (x, y) in enumerate(specials):
        flat_loc[i, 0] = x
        flat_loc[i, 1] = y
    logits = torch.randn(1, queries, heads, levels * points, generator=gen)
    weights = logits.softmax(-1).view(1, queries, heads, levels, points)
    shapes_t = torch.tensor(shapes, dtype=torch.long)
    start = torch.cat([shapes_t.new_zeros(1), (shapes_t[:, 0] * shapes_t[:, 1]).cumsum(0)[:-1]])
    out = rtd.MultiScaleDeformableAttention()(value, shapes_t, shapes, start, loc, weights, 64)
    return {
        "levels": [[h, w] for h, w in shapes], "heads": heads, "headDim": head_dim,
        "queries": queries, "points": points,
        "value": flat(value), "locations": flat(loc), "weights": flat(weights), "output": flat(out),
    }


def main():
    gen = torch.Generator().manual_seed(20261204)
    fixture = {"transformers": transformers.__version__, "torch": torch.__version__}

    # Deformable attention: headDim 32 (the register path) and 20 (generic path with a scalar tail).
    w0, h0 = 5, 4
    specials = [
        (0.0, 0.0), (1.0, 1.0), (0.0, 0.5), (1.0, 0.5),            # map edges: half/quarter weights
        (0.5 / w0, 0.5 / h0), ((w0 - 0.5) / w0, (h0 - 0.5) / h0),  # first / last pixel centres
        (-0.5 / w0, 0.3), (0.3, -0.5 / h0),                        # ix = -1, iy = -1: nothing
        (-0.25 / w0, 0.45), (1.0 + 0.25 / w0, 0.45),               # outside but one column in reach
        (-3.0, 0.5), (0.5, 7.0),                                   # far outside
    ]
    fixture["deformable"] = [
        deformable_case(gen, [(h0, w0), (3, 3), (1, 2)], heads=2, head_dim=32, queries=5, points=4,
                        specials=specials),
        deformable_case(gen, [(2, 3), (5, 4)], heads=3, head_dim=20, queries=3, points=2, specials=specials[:6]),
    ]

    # AIFI position embedding through the module the encoder calls (width/height keywords).
    fixture["positionEmbedding"] = []
    for width, height, dim, temperature in [(5, 3, 16, 10000), (4, 6, 8, 100), (3, 3, 12, 10000)]:
        module = rtd.RTDetrSinePositionEmbedding(embed_dim=dim, temperature=temperature)
        emb = module(width=width, height=height, device=torch.device("cpu"), dtype=torch.float32)[0]
        fixture["positionEmbedding"].append({"width": width, "height": height, "embedDim": dim,
                                             "temperature": temperature, "output": flat(emb)})

    # Anchors: (3, 50) has x-centres exactly at 0.01 (invalid by the strict test); level 5 is all invalid.
    shapes = ((3, 50), (8, 8), (2, 3), (1, 1), (2, 2), (1, 1))
    anchors, valid = rtd.RTDetrModel._cached_generate_anchors(shapes, 0.05, "cpu", torch.float32)
    fixture["anchors"] = {"levels": [list(s) for s in shapes], "gridSize": 0.05,
                          "logits": flat(anchors[0]), "valid": [bool(v) for v in valid[0, :, 0]]}

    # LayerNorm, softmax, activations, pools against torch itself.
    x = torch.randn(4, 67, generator=gen) * 2 + 0.5
    gamma = torch.randn(67, generator=gen)
    beta = torch.randn(67, generator=gen)
    fixture["layerNorm"] = {"rows": 4, "columns": 67, "epsilon": 1e-5, "input": flat(x), "gamma": flat(gamma),
                            "beta": flat(beta),
                            "output": flat(torch.nn.functional.layer_norm(x, (67,), gamma, beta, 1e-5))}
    s = torch.randn(3, 37, generator=gen) * 4
    fixture["softmax"] = {"rows": 3, "columns": 37, "input": flat(s), "output": flat(s.softmax(-1))}
    a = torch.cat([torch.linspace(-9, 9, 73), torch.tensor([0.0, -0.0, 1e-7, -1e-7, 30.0, -30.0, 90.0, -90.0])])
    fixture["activations"] = {"input": flat(a), "relu": flat(torch.relu(a)), "silu": flat(torch.nn.functional.silu(a)),
                              "gelu": flat(torch.nn.functional.gelu(a)), "sigmoid": flat(torch.sigmoid(a))}
    p = torch.tensor([-0.5, 0.0, 1e-7, 1e-5, 0.25, 0.5, 0.75, 1 - 1e-6, 1.0, 1.5])
    fixture["inverseSigmoid"] = {"input": flat(p), "output": flat(rtd.inverse_sigmoid(p))}
    img = torch.randn(1, 3, 5, 7, generator=gen)  # NCHW for torch, stored NHWC
    nhwc = lambda t: t[0].permute(1, 2, 0)
    fixture["pool"] = {
        "height": 5, "width": 7, "channels": 3, "input": flat(nhwc(img)),
        "max3x3s2p1": flat(nhwc(torch.nn.MaxPool2d(kernel_size=3, stride=2, padding=1)(img))),
        "avg2x2s2ceil": flat(nhwc(torch.nn.AvgPool2d(2, 2, 0, ceil_mode=True)(img))),
        "upsample2x": flat(nhwc(torch.nn.functional.interpolate(img, scale_factor=2.0, mode="nearest"))),
    }

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
