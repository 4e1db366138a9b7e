#!/usr/bin/env python3
"""Random-weight RT-DETR checkpoints in Hugging Face format, well-conditioned for parity tests.

    python tools/reference/make_checkpoint.py --config r18vd [--seed 0] [--dtype fp32] -o /tmp/ckpt/r18vd

writes DIR/config.json + DIR/model.safetensors (RTDetrForObjectDetection.save_pretrained) and
DIR/qrt_random_checkpoint.json (how it was made).

Architectures (transformers' conversion script convert_rt_detr_original_pytorch_checkpoint_to_hf.py,
get_rt_detr_config, i.e. the hyper-parameters of the PekingU/rtdetr_<name> Hub checkpoints):

  r18vd   basic ResNet-vd [2,2,2,2], widths 64..512, encoder_in [128,256,512], hidden_expansion 0.5, 3 decoder layers
  r34vd   basic ResNet-vd [3,4,6,3], widths 64..512, encoder_in [128,256,512], hidden_expansion 0.5, 4 decoder layers
  r50vd   bottleneck ResNet-vd [3,4,6,3], widths 256..2048, encoder_in [512,1024,2048], 6 decoder layers (the defaults)
  r101vd  bottleneck ResNet-vd [3,4,23,3], encoder_hidden_dim 384, encoder_ffn_dim 2048, decoder_in [384]*3, 6 layers
  tiny    a toy of the r18vd shape for unit-test fixtures (see TINY below)

All: d_model 256 (except tiny), 8 heads, 300 queries, 4 sampling points, 3 levels, 80 COCO labels with the
COCO id2label (the names in the usual 80-class order). anchor_image_size is null, so anchors are generated
from the actual feature-map shapes at any input size; a fixed [640, 640] (which fine-tuning recipes that pass
anchor_image_size=None suggest the Hub configs carry; not checked offline) gives identical anchors at 640x640
and wrong ones at other sizes.

Why the weights are not transformers' default init (DESIGN.md, RT-DETR): default init leaves BatchNorm
at identity (mean 0, var 1, weight ~N(0, 0.01)), zeroes the deformable-attention offset and weight
projections and the box-refinement heads, and gives every invalid-anchor position the same encoder
score, so the top-k query selection is a tie-break lottery. Here:

  * every conv: He-normal; every linear: std 1/sqrt(fan_in); LayerNorm gamma U(0.8,1.2), beta N(0,0.05)
  * every BatchNorm (backbone's frozen BN and nn.BatchNorm2d alike): gamma U(0.5,1.5), beta N(0,0.1), and
    running statistics *measured* on one synthetic seed-derived image, then perturbed:
    running_mean = mean + N(0, 0.1)*std, running_var = var * U(0.5, 1.5). So folding BN into convs is
    exercised with non-trivial scales and shifts while activations stay O(1) through r101's 33 blocks.
  * the network is kept out of the chaotic regime, where a random deep net amplifies float32 rounding until
    float32 and float64 PyTorch disagree by 4e-3 (r50vd logits) and the top-300 boundary flips: each backbone
    residual branch ends in a BN with gamma U(0.1,0.3), so does the last RepVGG block of every CSP block, and
    the decoder's cross-attention output projection has std 0.25/sqrt(d). Result, float32 vs float64 on a real
    photo at 640: matched max |d logits| ~2e-5, |d boxes| ~2e-6 (r18vd and r50vd), encoder features ~2e-5 of std.
  * deformable attention: sampling offsets = transformers' radial grid bias + a random projection
    (offset noise ~0.5 point units, so sampling lands between pixels), attention-weight logits ~N(0,1)
  * box heads (encoder and every decoder layer) predict small random deltas (~0.3 in logit space)
  * encoder score head weights scaled by --score-scale (default 300): the per-position max-class
    scores spread over hundreds, so the top-k boundary and the ranking are clear-cut; enc_output's
    Linear bias is 0 and its LayerNorm beta small, so the masked (invalid-anchor) positions, whose
    memory is zeroed, all score near the median and are never selected.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
from torch import nn

COCO_LABELS = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
]
# COCO's sparse category ids (1..90) for the 80 classes, same order.
COCO_CATEGORY_IDS = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32,
    33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
    60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
]
assert len(COCO_LABELS) == 80 and len(COCO_CATEGORY_IDS) == 80

# Bump when condition_weights changes, so cached checkpoints (parity.py, anchors.py) are rebuilt.
RECIPE_VERSION = 3

CONFIG_NAMES = ("tiny", "r18vd", "r34vd", "r50vd", "r101vd")
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}

# The tiny fixture model: r18vd's structure (basic blocks with a conv shortcut on each stage's first
# block and an identity shortcut after, hidden_expansion 0.5 so the CSP blocks have conv3) at toy widths.
TINY = dict(
    backbone=dict(embedding_size=16, hidden_sizes=[16, 24, 32, 48], depths=[1, 2, 1, 1], layer_type="basic"),
    encoder_in_channels=[24, 32, 48],
    encoder_hidden_dim=32,
    encoder_ffn_dim=64,
    encoder_attention_heads=2,
    hidden_expansion=0.5,
    d_model=32,
    decoder_in_channels=[32, 32, 32],
    decoder_ffn_dim=64,
    decoder_attention_heads=2,
    decoder_layers=2,
    num_queries=30,
)


def build_config(name: str):
    """RTDetrConfig for one of CONFIG_NAMES, 80 COCO labels."""
    from transformers import RTDetrConfig, RTDetrResNetConfig

    bb = dict(out_indices=[2, 3, 4])  # RTDetrResNetConfig defaults = ResNet50-vd (bottleneck [3,4,6,3])
    kw: dict = {}
    if name == "r18vd":
        bb.update(hidden_sizes=[64, 128, 256, 512], depths=[2, 2, 2, 2], layer_type="basic")
        kw.update(encoder_in_channels=[128, 256, 512], hidden_expansion=0.5, decoder_layers=3)
    elif name == "r34vd":
        bb.update(hidden_sizes=[64, 128, 256, 512], depths=[3, 4, 6, 3], layer_type="basic")
        kw.update(encoder_in_channels=[128, 256, 512], hidden_expansion=0.5, decoder_layers=4)
    elif name == "r50vd":
        pass
    elif name == "r101vd":
        bb.update(depths=[3, 4, 23, 3])
        kw.update(encoder_ffn_dim=2048, encoder_hidden_dim=384, decoder_in_channels=[384, 384, 384])
    elif name == "tiny":
        t = dict(TINY)
        bb.update(t.pop("backbone"))
        kw.update(t)
    else:
        raise ValueError(f"unknown config {name!r}; expected one of {', '.join(CONFIG_NAMES)}")
    id2label = {i: n for i, n in enumerate(COCO_LABELS)}
    return RTDetrConfig(
        backbone_config=RTDetrResNetConfig(**bb),
        num_labels=80,
        id2label=id2label,
        label2id={n: i for i, n in id2label.items()},
        anchor_image_size=None,
        eval_size=None,
        **kw,
    )


def synthetic_image(seed: int, size: int) -> torch.Tensor:
    """A deterministic, image-like [1,3,size,size] tensor in [0,1] (smooth blobs + fine noise)."""
    g = torch.Generator().manual_seed(10_000 + seed)
    low = torch.rand(1, 3, 6, 6, generator=g)
    x = nn.functional.interpolate(low, size=(size, size), mode="bicubic", align_corners=False)
    x = x + 0.08 * torch.randn(1, 3, size, size, generator=g)
    return x.clamp(0.0, 1.0)


def _bn_modules(model):
    from transformers.models.rt_detr.modeling_rt_detr import RTDetrFrozenBatchNorm2d

    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.BatchNorm2d, RTDetrFrozenBatchNorm2d))]


@torch.no_grad()
def condition_weights(model, seed: int, score_scale: float = 300.0, calib_size: int = 320) -> None:
    """Overwrite `model`'s weights in place (see the module docstring)."""
    from transformers.models.rt_detr.modeling_rt_detr import RTDetrCSPRepLayer, RTDetrMultiscaleDeformableAttention
    from transformers.models.rt_detr.modeling_rt_detr_resnet import RTDetrResNetBasicLayer, RTDetrResNetBottleNeckLayer

    g = torch.Generator().manual_seed(seed * 7919 + 17)

    def normal_(t, std, mean=0.0):
        t.copy_((torch.randn(t.shape, generator=g, dtype=torch.float64) * std + mean).to(t.dtype))

    def uniform_(t, lo, hi):
        t.copy_((torch.rand(t.shape, generator=g, dtype=torch.float64) * (hi - lo) + lo).to(t.dtype))

    cfg = model.config
    bn_names = {n for n, _ in _bn_modules(model)}
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Conv2d):
            fan_in = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            normal_(mod.weight, math.sqrt(2.0 / fan_in))
            if mod.bias is not None:
                normal_(mod.bias, 0.02)
        elif isinstance(mod, nn.Linear):
            normal_(mod.weight, 1.0 / math.sqrt(mod.in_features))
            if mod.bias is not None:
                normal_(mod.bias, 0.02)
        elif isinstance(mod, nn.LayerNorm):
            uniform_(mod.weight, 0.8, 1.2)
            normal_(mod.bias, 0.05)
        elif name in bn_names:
            uniform_(mod.weight, 0.5, 1.5)
            normal_(mod.bias, 0.1)
        elif isinstance(mod, nn.Embedding):
            normal_(mod.weight, 1.0)
    # Damp every backbone residual branch (its last BN's gamma ~U(0.1, 0.3)), as trained ResNets are: with full-size
    # branches a random deep ResNet is chaotic and amplifies float32 rounding ~70x over r50vd (encoder features off
    # by 5e-4 of their std vs float64, enough to flip the top-300 boundary); damped, the error stays ~1e-5.
    for mod in model.modules():
        if isinstance(mod, (RTDetrResNetBasicLayer, RTDetrResNetBottleNeckLayer)):
            uniform_(mod.layer[-1].normalization.weight, 0.1, 0.3)
        elif isinstance(mod, RTDetrCSPRepLayer):
            # the RepVGG chain is the CSP block's deep path; conv2 is its shallow one
            last = mod.bottlenecks[-1]
            uniform_(last.conv1.norm.weight, 0.1, 0.3)
            uniform_(last.conv2.norm.weight, 0.1, 0.3)

    d = cfg.d_model
    prior = -math.log((1 - 1 / (cfg.num_labels + 1)) / (1 / (cfg.num_labels + 1)))  # transformers' bias prior
    for mod in model.modules():
        if isinstance(mod, RTDetrMultiscaleDeformableAttention):
            # transformers' radial grid (head h points at angle 2*pi*h/H, point p at distance p+1) + noise
            thetas = torch.arange(mod.n_heads, dtype=torch.float64) * (2.0 * math.pi / mod.n_heads)
            grid = torch.stack([thetas.cos(), thetas.sin()], -1)
            grid = (grid / grid.abs().max(-1, keepdim=True)[0]).view(mod.n_heads, 1, 1, 2)
            grid = grid.repeat(1, mod.n_levels, mod.n_points, 1)
            for i in range(mod.n_points):
                grid[:, :, i, :] *= i + 1
            mod.sampling_offsets.bias.copy_(grid.reshape(-1).to(mod.sampling_offsets.bias.dtype))
            normal_(mod.sampling_offsets.weight, 0.5 / math.sqrt(d))
            normal_(mod.attention_weights.weight, 1.0 / math.sqrt(d))
            normal_(mod.attention_weights.bias, 0.1)
            # a full-size cross-attention branch closes a chaotic loop (query -> offsets -> samples of rough random
            # feature maps -> query) that amplifies float32 rounding ~2x per decoder layer; 0.25 keeps it tame
            normal_(mod.output_proj.weight, 0.25 / math.sqrt(d))

    m = model.model
    m.enc_output[0].bias.zero_()
    normal_(m.enc_output[1].bias, 0.02)
    normal_(m.enc_score_head.weight, score_scale / math.sqrt(d))
    m.enc_score_head.bias.fill_(prior)
    normal_(m.enc_bbox_head.layers[-1].weight, 0.5 / math.sqrt(d))
    normal_(m.enc_bbox_head.layers[-1].bias, 0.05)
    for head in m.decoder.bbox_embed:
        normal_(head.layers[-1].weight, 0.5 / math.sqrt(d))
        normal_(head.layers[-1].bias, 0.05)
    for head in m.decoder.class_embed:
        normal_(head.weight, 1.0 / math.sqrt(d))
        normal_(head.bias, 0.1, mean=prior)

    # BatchNorm statistics measured layer by layer on one synthetic image: a pre-hook sets each BN's
    # running stats from its actual input just before it runs, so later layers see normalized inputs.
    def pre_hook(mod, args):
        x = args[0].detach().double()
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False).clamp_min(1e-2)
        rm = mean + 0.1 * var.sqrt() * torch.randn(mean.shape, generator=g, dtype=torch.float64)
        rv = var * (0.5 + torch.rand(var.shape, generator=g, dtype=torch.float64))
        mod.running_mean.copy_(rm.to(mod.running_mean.dtype))
        mod.running_var.copy_(rv.to(mod.running_var.dtype))

    handles = [mod.register_forward_pre_hook(pre_hook) for _, mod in _bn_modules(model)]
    was_training = model.training
    model.eval()
    try:
        model(pixel_values=synthetic_image(seed, calib_size))
    finally:
        for h in handles:
            h.remove()
    model.train(was_training)


