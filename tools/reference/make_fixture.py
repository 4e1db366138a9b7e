#!/usr/bin/env python3
"""Build the tiny RT-DETR unit-test fixture and its PyTorch reference tensors.

    python tools/reference/make_fixture.py [--out Tests/QRTCoreTests/Fixtures/tiny] [--size 96] [--image PATH]

Writes OUT/config.json + OUT/model.safetensors (make_checkpoint.py --config tiny --seed 0, fp32, saved by
transformers' save_pretrained, so the key names are the ones real checkpoints carry) and
OUT/reference.safetensors: the intermediates and outputs of transformers' RTDetrForObjectDetection,
float32 eager PyTorch, run on the *reloaded* files (from_pretrained) and on the image preprocessed by
preprocess.py (ffmpeg bilinear resize, /255, NCHW). It also regenerates tools/reference/FIXTURE.md,
which documents every tensor and every checkpoint key.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
REPO = HERE.parents[1]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from make_checkpoint import make_model, save_checkpoint, selection_report  # noqa: E402
from preprocess import default_image, load_image  # noqa: E402

SIZE_LIMIT = 2 * 1024 * 1024


@torch.no_grad()
def capture(model, pixel_values: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Run the model once with forward hooks; return (tensors, where-each-comes-from)."""
    m = model.model
    cap: dict[str, torch.Tensor] = {}
    src: dict[str, str] = {}
    hooks = []

    def keep(name, where):
        def fn(_mod, _inp, out):
            cap[name] = (out[0] if isinstance(out, tuple) else out).detach().clone()
            src[name] = where
        return fn

    def keep_backbone(_mod, _inp, out):
        for i, (fmap, _mask) in enumerate(out):
            cap[f"backbone.feature_maps.{i}"] = fmap.detach().clone()
            src[f"backbone.feature_maps.{i}"] = f"model.backbone (RTDetrConvEncoder) output {i}: ResNet stage {i + 2}"

    hooks.append(m.backbone.register_forward_hook(keep_backbone))
    for i, proj in enumerate(m.encoder_input_proj):
        hooks.append(proj.register_forward_hook(
            keep(f"encoder_input_proj.{i}", f"model.encoder_input_proj.{i} (1x1 conv + BN)")))
    for i, aifi in enumerate(m.encoder.aifi):
        lvl = m.encoder.encode_proj_layers[i]
        hooks.append(aifi.register_forward_hook(
            keep(f"encoder.aifi.{i}", f"model.encoder.aifi.{i} (AIFI transformer layer on level {lvl}), reshaped back to NCHW")))
    for i, proj in enumerate(m.decoder_input_proj):
        hooks.append(proj.register_forward_hook(
            keep(f"decoder_input_proj.{i}", f"model.decoder_input_proj.{i} (1x1 conv + BN) on encoder output {i}")))
    hooks.append(m.enc_output.register_forward_hook(
        keep("enc_output_memory", "model.enc_output (Linear + LayerNorm) on the flattened, valid-masked decoder memory")))
    try:
        out = model(pixel_values=pixel_values)
    finally:
        for h in hooks:
            h.remove()

    for i, f in enumerate(out.encoder_last_hidden_state):
        cap[f"encoder.outputs.{i}"] = f.detach().clone()
        src[f"encoder.outputs.{i}"] = f"model.encoder (RTDetrHybridEncoder) output {i}: PAN level {i}"
    sources = [cap[f"decoder_input_proj.{i}"] for i in range(len(m.decoder_input_proj))]
    cap["memory"] = torch.cat([s.flatten(2).transpose(1, 2) for s in sources], 1)
    src["memory"] = "decoder_input_proj outputs flattened (row-major HW) and concatenated over levels: the decoder's value input"
    shapes = tuple((s.shape[-2], s.shape[-1]) for s in sources)
    anchors, valid = m.generate_anchors(shapes, device=pixel_values.device, dtype=pixel_values.dtype)
    cap["anchors"] = anchors.clone()
    src["anchors"] = "model.generate_anchors: logit(cx, cy, w, h), w = h = 0.05 * 2**level; invalid rows = float32 max"
    cap["valid_mask"] = valid.to(torch.float32).clone()
    src["valid_mask"] = "anchor validity (all four coordinates in (0.01, 0.99)) as 1.0 / 0.0"
    cap["enc_outputs_class"] = out.enc_outputs_class
    src["enc_outputs_class"] = "model.enc_score_head(enc_output_memory)"
    cap["enc_outputs_coord_logits"] = out.enc_outputs_coord_logits
    src["enc_outputs_coord_logits"] = "model.enc_bbox_head(enc_output_memory) + anchors (unsigmoided)"
    k = model.config.num_queries
    _, topk = torch.topk(out.enc_outputs_class.max(-1).values, k, dim=1)
    cap["topk_indices"] = topk.to(torch.int64)
    src["topk_indices"] = "torch.topk(enc_outputs_class.max(-1).values, num_queries): flat positions in memory order, descending score"
    cap["enc_topk_logits"] = out.enc_topk_logits
    src["enc_topk_logits"] = "enc_outputs_class gathered at topk_indices"
    cap["enc_topk_bboxes"] = out.enc_topk_bboxes
    src["enc_topk_bboxes"] = "sigmoid(enc_outputs_coord_logits gathered at topk_indices): the decoder's initial reference boxes"
    cap["decoder.intermediate_hidden_states"] = out.intermediate_hidden_states
    src["decoder.intermediate_hidden_states"] = "output of each decoder layer (model.decoder.layers.N)"
    cap["decoder.intermediate_reference_points"] = out.intermediate_reference_points
    src["decoder.intermediate_reference_points"] = "refined boxes after each layer: sigmoid(bbox_embed.N(h) + logit(previous boxes))"
    cap["decoder.intermediate_logits"] = out.intermediate_logits
    src["decoder.intermediate_logits"] = "model.decoder.class_embed.N(h) after each layer"
    cap["logits"] = out.logits
    src["logits"] = "final class logits = class_embed of the last decoder layer (pre-sigmoid)"
    cap["pred_boxes"] = out.pred_boxes
    src["pred_boxes"] = "final boxes, normalized cxcywh in [0,1] = the last layer's refined reference points"
    return cap, src


