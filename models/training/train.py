#!/usr/bin/python3
"""Trains the demo model (models/training/model.py) on phantoms written by make_data.ts and exports the bundle.

    /usr/bin/python3 models/training/train.py --data .cache/training --out models/bundles/phantom --steps N
    /usr/bin/python3 models/training/train.py --smoke --data <dir> --out <dir>     # a few steps, for CI

Debian's python3-torch (1.13) on CPU; see README.md. Everything random derives from --seed.
Patches are [X, Y, Z] = [R, A, S] voxels at the data's spacing (the model's spacing: the pipeline resamples to it).
"""
import argparse
import csv
import hashlib
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as Fn
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import WINDOW, ZERO_SHOT_FROM, Model, for_export  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# The classes the class head learns: VISTA3D ids. 20 (lung) = the five lobes merged, 21 (bone) = the vertebrae
# merged (the spine); the other ids are the phantom's own labels.
CLASSES = [1, 3, 5, 6, 7, 12, 14, 115, 20, 21]
MERGED = {20: range(28, 33), 21: range(33, 57)}


def class_map(labels):
    """VISTA3D labels -> class index 1..len(CLASSES) (0 = none), uint8, same shape."""
    lut = np.zeros(256, np.uint8)
    for c, cid in enumerate(CLASSES, 1):
        for l in MERGED.get(cid, [cid]):
            lut[l] = c
    return lut[labels]


class Data:
    """All phantoms in memory as [X, Y, Z] arrays (int16 HU, uint8 labels, uint8 class index, uint8 lesions)."""

    def __init__(self, root, rng):
        index = json.load(open(os.path.join(root, 'index.json')))
        self.spacing = index['spacing']
        self.items = []
        for e in index['phantoms']:
            load = lambda suffix: np.ascontiguousarray(np.load(os.path.join(root, f"{e['stem']}_{suffix}.npy")).transpose(2, 1, 0))
            image, labels, lesions = load('image'), load('labels'), load('lesions')
            cmap = class_map(labels)
            where = {}
            for c in range(1, len(CLASSES) + 1):
                idx = np.flatnonzero(cmap == c)
                if len(idx):
                    where[c] = idx[rng.choice(len(idx), min(len(idx), 3000), replace=False)]
            les = [np.array(np.unravel_index(np.flatnonzero(lesions == l['id'])[0], lesions.shape)) for l in e['lesions']]
            self.items.append(dict(kind=e['kind'], image=image, labels=labels, cmap=cmap, lesions=lesions, where=where, lesion_at=les))
        self.by_kind = {k: [i for i, it in enumerate(self.items) if it['kind'] == k] for k in ('torso', 'head', 'empty')}


def crop(a, start, roi):
    """a[start : start + roi] per axis with indices clamped into the array (edge padding, as the pipeline does)."""
    ix = [np.clip(np.arange(s, s + r), 0, n - 1) for s, r, n in zip(start, roi, a.shape)]
    return a[np.ix_(*ix)]


