#!/usr/bin/env python3
"""Export MONAI's VISTA3D network as the three ONNX graphs that models/vista3d/model.json describes.

Run it wherever you have the weights, PyTorch and MONAI; never in CI, never at run time of the server.

    pip install "monai>=1.4" torch onnx onnxruntime      # onnxruntime only for --check
    python -m monai.bundle download --name vista3d --version 0.5.4 --bundle_dir ./bundles   # -> ./bundles/vista3d/models/model.pt
    python models/vista3d/export_onnx.py --weights ./bundles/vista3d/models/model.pt --out ./vista3d-onnx --check
    MODEL_DIR=$PWD/vista3d-onnx npm start -w server

What is written to --out:
    encoder.onnx     image [1, 1, X, Y, Z] float32 in [0, 1]            -> features [1, F] float32
    class_head.onnx  features [1, F], class_vector [B, 1] int64          -> logits [B, 1, X, Y, Z]
    point_head.onnx  features [1, F], point_coords [1, N, 3] float32,
                     point_labels [1, N] int64, class_vector [1, 1] int64 -> logits [1, 1, X, Y, Z]
    model.json       copied from beside this script when --out has none (roiSize set to --roi)

Axis order and units: MONAI's channel-first patch [1, 1, X, Y, Z] (Z fastest in memory) on the model grid
(RAS, 1.5 mm); point_coords are voxel indices of that patch in (X, Y, Z) order, i.e. along the tensor's
axes -3, -2, -1, voxel centres at integers (the point head adds 0.5 itself, as MONAI's does).
point_labels: -1 padding, 0/1 negative/positive, 2/3 negative/positive for the special classes.
class_vector: global VISTA3D label indices; the point head treats indices above 132 as zero-shot.

How the network is split (monai/networks/nets/vista3d.py, VISTA3D.forward):
    out, out_auto = image_encoder(image)              # SegResNetDS2: two decoders, [1, 48, X, Y, Z] each
    class logits  = class_head(out_auto, class_vector)
    point logits  = point_head(out, point_coords, point_labels, class_vector=prompt_class)
The class head first maps out_auto through `image_post_mapping` (two residual conv blocks at full
resolution) and the point head first maps `out` through `feat_downsample` (stride 2); neither step depends
on the prompt, so both run once in the encoder graph, and the heads keep only the prompt-dependent part.
`features` is therefore one flat tensor holding, in this order,
    image_post_mapping(out_auto)   [48, X, Y, Z]                              (48*X*Y*Z values)
    feat_downsample(out)           [48, ceil(X/2), ceil(Y/2), ceil(Z/2)]      (the rest)
Only these graphs read it; the host passes it through unchanged (and may cache it per window).

--check runs the three graphs with ONNX Runtime on a random patch and compares them with the PyTorch
network's own forward (a class prompt with several classes; point prompts on a regular, a special and a
zero-shot class), printing the largest absolute difference and the share of voxels whose sign (logit > 0)
agrees. --random-weights exports an untrained network: it only tests this script (no weights needed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

FEATURE_SIZE = 48  # vista3d132(encoder_embed_dim=48)


def load_network(weights: Path | None, allow_pickle: bool = False) -> nn.Module:
    """The bundle's network (`monai.networks.nets.vista3d132`, as configs/inference.json builds it) with its weights."""
    from monai.networks.nets import vista3d132

    net = vista3d132(in_channels=1)
    if weights is not None:
        if weights.is_dir():  # a bundle folder
            weights = weights / "models" / "model.pt"
        try:
            state = torch.load(weights, map_location="cpu", weights_only=not allow_pickle)
        except Exception as e:  # noqa: BLE001 - torch raises UnpicklingError or RuntimeError by version
            if allow_pickle:
                raise
            raise SystemExit(f"{weights}: cannot load as plain tensors ({e}); if you trust the file, add --allow-pickle")
        # CheckpointLoader accepts a bare state dict or one saved under "model"; DataParallel adds "module.".
        if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
            state = state["model"]
        state = {k.removeprefix("module."): v for k, v in state.items()}
        missing, unexpected = net.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise SystemExit(f"{weights} does not match vista3d132: missing {missing[:5]}…, unexpected {unexpected[:5]}…")
    return net.eval()