LAYOUT = {
    "pixel_values": "NCHW",
}


def layout_of(name: str, t: torch.Tensor) -> str:
    if name in ("pixel_values",) or name.startswith(("backbone.", "encoder_input_proj", "encoder.aifi",
                                                    "encoder.outputs", "decoder_input_proj")):
        return "NCHW"
    if name == "topk_indices":
        return "[N, Q]"
    if name.startswith("decoder.intermediate"):
        return "[N, L, Q, C]"
    if name in ("logits", "pred_boxes", "enc_topk_logits", "enc_topk_bboxes"):
        return "[N, Q, C]"
    return "[N, S, C]"


def _shape(t) -> str:
    return "[" + ", ".join(str(int(s)) for s in t.shape) + "]"


def key_pattern_summary(keys: list[str]) -> list[str]:
    """Collapse numeric indices to {n} and list each pattern with how many keys it covers."""
    import re

    lists = r"(stages|layers|embedder|bottlenecks|fpn_blocks|pan_blocks|lateral_convs|downsample_convs|aifi|encoder|class_embed|bbox_embed)"
    pats: dict[str, int] = {}
    for k in keys:
        # collapse repeated-block indices only; Sequential role indices (layer.0/1/2, proj.N.0/1, shortcut.1) stay
        p = re.sub(r"(?<=\.)" + lists + r"\.(\d+)(?=\.)", r"\1.{n}", k)
        p = re.sub(r"(?<=\.)(encoder_input_proj|decoder_input_proj)\.(\d+)(?=\.)", r"\1.{n}", p)
        pats[p] = pats.get(p, 0) + 1
    return [f"{p}  ×{c}" if c > 1 else p for p, c in pats.items()]