def sample_patch(data, rng, roi, lesion_bias, mix=(0.82, 0.12, 0.06)):
    """One training patch: (image in [0, 1], class index, labels, lesion ids), each [X, Y, Z] = roi.
    `mix`: how often a torso, head or empty phantom is drawn."""
    u = rng.random()
    kind = 'torso' if u < mix[0] else ('head' if u < mix[0] + mix[1] else 'empty')
    if not data.by_kind[kind]:
        kind = next(k for k in ('torso', 'head', 'empty') if data.by_kind[k])
    it = data.items[data.by_kind[kind][rng.integers(len(data.by_kind[kind]))]]
    shape = it['image'].shape
    r = rng.random()
    if it['lesion_at'] and r < lesion_bias:
        centre = it['lesion_at'][rng.integers(len(it['lesion_at']))] + rng.integers(-roi[0] // 3, roi[0] // 3 + 1, 3)
    elif it['where'] and r < 0.85:
        c = list(it['where'])[rng.integers(len(it['where']))]
        idx = it['where'][c][rng.integers(len(it['where'][c]))]
        centre = np.array(np.unravel_index(idx, shape)) + rng.integers(-roi[0] // 4, roi[0] // 4 + 1, 3)
    else:
        centre = np.array([rng.integers(n) for n in shape])
    start = [int(min(max(c - r // 2, min(0, n - r)), max(0, n - r))) for c, r, n in zip(centre, roi, shape)]
    hu = crop(it['image'], start, roi).astype(np.float32)
    # appearance jitter: gain/offset, blur, extra noise (the pipeline's resampling smooths finer grids)
    hu = hu * rng.uniform(0.94, 1.06) + rng.uniform(-15, 15)
    if rng.random() < 0.5:
        hu = ndimage.gaussian_filter(hu, rng.uniform(0.3, 1.0))
    hu += rng.normal(0, rng.uniform(0, 8), hu.shape).astype(np.float32)
    x = np.clip((hu - WINDOW[0]) / (WINDOW[1] - WINDOW[0]), 0, 1)
    return x, crop(it['cmap'], start, roi), crop(it['labels'], start, roi), crop(it['lesions'], start, roi)


def interior_point(mask, rng, frac):
    """A voxel of `mask` whose distance to the outside is at least `frac` of the largest (frac 1: the deepest)."""
    edt = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1, 1:-1]
    cand = np.argwhere(edt >= edt.max() * frac)
    return cand[rng.integers(len(cand))]


def point_target(cmap, labels, lesions, rng):
    """(mask, class id) for one point prompt in the patch, or None: an unseen lesion or any labelled structure."""
    les = [l for l in np.unique(lesions) if l and (lesions == l).sum() >= 1]
    if les and rng.random() < 0.65:
        return lesions == les[rng.integers(len(les))], int(rng.integers(ZERO_SHOT_FROM, 255))
    ids, counts = np.unique(labels, return_counts=True)
    ok = [l for l, n in zip(ids, counts) if l and n >= 6]
    if not ok:
        return None
    l = int(ok[rng.integers(len(ok))])
    cid = l if (l in CLASSES and rng.random() < 0.5) else int(rng.integers(ZERO_SHOT_FROM, 255))
    return labels == l, cid


def corrective_clicks(mask, pred, pos_clicks, rng, ring_width=2):
    """After a prediction from one positive click: a positive click deep in the largest miss (or another interior
    point) and a negative click deep in the largest false positive connected to a positive click (or just outside the
    target: within `ring_width` voxels of it). Returns [(x, y, z, label), (x, y, z, label)]."""
    comp, n = ndimage.label(pred)
    keep = {comp[tuple(p)] for p in pos_clicks} - {0}
    pred = np.isin(comp, list(keep)) if keep else np.zeros_like(pred)
    fn, fp = mask & ~pred, pred & ~mask
    p2 = interior_point(fn, rng, 0.8) if fn.any() else interior_point(mask, rng, 0.4)
    if fp.any():
        n3 = interior_point(fp, rng, 0.8)
    else:
        ring = np.argwhere(ndimage.binary_dilation(mask, iterations=ring_width) & ~mask)
        n3 = ring[rng.integers(len(ring))] if len(ring) else np.array([rng.integers(s) for s in mask.shape])
    return [(*p2, 1), (*n3, 0)]


def shown(pred, clicks):
    """What the user sees: the components of `pred` holding a positive click (the pipeline's rule)."""
    comp, _ = ndimage.label(pred)
    keep = {comp[tuple(c[:3])] for c in clicks if c[3] == 1} - {0}
    return np.isin(comp, list(keep)) if keep else np.zeros_like(pred)


def next_click(mask, seen, rng, only=None):
    """A simulated user's next click on the result `seen`: near the deepest voxel of the errors (missed -> positive,
    over-segmented -> negative; `only` restricts the kind), as `npm run eval` places them; None without errors."""
    best = None
    for label in ((1, 0) if only is None else (only,)):
        err = (mask & ~seen) if label == 1 else (seen & ~mask)
        if not err.any():
            continue
        depth = ndimage.distance_transform_edt(np.pad(err, 1))[1:-1, 1:-1, 1:-1].max()
        if best is None or depth > best[0]:
            best = (depth, label, err)
    if best is None:
        return None
    return (*interior_point(best[2], rng, 0.8), best[1])


def dice_loss(logits, target, dims):
    p = torch.sigmoid(logits)
    inter = (p * target).sum(dims)
    return 1 - (2 * inter + 1) / (p.sum(dims) + target.sum(dims) + 1)


def point_loss(logits, target):
    bce = Fn.binary_cross_entropy_with_logits(logits, target, pos_weight=torch.tensor(3.0))
    return bce + dice_loss(logits, target, (0, 1, 2, 3, 4)).mean()


def run_point(model, feats, clicks, cid):
    coords = torch.tensor([[c[:3] for c in clicks]], dtype=torch.float32)
    labels = torch.tensor([[c[3] for c in clicks]], dtype=torch.int64)
    return model.point_head(feats, coords, labels, torch.tensor([[cid]], dtype=torch.int64))


def train_step(model, batch, rng, ring_width=2, corrective=0.6, iterative=0.0):
    x = torch.from_numpy(np.stack([b[0] for b in batch])[:, None])
    cm = torch.from_numpy(np.stack([b[1] for b in batch]).astype(np.int64))
    feats = model.encoder(x)
    ids = torch.tensor(CLASSES, dtype=torch.int64).reshape(-1, 1)
    closs = 0.0
    for b in range(len(batch)):
        logits = model.class_head(feats[b:b + 1], ids)[:, 0]  # [C, X, Y, Z]
        target = torch.stack([(cm[b] == c).float() for c in range(1, len(CLASSES) + 1)])
        bce = Fn.binary_cross_entropy_with_logits(logits, target)
        present = target.sum((1, 2, 3)) > 0
        dl = dice_loss(logits, target, (1, 2, 3))
        # Dice over the classes present; absent classes: penalise any predicted mass (soft false-positive volume)
        absent = torch.sigmoid(logits[~present]).mean() if (~present).any() else torch.tensor(0.0)
        closs = closs + 10 * bce + (dl[present].mean() if present.any() else 0.0) + absent
    closs = closs / len(batch)
    p1 = p3 = torch.tensor(0.0)
    n = 0
    for b, (_, cmap, labels, lesions) in enumerate(batch):
        t = point_target(cmap, labels, lesions, rng)
        if t is None:
            continue
        mask, cid = t
        target = torch.from_numpy(mask.astype(np.float32))[None, None]
        c1 = (*interior_point(mask, rng, 0.7), 1)
        if rng.random() < 1 - corrective:
            p1 = p1 + point_loss(run_point(model, feats[b:b + 1], [c1], cid), target)
        elif iterative and rng.random() < iterative:
            # each correction on the result shown, the third a negative unless the second was (as npm run eval does)
            clicks = [c1]
            for k in range(2):
                with torch.no_grad():
                    seen = shown((run_point(model, feats[b:b + 1].detach(), clicks, cid)[0, 0] > 0).numpy(), clicks)
                c = next_click(mask, seen, rng, 0 if k == 1 and all(c[3] == 1 for c in clicks) else None)
                if c is None:
                    break
                clicks.append(c)
            p3 = p3 + point_loss(run_point(model, feats[b:b + 1], clicks, cid), target)
        else:
            with torch.no_grad():
                l1 = run_point(model, feats[b:b + 1].detach(), [c1], cid)
            more = corrective_clicks(mask, (l1[0, 0] > 0).numpy(), [c1[:3]], rng, ring_width)
            if rng.random() < 0.3:
                more = more[:1] if rng.random() < 0.5 else more[1:]
            p3 = p3 + point_loss(run_point(model, feats[b:b + 1], [c1, *more], cid), target)
        n += 1
    if n:
        p1, p3 = p1 / n, p3 / n  # (one of the two per sample: a 1-click or a corrected prompt)
    return closs, p1, p3


def export(model, out, roi, spacing, meta):
    """Writes encoder.onnx, class_head.onnx, point_head.onnx, model.json and parity.json (torch outputs on a fixed
    input, which the TypeScript tests compare onnxruntime-node against) into `out`. The graphs are exported with
    transposed convolutions rewritten (model.for_export), checked here to give the trained model's outputs."""
    import copy
    os.makedirs(out, exist_ok=True)
    trained = copy.deepcopy(model).eval()
    m = for_export(copy.deepcopy(trained))
    X, Y, Z = roi
    gx, gy, gz = np.meshgrid(np.arange(X), np.arange(Y), np.arange(Z), indexing='ij')
    image = torch.from_numpy((0.5 + 0.4 * np.sin(0.3 * gx + 0.2 * gy + 0.1 * gz)).astype(np.float32))[None, None]
    cv = torch.tensor([[1], [115]], dtype=torch.int64)
    pc = torch.tensor([[[X / 4, Y / 2, Z / 2], [X / 2, Y / 4, Z / 3]]], dtype=torch.float32)
    pl = torch.tensor([[1, 0]], dtype=torch.int64)
    pcv = torch.tensor([[ZERO_SHOT_FROM]], dtype=torch.int64)
    with torch.no_grad():
        feats = m.encoder(image)
        cl = m.class_head(feats, cv)
        pt = m.point_head(feats, pc, pl, pcv)
        f0 = trained.encoder(image)
        for what, a_, b_ in (('features', feats, f0), ('class logits', cl, trained.class_head(f0, cv)), ('point logits', pt, trained.point_head(f0, pc, pl, pcv))):
            err = float((a_ - b_).abs().max())
            if err > 1e-4 * (1 + float(b_.abs().max())):
                raise SystemExit(f'export rewrite changed the {what} by {err}')
        kw = dict(opset_version=13, do_constant_folding=True)
        torch.onnx.export(m.encoder, (image,), os.path.join(out, 'encoder.onnx'), input_names=['image'], output_names=['features'], **kw)
        torch.onnx.export(m.class_head, (feats, cv), os.path.join(out, 'class_head.onnx'), input_names=['features', 'class_vector'],
                          output_names=['logits'], dynamic_axes={'class_vector': {0: 'B'}, 'logits': {0: 'B'}}, **kw)
        torch.onnx.export(m.point_head, (feats, pc, pl, pcv), os.path.join(out, 'point_head.onnx'),
                          input_names=['features', 'point_coords', 'point_labels', 'class_vector'], output_names=['logits'],
                          dynamic_axes={'point_coords': {1: 'N'}, 'point_labels': {1: 'N'}}, **kw)
    probe = lambda t: [float(v) for v in t.reshape(-1)[:: max(1, t.numel() // 50)][:50]]
    parity = dict(
        input='image[x, y, z] = 0.5 + 0.4 sin(0.3 x + 0.2 y + 0.1 z), shape [1, 1, X, Y, Z]; probes: every (numel // 50)-th value, 50 of them',
        roi=list(roi), classVector=[1, 115], pointCoords=pc[0].tolist(), pointLabels=[1, 0], pointClass=ZERO_SHOT_FROM,
        features=dict(shape=list(feats.shape), mean=float(feats.mean()), probe=probe(feats)),
        classLogits=dict(shape=list(cl.shape), mean=float(cl.mean()), probe=probe(cl)),
        pointLogits=dict(shape=list(pt.shape), mean=float(pt.mean()), probe=probe(pt)),
    )
    json.dump(parity, open(os.path.join(out, 'parity.json'), 'w'), indent=1)
    vista = json.load(open(os.path.join(HERE, '..', 'vista3d', 'model.json')))
    supported = sorted(CLASSES)
    manifest = dict(
        schemaVersion=1,
        name=meta.get('name', 'vista3d-phantom-small'),
        version=meta.get('version', '0.2.0'),
        description=(
            'A small demo model with the VISTA3D three-graph contract (encoder -> features; class head; point head), trained on CPU '
            'on synthetic phantoms from models/src/phantom by models/training/train.py. NOT NVIDIA\'s VISTA3D and not for real images: '
            'it knows only the phantom organs. Label 20 (lung) is one merged class (all lobes), label 21 (bone) is the merged '
            'vertebral column (spine); kidney (2) = left + right kidney. Point prompts work on any structure, including new ones '
            f'(ids >= {ZERO_SHOT_FROM}). {meta.get("trained", "")}'
        ).strip(),
        labels=vista['labels'],
        supportedLabels=supported,
        everything=supported,
        subclasses={'2': [14, 5]},
        noPointPrompts=[2, 20, 21],
        specialClasses=vista['specialClasses'],
        zeroShotFrom=ZERO_SHOT_FROM,
        notProcessedValue=255,
        preprocessing=dict(
            orientation='RAS', spacing=list(spacing),
            intensity=dict(min=WINDOW[0], max=WINDOW[1], outMin=0, outMax=1, clip=True),
            foregroundCrop=dict(threshold=-500, margin=2),
        ),
        inference=dict(roiSize=list(roi), overlap=0.25, blending='gaussian', sigmaScale=0.125, threshold=0,
                       classVectorType='int64', pointLabelsType='int64', maxClassesPerRun=16),
        graphs=vista['graphs'],
    )
    # what a browser checks its download (and its Cache Storage copy) against; `npm run hash-bundle` does the same
    for g in manifest['graphs'].values():
        data = open(os.path.join(out, g['file']), 'rb').read()
        g['sha256'] = hashlib.sha256(data).hexdigest()
        g['bytes'] = len(data)
    json.dump(manifest, open(os.path.join(out, 'model.json'), 'w'), indent=2)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default='.cache/training')
    ap.add_argument('--out', default='models/bundles/phantom')
    ap.add_argument('--steps', type=int, default=4000)
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--roi', type=int, default=48, help='inference window (model.json roiSize)')
    ap.add_argument('--patch', type=int, default=32, help='training patch edge (the network is fully convolutional)')
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--export-every', type=int, default=250)
    ap.add_argument('--log', default=None, help='loss curve CSV (default: <out>/../../training/loss_curve.csv for the real run, none for --smoke)')
    ap.add_argument('--checkpoint', default='.cache/training-checkpoint.pt')
    ap.add_argument('--resume', default=None, help='start from this checkpoint\'s weights (fresh optimizer and schedule)')
    ap.add_argument('--mix', default='0.82,0.12,0.06', help='fractions of torso, head, empty phantoms among the patches')
    ap.add_argument('--warmup', type=int, default=100)
    ap.add_argument('--lesion-bias', type=float, default=0.3, help='fraction of patches centred near a lesion (when the phantom has one)')
    ap.add_argument('--ring-width', type=int, default=2, help='voxels outside the target where a simulated negative click may fall when nothing is over-segmented')
    ap.add_argument('--corrective', type=float, default=0.6, help='fraction of point prompts trained after simulated corrective clicks (the rest: one click)')
    ap.add_argument('--iterative', type=float, default=0.0, help='fraction of corrected prompts simulated one click at a time on the result shown (the rest: both corrections from the 1-click result)')
    ap.add_argument('--learn-click-scale', action='store_true', help='train the weights of the click maps added to the point logits (fixed at 4 in runs 1-3)')
    ap.add_argument('--export-only', action='store_true', help='export the --resume checkpoint to --out (--data for its spacing) and stop')
    ap.add_argument('--smoke', action='store_true', help='a few steps on 16^3 patches: checks that the script runs and exports')
    a = ap.parse_args(argv)
    if a.smoke:
        a.steps, a.roi, a.patch, a.export_every, a.batch = 3, 16, 16, 10 ** 9, 1
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    random.seed(a.seed)
    roi = (a.roi,) * 3
    model = Model()
    if a.resume:
        # parameters added since the checkpoint was written keep their initial values (reported); nothing else may differ
        missing, unexpected = model.load_state_dict(torch.load(a.resume)['model'], strict=False)
        if unexpected:
            raise SystemExit(f'{a.resume} holds parameters this model lacks: {unexpected}')
        print(f'resumed from {a.resume}' + (f'; new parameters at their initial values: {missing}' if missing else ''), flush=True)
    if a.export_only:
        if not a.resume:
            raise SystemExit('--export-only needs --resume <checkpoint>')
        spacing = json.load(open(os.path.join(a.data, 'index.json')))['spacing']
        ck = torch.load(a.resume)
        export(model, a.out, (a.roi,) * 3, spacing, dict(trained=f'Trained in several runs (models/training/README.md); exported from {os.path.basename(a.resume)} (step {ck.get("step")}).'))
        print(f'exported {a.resume} to {a.out}', flush=True)
        return 0
    t0 = time.time()
    data = Data(a.data, rng)
    model.point_head.click_scale.requires_grad_(a.learn_click_scale)
    mix = tuple(float(v) for v in a.mix.split(','))
    nparam = sum(p.numel() for p in model.parameters())
    print(f'{len(data.items)} phantoms at {data.spacing} mm loaded in {time.time() - t0:.1f} s; {nparam} parameters', flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    warm = min(a.warmup, a.steps // 10 + 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * (0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * min(s, a.steps) / a.steps))))
    log = None
    if a.log:
        log_file = open(a.log, 'w', newline='')
        log = csv.writer(log_file)
        log.writerow(['step', 'seconds', 'lr', 'class_loss', 'point1_loss', 'point3_loss'])
    t0 = time.time()
    run = [0.0, 0.0, 0.0]
    model.train()
    for step in range(1, a.steps + 1):
        batch = [sample_patch(data, rng, (a.patch,) * 3, a.lesion_bias, mix) for _ in range(a.batch)]
        closs, p1, p3 = train_step(model, batch, rng, a.ring_width, a.corrective, a.iterative)
        loss = closs + p1 + p3
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        run = [r * 0.95 + float(v) * 0.05 for r, v in zip(run, (closs, p1, p3))] if step > 1 else [float(closs), float(p1), float(p3)]
        if log and (step % 10 == 0 or step == a.steps):
            log.writerow([step, round(time.time() - t0, 1), f'{sched.get_last_lr()[0]:.5f}', f'{float(closs):.4f}', f'{float(p1):.4f}', f'{float(p3):.4f}'])
            log_file.flush()
        if step % 50 == 0 or a.smoke:
            print(f'step {step}/{a.steps} {time.time() - t0:.0f}s lr {sched.get_last_lr()[0]:.5f} class {run[0]:.3f} point1 {run[1]:.3f} point3 {run[2]:.3f}', flush=True)
        if step % a.export_every == 0 or step == a.steps:
            what = f'Trained in several runs (models/training/README.md); the last, from {os.path.basename(a.resume)}, fine-tuned {step} of {a.steps} steps (patch mix {a.mix}, lesion bias {a.lesion_bias})' if a.resume else f'Trained {step} of {a.steps} steps'
            meta = dict(trained=f'{what} (seed {a.seed}, batch {a.batch}, {a.patch}^3 patches, {(time.time() - t0) / 60:.0f} min on 2 CPU cores).')
            export(model, a.out, roi, data.spacing, meta)
            if not a.smoke:
                torch.save(dict(step=step, model=model.state_dict(), opt=opt.state_dict()), a.checkpoint)
            print(f'exported step {step} to {a.out}', flush=True)
    print(f'done: {a.steps} steps in {(time.time() - t0) / 60:.1f} min', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