def feature_layout(roi: tuple[int, int, int]) -> tuple[int, tuple[int, int, int]]:
    """(values of the class-head part, spatial size of the point-head part) for a patch of `roi` voxels."""
    low = tuple(math.ceil(r / 2) for r in roi)  # Conv3d(kernel 3, stride 2, padding 1)
    return FEATURE_SIZE * roi[0] * roi[1] * roi[2], low  # type: ignore[return-value]


class EncoderGraph(nn.Module):
    """image [1, 1, X, Y, Z] -> features [1, F]: both decoders plus the prompt-independent parts of both heads."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.image_encoder = net.image_encoder
        self.image_post_mapping = net.class_head.image_post_mapping
        self.feat_downsample = net.point_head.feat_downsample

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        out, out_auto = self.image_encoder(image, with_point=True, with_label=True)
        class_features = self.image_post_mapping(out_auto)
        point_features = self.feat_downsample(out)
        return torch.cat([class_features.reshape(1, -1), point_features.reshape(1, -1)], dim=1)


class ClassHeadGraph(nn.Module):
    """features [1, F], class_vector [B, 1] int64 -> logits [B, 1, X, Y, Z] (ClassMappingClassify.forward after
    image_post_mapping; `squeeze()` there is replaced by explicit shapes so that B = 1 and B > 1 export alike)."""

    def __init__(self, net: nn.Module, roi: tuple[int, int, int]):
        super().__init__()
        head = net.class_head
        self.class_embeddings = head.class_embeddings
        self.mlp = head.mlp if head.use_mlp else None
        self.roi = roi
        self.n_class_features = feature_layout(roi)[0]

    def forward(self, features: torch.Tensor, class_vector: torch.Tensor) -> torch.Tensor:
        src = features[:, : self.n_class_features].reshape(FEATURE_SIZE, -1)  # [C, X*Y*Z]
        embedding = self.class_embeddings(class_vector)  # [B, 1, C]
        if self.mlp is not None:
            embedding = self.mlp(embedding)
        logits = embedding.reshape(-1, FEATURE_SIZE) @ src  # [B, X*Y*Z]
        return logits.reshape(-1, 1, *self.roi)


class PointHeadGraph(nn.Module):
    """features [1, F], point_coords [B, N, 3], point_labels [B, N], class_vector [B, 1] -> logits [B, 1, X, Y, Z]
    (PointMappingSAM.forward after feat_downsample, with the boolean-mask updates and the per-class Python
    loop written as arithmetic on masks so that they export; the same numbers)."""

    def __init__(self, net: nn.Module, roi: tuple[int, int, int]):
        super().__init__()
        head = net.point_head
        self.head = head
        self.roi = roi
        self.n_class_features, self.low = feature_layout(roi)
        self.register_buffer("roi_size", torch.tensor(roi, dtype=torch.float32), persistent=False)
        with torch.no_grad():  # the dense positional encoding depends on the grid size only
            self.register_buffer("pos_src", head.pe_layer(self.low).unsqueeze(0), persistent=False)

    def forward(
        self, features: torch.Tensor, point_coords: torch.Tensor, point_labels: torch.Tensor, class_vector: torch.Tensor
    ) -> torch.Tensor:
        h = self.head
        out_low = features[:, self.n_class_features :].reshape(1, FEATURE_SIZE, *self.low)
        # PositionEmbeddingRandom.forward_with_coords: pixel centres, normalised by the full patch size
        embedding = h.pe_layer._pe_encoding((point_coords.float() + 0.5) / self.roi_size)  # [B, N, C]
        labels = point_labels.unsqueeze(-1)
        mask = lambda v: (labels == v).to(embedding.dtype)  # noqa: E731
        negative, positive = h.point_embeddings[0].weight, h.point_embeddings[1].weight
        special = h.special_class_embed.weight
        embedding = torch.where(labels == -1, torch.zeros_like(embedding), embedding)
        embedding = (
            embedding
            + mask(-1) * h.not_a_point_embed.weight
            + mask(0) * negative
            + mask(1) * positive
            + mask(2) * (negative + special)
            + mask(3) * (positive + special)
        )
        batch = embedding.shape[0]
        output_tokens = h.mask_tokens.weight.unsqueeze(0).expand(batch, -1, -1)
        zero_shot = (class_vector.reshape(-1, 1, 1) > h.last_supported)
        class_tokens = torch.where(zero_shot, h.zeroshot_embed.weight, h.supported_embed.weight)  # [B, 1, C]
        tokens = torch.cat([output_tokens, embedding, class_tokens], dim=1)
        src = out_low.expand(batch, -1, -1, -1, -1)
        pos_src = self.pos_src.expand(batch, -1, -1, -1, -1)
        b, c, x, y, z = src.shape
        hs, src = h.transformer(src, pos_src, tokens)
        hyper_in = h.output_hypernetworks_mlps(hs[:, :1, :])  # [B, 1, C]
        upscaled = h.output_upscaling(src.transpose(1, 2).reshape(b, c, x, y, z))  # [B, C, X, Y, Z]
        logits = hyper_in @ upscaled.reshape(b, c, -1)
        return logits.reshape(-1, 1, *self.roi)


def onnx_export(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], dynamic: dict, opset: int):
    kwargs = dict(
        input_names=inputs, output_names=outputs, dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True
    )
    with torch.no_grad():
        try:  # TorchScript-based exporter: dynamic_axes as given; torch >= 2.9 defaults to the dynamo exporter
            torch.onnx.export(module, args, str(path), dynamo=False, **kwargs)
        except TypeError:  # torch < 2.5 has no `dynamo` argument
            torch.onnx.export(module, args, str(path), **kwargs)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")


def export(net: nn.Module, out: Path, roi: tuple[int, int, int], opset: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    image = torch.rand(1, 1, *roi)
    encoder = EncoderGraph(net).eval()
    with torch.no_grad():
        features = encoder(image)
    onnx_export(encoder, (image,), out / "encoder.onnx", ["image"], ["features"], {}, opset)
    onnx_export(
        ClassHeadGraph(net, roi).eval(),
        (features, torch.tensor([[3], [1]], dtype=torch.int64)),
        out / "class_head.onnx",
        ["features", "class_vector"],
        ["logits"],
        {"class_vector": {0: "B"}, "logits": {0: "B"}},
        opset,
    )
    onnx_export(
        PointHeadGraph(net, roi).eval(),
        (
            features,
            torch.tensor([[[roi[0] / 2, roi[1] / 2, roi[2] / 2], [1.0, 2.0, 3.0]]]),
            torch.tensor([[1, 0]], dtype=torch.int64),
            torch.tensor([[3]], dtype=torch.int64),
        ),
        out / "point_head.onnx",
        ["features", "point_coords", "point_labels", "class_vector"],
        ["logits"],
        {"point_coords": {1: "N"}, "point_labels": {1: "N"}},
        opset,
    )
    annotate(out, roi)
    write_manifest(out, roi)


def annotate(out: Path, roi: tuple[int, int, int]) -> None:
    """Records the layout of `features` in each graph's metadata (skipped without the onnx package)."""
    try:
        import onnx
    except ImportError:
        return
    n_class, low = feature_layout(roi)
    layout = json.dumps(
        {
            "features": [
                {"name": "class_head.image_post_mapping(out_auto)", "shape": [FEATURE_SIZE, *roi], "offset": 0},
                {"name": "point_head.feat_downsample(out)", "shape": [FEATURE_SIZE, *low], "offset": n_class},
            ],
            "roiSize": list(roi),
        }
    )
    for name in ("encoder.onnx", "class_head.onnx", "point_head.onnx"):
        model = onnx.load(str(out / name), load_external_data=False)
        entry = model.metadata_props.add()
        entry.key, entry.value = "vista3d.layout", layout
        onnx.save(model, str(out / name))