def write_fixture_md(path: Path, out_dir: Path, tensors: dict, src: dict, meta: dict, ckpt_keys: list[tuple[str, str, str]],
                     module_keys: list[str]) -> None:
    rel = os.path.relpath(out_dir, REPO)
    lines = []
    w = lines.append
    w("# Tiny RT-DETR fixture")
    w("")
    w(f"Generated by `python tools/reference/make_fixture.py` (do not edit by hand; rerun it). Directory: `{rel}/`.")
    w("")
    w(f"* `config.json`, `model.safetensors`: `make_checkpoint.py --config tiny --seed {meta['seed']}`, fp32, written by "
      f"transformers {meta['transformers']} `save_pretrained` ({meta['n_keys']} tensors, {meta['n_values']} values). "
      "A toy of r18vd's structure: basic-block ResNet-vd, widths 16/24/32/48, depths [1,2,1,1], d_model 32, "
      "2 heads, 1 AIFI layer, hidden_expansion 0.5, 2 decoder layers, 4 sampling points, 30 queries, 80 COCO labels.")
    w(f"* `reference.safetensors`: transformers' `RTDetrForObjectDetection` float32 eager PyTorch {meta['torch']} on "
      f"`{meta['image']}` resized to {meta['size']}x{meta['size']} by `preprocess.py` "
      "(`ffmpeg -vf scale=W:H:flags=bilinear -pix_fmt rgb24`, /255, NCHW). The model was reloaded from the saved "
      "files before running, so the reference belongs to exactly these weights.")
    w(f"* Every tensor is float32 except `topk_indices`, which is **int64** (safetensors `I64`). Batch N = 1. "
      f"Q = num_queries = 30, L = decoder layers = 2, S = {meta['S']} flattened positions "
      f"(levels {meta['levels']}, strides 8/16/32, each level row-major, level 0 first).")
    w(f"* Top-k selection is clear-cut: gap between the 30th and 31st encoder score {meta['sel']['gap_at_k']:.3f} "
      f"(scores ~{meta['sel']['score_kth']:.0f}), smallest gap inside the top 30 {meta['sel']['min_gap_in_topk']:.3f}. "
      "At 96x96 no anchor is invalid (`valid_mask` is all ones); masking starts at level 0 once W/8 > 50 (inputs ≥ 408 px), "
      "where the masked rows of `enc_outputs_coord_logits`/`anchors` hold float32 max.")
    w("")
    w("## Tensors in reference.safetensors")
    w("")
    w("| name | shape | dtype | layout | float32 vs float64 max abs diff | comes from |")
    w("|---|---|---|---|---|---|")
    order = ["pixel_values"] + [k for k in tensors if k != "pixel_values"]
    for k in order:
        t = tensors[k]
        where = src.get(k, "preprocess.load_image(image, size)")
        nz = meta["noise"].get(k)
        nzs = "exact" if k == "pixel_values" else ("same" if k == "topk_indices" and meta["same_sel"] else
                                                    (f"{nz:.1e}" if nz is not None else "n/a"))
        w(f"| `{k}` | {_shape(t)} | {str(t.dtype).replace('torch.', '')} | {layout_of(k, t)} | {nzs} | {where} |")
    w("")
    w("The float32-vs-float64 column is the same PyTorch model run in float64 on the same input: the rounding noise "
      "floor of each tensor. A Swift float32 implementation should land within a small multiple of it "
      "(suggested test tolerances: 1e-4 absolute on feature maps and logits, 1e-5 on boxes; `enc_outputs_class` and "
      "`enc_topk_logits` come from the score head scaled x300, so compare them relative to their magnitude, ~1e-5).")
    w("")
    w("Notes: `encoder.aifi.0` is level 2 *after* the AIFI layer (it replaces `encoder_input_proj.2` as the FPN input). "
      "`enc_output_memory` rows at invalid anchors are LayerNorm(Linear(0)). "
      "`memory`, `enc_output_memory`, `enc_outputs_*`, `anchors`, `valid_mask` are indexed by the flat position that "
      "`topk_indices` refers to. Slot q of `logits`/`pred_boxes` is the query seeded by `topk_indices[0, q]`.")
    w("")
    w("## Checkpoint keys and how transformers names them")
    w("")
    w("`model.safetensors` as written by transformers 5.25 `save_pretrained` uses the **legacy (4.x) names**: 5.x renames "
      "modules in memory and converts on load/save through `transformers/conversion_mapping.py` (entry `rt_detr`). "
      "The Hub files (PekingU/rtdetr_*) were converted with 4.x and carry the same legacy names. A loader should "
      "accept the on-disk names below and, for robustness, the 5.x module names and the 4.x top-level head aliases:")
    w("")
    w("| on disk (5.25 save_pretrained, 4.x) | 5.25 module path (`model.state_dict()`) |")
    w("|---|---|")
    w("| `model.encoder.encoder.{i}.layers.{j}.…` (AIFI) | `model.encoder.aifi.{i}.layers.{j}.…` |")
    w("| `….self_attn.out_proj.{weight,bias}` (encoder and decoder self-attention) | `….self_attn.o_proj.…` |")
    w("| `….layers.{j}.fc1.…`, `….layers.{j}.fc2.…` (AIFI and decoder FFN) | `….layers.{j}.mlp.fc1.…`, `….mlp.fc2.…` |")
    w("| `model.decoder.class_embed.{n}.{weight,bias}` | same |")
    w("| `model.decoder.bbox_embed.{n}.layers.{0,1,2}.{weight,bias}` | same |")
    w("| 4.x alias, top level: `class_embed.{n}.…`, `bbox_embed.{n}.layers.{k}.…` | `model.decoder.class_embed.{n}` / `model.decoder.bbox_embed.{n}` |")
    w("")
    w("The aliases: in transformers 4.x `RTDetrForObjectDetection.__init__` built `self.class_embed` / `self.bbox_embed` "
      "(ModuleLists, one head per decoder layer, `_tied_weights_keys = [\"bbox_embed\", \"class_embed\"]`) and then set "
      "`self.model.decoder.class_embed = self.class_embed` (same for bbox), so every head tensor had two names: "
      "`class_embed.N.*` and `model.decoder.class_embed.N.*` (the 4.x conversion script fills both names before loading). "
      "Files from that era can carry either or both (safetensors serialization keeps one name of each shared tensor; "
      "pytorch_model.bin keeps both); when both are present they are identical. In 5.x the heads exist only under "
      "`model.decoder.`, and 5.25 does *not* map the top-level names: loading a file that has only them reports them "
      "UNEXPECTED and the heads MISSING (randomly initialized; checked with transformers 5.25). A loader should map "
      "`class_embed.N` → `model.decoder.class_embed.N` and `bbox_embed.N` → `model.decoder.bbox_embed.N` when the "
      "decoder-prefixed names are absent. "
      "Head N is used after decoder layer N; the final outputs come from N = decoder_layers-1.")
    w("")
    w("Backbone blocks: basic blocks (r18vd, r34vd, tiny) have `layer.{0,1}` (two 3x3 convs); bottleneck blocks "
      "(r50vd, r101vd) have `layer.{0,1,2}` (1x1, 3x3 with the stride, 1x1 to 4x the width). The first block of each "
      "stage has a projection shortcut: `shortcut.convolution` (1x1, stride 1) in stage 0, `shortcut.1.convolution` "
      "(1x1 after a 2x2/2 average pool, ceil mode) in later stages; other blocks have an identity shortcut (no keys). "
      "The stem is `embedder.embedder.{0,1,2}` (3x3 convs, the first with stride 2) and a 3x3/2 max pool (padding 1).")
    w("")
    w("Ignore on load: `*.num_batches_tracked` (int64 scalars of the `nn.BatchNorm2d`s outside the backbone; the backbone's "
      "frozen BatchNorms have none) and `model.denoising_class_embed.weight` (training-time denoising only). "
      "`model.weight_embedding.weight` appears only when `learn_initial_query` is true (never in the official configs). "
      "All BatchNorm eps = 1e-5.")
    w("")
    w("Original lyuwenyu (`.pth`) names → HF, from transformers' `convert_rt_detr_original_pytorch_checkpoint_to_hf.py` "
      "(shipped in the transformers git repository, not in the wheel): `backbone.conv1.conv1_{1,2,3}` → "
      "`model.backbone.model.embedder.embedder.{0,1,2}`; `backbone.res_layers.{s}.blocks.{b}.branch2{a,b,c}.{conv,norm}` → "
      "`model.backbone.model.encoder.stages.{s}.layers.{b}.layer.{0,1,2}.{convolution,normalization}`; `….short.conv` → "
      "`….shortcut.convolution` (stage 0) or `….shortcut.1.convolution` (later stages, after the 2x2 avg-pool `shortcut.0`); "
      "`encoder.input_proj.{i}.{0,1}` → `model.encoder_input_proj.{i}.{0,1}`; `encoder.encoder.{i}.layers.0.self_attn.in_proj_{weight,bias}` "
      "→ split into `q_proj`, `k_proj`, `v_proj` (rows 0..C, C..2C, 2C..3C); `linear1/linear2` → `fc1/fc2`; `norm1/norm2(/norm3)` → "
      "`self_attn_layer_norm`/(`encoder_attn_layer_norm`)/`final_layer_norm`; `decoder.decoder.layers.{i}.cross_attn` → "
      "`model.decoder.layers.{i}.encoder_attn`; `decoder.input_proj.{i}.{conv,norm}` → `model.decoder_input_proj.{i}.{0,1}`; "
      "`decoder.dec_score_head.{n}` → `model.decoder.class_embed.{n}`; `decoder.dec_bbox_head.{n}` → `model.decoder.bbox_embed.{n}`; "
      "`decoder.{enc_output,enc_score_head,enc_bbox_head,query_pos_head,denoising_class_embed}` → `model.{…}` "
      "(`query_pos_head` under `model.decoder.`). The hybrid encoder's `fpn_blocks`, `pan_blocks`, `lateral_convs`, "
      "`downsample_convs` keep their names under `model.encoder.`.")
    w("")
    w("### Key patterns (on disk), grouped")
    w("")
    groups = [
        ("backbone", "model.backbone."),
        ("encoder input projections", "model.encoder_input_proj."),
        ("hybrid encoder", "model.encoder."),
        ("decoder input projections", "model.decoder_input_proj."),
        ("encoder heads (query selection)", ("model.enc_output.", "model.enc_score_head.", "model.enc_bbox_head.")),
        ("decoder", "model.decoder.layers."),
        ("decoder query position head", "model.decoder.query_pos_head."),
        ("detection heads", ("model.decoder.class_embed.", "model.decoder.bbox_embed.")),
        ("training only", "model.denoising_class_embed."),
    ]
    names = [k for k, _, _ in ckpt_keys]
    used = set()
    for title, prefix in groups:
        sel = [k for k in names if k.startswith(prefix) and k not in used]
        used.update(sel)
        w(f"**{title}** ({len(sel)} keys)")
        w("")
        w("```")
        for p in key_pattern_summary(sel):
            w(p)
        w("```")
        w("")
    rest = [k for k in names if k not in used]
    if rest:
        w("**other**")
        w("```")
        w("\n".join(rest))
        w("```")
        w("")
    w("### Every key in model.safetensors (on disk), with dtype and shape")
    w("")
    w("<details><summary>" + f"{len(ckpt_keys)} keys" + "</summary>")
    w("")
    w("```")
    for k, dt, shp in ckpt_keys:
        w(f"{k}  {dt}  {shp}")
    w("```")
    w("</details>")
    w("")
    w("### The same model's 5.25 in-memory names that differ from the file")
    w("")
    diff = sorted(set(module_keys) - set(names))
    w("<details><summary>" + f"{len(diff)} keys" + "</summary>")
    w("")
    w("```")
    w("\n".join(diff))
    w("```")
    w("</details>")
    w("")
    path.write_text("\n".join(lines))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "Tests" / "QRTCoreTests" / "Fixtures" / "tiny"))
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--image", default=None, help="default: the first photo of shared/data/coco/val-dev/images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--doc", default=str(HERE / "FIXTURE.md"))
    a = ap.parse_args(argv)

    import transformers
    from transformers import RTDetrForObjectDetection
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))

    out = Path(a.out)
    image = Path(a.image) if a.image else default_image()
    model = make_model("tiny", a.seed)
    for stale in ("qrt_random_checkpoint.json",):
        (out / stale).unlink(missing_ok=True)
    save_checkpoint(model, out, "fp32")
    os.chmod(out / "model.safetensors", 0o644)

    reloaded = RTDetrForObjectDetection.from_pretrained(str(out)).eval()
    x = torch.from_numpy(load_image(image, a.size))
    tensors, src = capture(reloaded, x)
    order = ["backbone.", "encoder_input_proj.", "encoder.aifi.", "encoder.outputs.", "decoder_input_proj.", "memory",
             "anchors", "valid_mask", "enc_output_memory", "enc_outputs_", "topk_indices", "enc_topk_", "decoder.", "logits",
             "pred_boxes"]
    rank = lambda k: next(i for i, p in enumerate(order) if k.startswith(p))  # noqa: E731
    tensors = {"pixel_values": x, **{k: tensors[k] for k in sorted(tensors, key=lambda k: (rank(k), k))}}
    tensors = {k: v.detach().clone().contiguous() for k, v in tensors.items()}
    # the original (pre-save) model must agree bit for bit: the files are the model
    with torch.no_grad():
        o = model(pixel_values=x)
    assert torch.equal(o.logits, tensors["logits"]) and torch.equal(o.pred_boxes, tensors["pred_boxes"]), \
        "reloaded checkpoint differs from the generated model"
    for k, v in tensors.items():
        if v.is_floating_point():
            assert torch.isfinite(v).all() or k in ("anchors", "enc_outputs_coord_logits"), k

    sel = selection_report(reloaded, x)
    # float64 run of the same weights: the float32 noise floor of each tensor, documented as a tolerance hint
    import copy
    t64, _ = capture(copy.deepcopy(reloaded).double(), x.double())
    same_sel = torch.equal(t64["topk_indices"], tensors["topk_indices"])
    noise = {}
    for k, v in tensors.items():
        if k == "pixel_values" or k == "topk_indices" or not v.is_floating_point():
            continue
        if (k.startswith(("enc_topk", "decoder.")) or k in ("logits", "pred_boxes")) and not same_sel:
            continue
        u, w = v.double(), t64[k]
        fin = torch.isfinite(u) & (u.abs() < 1e30)
        noise[k] = float((u - w).abs()[fin].max()) if fin.any() else 0.0
    meta = {
        "generator": "tools/reference/make_fixture.py",
        "image": image.name,
        "size": str(a.size),
        "seed": str(a.seed),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "topk_indices_dtype": "int64",
        "layouts": "feature maps NCHW; sequences [N,S,C]; decoder intermediates [N,L,Q,C]",
        "model_sha256": hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest(),
    }
    # one metadata key holding sorted JSON: safetensors stores metadata in a hash map, so several keys would be
    # written in a different order on every run and churn the committed file
    save_file(tensors, str(out / "reference.safetensors"), metadata={"qrt_fixture": json.dumps(meta, sort_keys=True)})
    os.chmod(out / "reference.safetensors", 0o644)

    with safe_open(str(out / "model.safetensors"), "pt") as f:
        ckpt_keys = []
        for k in f.keys():
            sl = f.get_slice(k)
            ckpt_keys.append((k, sl.get_dtype(), "[" + ", ".join(str(s) for s in sl.get_shape()) + "]"))
    ckpt_keys.sort()
    levels = " + ".join(f"{t.shape[-2]}x{t.shape[-1]}" for t in (tensors[f"decoder_input_proj.{i}"] for i in range(3)))
    doc_meta = dict(meta, sel=sel, noise=noise, same_sel=same_sel, S=tensors["memory"].shape[1], levels=levels, n_keys=len(ckpt_keys),
                    n_values=sum(v.numel() for v in reloaded.state_dict().values()))
    write_fixture_md(Path(a.doc), out, tensors, src, doc_meta, ckpt_keys, list(reloaded.state_dict().keys()))

    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"fixture: {out} ({total / 1024:.0f} KiB total)")
    for k, v in tensors.items():
        print(f"  {k:40s} {str(list(v.shape)):20s} {str(v.dtype).replace('torch.', '')}")
    print("selection:", json.dumps(sel))
    print(f"doc: {a.doc}")
    if total > SIZE_LIMIT:
        print(f"error: fixture is {total} bytes, over the {SIZE_LIMIT} limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