def make_model(name: str, seed: int = 0, score_scale: float = 300.0, calib_size: int | None = None):
    """RTDetrForObjectDetection (float32, eval mode) with conditioned random weights."""
    from transformers import RTDetrForObjectDetection

    torch.manual_seed(seed)
    config = build_config(name)
    model = RTDetrForObjectDetection(config).eval()
    if calib_size is None:
        calib_size = 96 if name == "tiny" else 320
    condition_weights(model, seed, score_scale=score_scale, calib_size=calib_size)
    return model


def save_checkpoint(model, out_dir: str | Path, dtype: str = "fp32", provenance: dict | None = None) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if dtype not in DTYPES:
        raise ValueError(f"--dtype must be one of {', '.join(DTYPES)}")
    m = model.to(DTYPES[dtype]) if dtype != "fp32" else model
    m.save_pretrained(str(out), safe_serialization=True)
    if dtype != "fp32":
        model.to(torch.float32)
    if provenance is not None:
        (out / "qrt_random_checkpoint.json").write_text(json.dumps(provenance, indent=2) + "\n")
    return out


@torch.no_grad()
def selection_report(model, pixel_values: torch.Tensor) -> dict:
    """How clear-cut the encoder's top-k query selection is on this input.

    gap_at_k: score[k-1] - score[k] of the per-position max-class encoder scores (sorted descending);
    min_gap_in_topk: smallest gap between consecutive selected scores (decides slot order);
    masked_selected: how many invalid-anchor positions made it into the top k (should be 0)."""
    out = model(pixel_values=pixel_values)
    s = out.enc_outputs_class[0].max(-1).values.double()
    k = model.config.num_queries
    srt, idx = torch.sort(s, descending=True)
    valid = torch.isfinite(out.enc_outputs_coord_logits[0]).all(-1) & (out.enc_outputs_coord_logits[0].abs() < 1e30).all(-1)
    gaps = srt[: k] - srt[1 : k + 1]
    return {
        "positions": int(s.numel()),
        "masked_positions": int((~valid).sum()),
        "k": k,
        "score_kth": float(srt[k - 1]),
        "gap_at_k": float(srt[k - 1] - srt[k]),
        "min_gap_in_topk": float(gaps[: k - 1].min()),
        "masked_selected": int((~valid[idx[:k]]).sum()),
        "score_std": float(s.std()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, choices=CONFIG_NAMES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="fp32", choices=sorted(DTYPES))
    ap.add_argument("--score-scale", type=float, default=300.0,
                    help="encoder score head weight std in units of 1/sqrt(d_model) (default 300)")
    ap.add_argument("--calib-size", type=int, default=None,
                    help="synthetic image size for measuring BN statistics (default 320, tiny 96)")
    ap.add_argument("--check-size", type=int, default=0,
                    help="after saving, run a forward at this size on a synthetic image and print stats")
    ap.add_argument("-o", "--output", required=True, help="output directory")
    a = ap.parse_args(argv)

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    model = make_model(a.config, a.seed, a.score_scale, a.calib_size)
    prov = {
        "generator": "tools/reference/make_checkpoint.py", "recipe": RECIPE_VERSION,
        "config": a.config, "seed": a.seed, "dtype": a.dtype, "score_scale": a.score_scale,
        "calib_size": a.calib_size or (96 if a.config == "tiny" else 320),
        "note": "random weights for parity tests, not a trained model",
    }
    if a.check_size:
        rep = selection_report(model, synthetic_image(a.seed + 1, a.check_size))
        print(json.dumps(rep))
    out = save_checkpoint(model, a.output, a.dtype, prov)
    n = sum(p.numel() for p in model.state_dict().values())
    print(f"wrote {out}/config.json, model.safetensors ({a.config}, seed {a.seed}, {a.dtype}, {n} values)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