def write_manifest(out: Path, roi: tuple[int, int, int]) -> None:
    """Copies model.json from beside this script into --out, with roiSize = --roi; an existing one is only checked."""
    target = out / "model.json"
    if target.exists():
        have = json.loads(target.read_text())["inference"]["roiSize"]
        if tuple(have) != roi:
            print(f"warning: {target} has roiSize {have} but the graphs were exported for {list(roi)}", file=sys.stderr)
        return
    source = Path(__file__).with_name("model.json")
    if not source.exists():
        print(f"note: no {source.name} beside this script; put the bundle's model.json into {out}", file=sys.stderr)
        return
    manifest = json.loads(source.read_text())
    manifest["inference"]["roiSize"] = list(roi)
    target.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {target}")


def check(net: nn.Module, out: Path, roi: tuple[int, int, int], seed: int) -> bool:
    """Exported graphs (ONNX Runtime, CPU) against VISTA3D.forward (PyTorch, fp32) on one random patch."""
    try:
        import onnxruntime as ort
    except ImportError:
        print("--check needs onnxruntime (pip install onnxruntime)", file=sys.stderr)
        return False
    import numpy as np

    torch.manual_seed(seed)
    image = torch.rand(1, 1, *roi)
    session = lambda name: ort.InferenceSession(str(out / name), providers=["CPUExecutionProvider"])  # noqa: E731
    t0 = time.perf_counter()
    features = session("encoder.onnx").run(["features"], {"image": image.numpy()})[0]
    print(f"encoder (onnxruntime): {time.perf_counter() - t0:.1f} s, features {list(features.shape)}")
    class_head, point_head = session("class_head.onnx"), session("point_head.onnx")

    def compare(what: str, got: np.ndarray, want: torch.Tensor) -> bool:
        want = want.detach().float().numpy()
        if got.shape != want.shape:
            print(f"{what}: shape {list(got.shape)} != torch {list(want.shape)}  FAIL")
            return False
        diff = float(np.abs(got - want).max())
        scale = max(1.0, float(np.abs(want).max()))
        agree = float(((got > 0) == (want > 0)).mean())
        ok = diff <= 1e-3 * scale and agree >= 0.9999
        print(f"{what}: max |onnx - torch| = {diff:.3g} (max |torch| {scale:.3g}), sign agreement {agree:.6f}  {'ok' if ok else 'FAIL'}")
        return ok

    ok = True
    with torch.no_grad():
        classes = torch.tensor([[3], [1], [26], [57]], dtype=torch.int64)
        want = net(image, class_vector=classes)
        got = class_head.run(["logits"], {"features": features, "class_vector": classes.numpy()})[0]
        ok &= compare(f"class head, classes {classes.flatten().tolist()}", got, want)
        got1 = class_head.run(["logits"], {"features": features, "class_vector": classes[:1].numpy()})[0]
        ok &= compare("class head, one class", got1, want[:1])
        c = [r // 2 for r in roi]
        cases = [
            ("point head, spleen (3), 3 points +/+/-", [[c, [c[0] + 3, c[1] - 2, c[2]], [c[0] + 9, c[1], c[2]]]], [[1, 1, 0]], 3),
            ("point head, hepatic tumor (26), special labels 3/2", [[c, [c[0], c[1] + 7, c[2] - 4]]], [[3, 2]], 26),
            ("point head, zero-shot (150), padding -1", [[c, [0, 0, 0]]], [[1, -1]], 150),
        ]
        for what, coords, labels, cls in cases:
            pc = torch.tensor(coords, dtype=torch.float32)
            pl = torch.tensor(labels, dtype=torch.int64)
            pcls = torch.tensor([[cls]], dtype=torch.int64)
            # the bundle's inferer passes the prompt as prompt_class and, for points alone, no class_vector
            want = net(image, point_coords=pc.clone(), point_labels=pl.clone(), prompt_class=pcls)
            got = point_head.run(
                ["logits"], {"features": features, "point_coords": pc.numpy(), "point_labels": pl.numpy(), "class_vector": pcls.numpy()}
            )[0]
            ok &= compare(what, got, want)
    print("check passed" if ok else "check FAILED")
    return bool(ok)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights", type=Path, help="the bundle's models/model.pt, or the bundle folder")
    src.add_argument("--random-weights", action="store_true", help="untrained network: tests this script only")
    p.add_argument("--out", type=Path, default=Path("vista3d-onnx"), help="output folder (default: ./vista3d-onnx)")
    p.add_argument("--roi", type=int, nargs=3, default=[128, 128, 128], metavar=("X", "Y", "Z"),
                   help="patch size the graphs are fixed to; multiples of 16 (default: 128 128 128, the bundle's)")
    p.add_argument("--allow-pickle", action="store_true", help="load a checkpoint that holds more than tensors (trusted files only)")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--check", action="store_true", help="compare the exported graphs with PyTorch (needs onnxruntime)")
    p.add_argument("--check-only", action="store_true", help="only run the check on graphs already in --out")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    roi = tuple(a.roi)
    if any(r <= 0 or r % 16 for r in roi):
        p.error(f"--roi {list(roi)}: each size must be a positive multiple of 16 (SegResNetDS2 downsamples 4 times)")
    torch.manual_seed(a.seed)
    net = load_network(None if a.random_weights else a.weights, a.allow_pickle)
    if not a.check_only:
        export(net, a.out, roi, a.opset)
    if a.check or a.check_only:
        return 0 if check(net, a.out, roi, a.seed) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
