#!/usr/bin/python3
"""An independent check of zoomorph's pretraining: PyTorch trains the same network with the
same loss, augmentation, optimiser and schedule on the same stored cutouts and votes.

Reads the store after `zoomorph pretrain` (/cutouts/images, /labels/votes, /labels/has_votes,
/pretrain/split: 0 train, 1 validation, 2 test), builds zoonet as torchvision's EfficientNet
with zoonet's stage table (tests/reference/nn_reference.py, the network the engine's tests
compare against), and trains with:
  - the Dirichlet-multinomial loss, a = 1 + 100 sigmoid(x), summed over questions,
    unanswered questions free, averaged over the galaxies of a batch (src/gz/gzloss.c);
  - Zoobot's augmentation: rotation by a uniform angle (bilinear, reflect fill), random
    horizontal and vertical flips, a random crop to the network's input; validation takes
    the central crop (src/train/augment.c);
  - Adam (betas 0.9, 0.999, eps 1e-7 as zoomorph's), batch B, stamps / 255, the learning
    rate constant or, with --schedule cosine, linear warm-up over --warmup steps then a
    cosine decay to 0 at the last step (src/nn/optim.c zm_lr_at, the same formula).
Prints, per epoch, the mean train and validation loss and images/s; at the end a JSON line
with the final validation loss, per-question validation loss and the per-question MAE of
the predicted vote fractions on the test galaxies against the volunteers.

usage: pretrain_torch.py STORE EPOCHS [--batch 128] [--lr 1e-3] [--schedule constant|cosine]
                          [--warmup 0] [--input 64] [--threads 2] [--out history.json]
                          [--weights out.pt]
"""
import argparse
import json
import math
import os
import sys
import time

try:
    import h5py
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    print("pretrain_torch: %s (install python3-torch python3-torchvision python3-h5py)" % e)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nn_reference  # noqa: E402


def questions_of(columns):
    """[(first, n)] answer slices per question, in column order (names <question>_<answer>)."""
    out, names = [], []
    for j, c in enumerate(columns):
        q = c.split("_", 1)[0]
        if names and names[-1] == q:
            out[-1][1] += 1
        else:
            names.append(q)
            out.append([j, 1])
    return names, [tuple(x) for x in out]


def dirichlet_loss(x, k, qs):
    """Per-galaxy, per-question negative log-likelihood (B x Q)."""
    a = 1 + 100 * torch.sigmoid(x)
    parts = []
    for first, n in qs:
        ka, aa = k[:, first:first + n], a[:, first:first + n]
        N, S = ka.sum(1), aa.sum(1)
        lp = (torch.lgamma(N + 1) + torch.lgamma(S) - torch.lgamma(N + S)
              + (torch.lgamma(ka + aa) - torch.lgamma(aa) - torch.lgamma(ka + 1)).sum(1))
        parts.append(torch.where(N > 0, -lp, torch.zeros_like(lp)))
    return torch.stack(parts, 1)


def augment(x, crop, gen):
    """Random rotation (reflect fill, bilinear), flips, random crop: B x C x S x S -> crop."""
    B, _, S, _ = x.shape
    ang = torch.rand(B, generator=gen) * 2 * math.pi
    fx = torch.where(torch.rand(B, generator=gen) < 0.5, -1.0, 1.0)
    fy = torch.where(torch.rand(B, generator=gen) < 0.5, -1.0, 1.0)
    c, s = torch.cos(ang), torch.sin(ang)
    theta = torch.zeros(B, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = c * fx, -s * fy
    theta[:, 1, 0], theta[:, 1, 1] = s * fx, c * fy
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    x0 = torch.randint(0, S - crop + 1, (B,), generator=gen)
    y0 = torch.randint(0, S - crop + 1, (B,), generator=gen)
    return torch.stack([y[i, :, y0[i]:y0[i] + crop, x0[i]:x0[i] + crop] for i in range(B)])


def center(x, crop):
    o = (x.shape[-1] - crop) // 2
    return x[:, :, o:o + crop, o:o + crop]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("epochs", type=int)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--schedule", choices=["constant", "cosine"], default="constant")
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--input", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out")
    ap.add_argument("--weights")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    f = h5py.File(a.store, "r")
    cols = f["labels/votes"].attrs["columns"].decode().split(",")
    names, qs = questions_of(cols)
    votes = torch.tensor(f["labels/votes"][:], dtype=torch.float32)
    has = f["labels/has_votes"][:].astype(bool)
    split = f["pretrain/split"][:]
    imgs = f["cutouts/images"][:]
    scale = 255.0 if imgs.dtype == np.uint8 else 1.0
    tr = np.flatnonzero(has & (split == 0))
    va = np.flatnonzero(has & (split == 1))
    te = np.flatnonzero(has & (split == 2))
    C = imgs.shape[1]
    model = nn_reference.build("zoonet", C, len(cols))
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, eps=1e-7)
    total = a.epochs * (len(tr) // a.batch)

    def lr_at(step):
        if a.warmup > 0 and step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        if a.schedule == "constant":
            return a.lr
        t, span = step - max(a.warmup, 0), total - max(a.warmup, 0)
        return 0.0 if span <= 0 or t >= span else 0.5 * a.lr * (1 + math.cos(math.pi * t / span))

    def batch_x(idx):
        return torch.tensor(imgs[np.sort(idx)], dtype=torch.float32) / scale, np.sort(idx)

    def evaluate(rows):
        model.eval()
        tot, parts, preds = 0.0, torch.zeros(len(qs)), []
        with torch.no_grad():
            for i in range(0, len(rows), 256):
                x, r = batch_x(rows[i:i + 256])
                out = model(center(x, a.input))
                p = dirichlet_loss(out, votes[r], qs)
                parts += p.sum(0)
                tot += p.sum().item()
                preds.append((r, out))
        return tot / len(rows), (parts / len(rows)).tolist(), preds

    history, step = [], 0
    for ep in range(a.epochs):
        model.train()
        perm = tr[torch.randperm(len(tr), generator=gen).numpy()]
        t0, seen, el = time.time(), 0, 0.0
        for s in range(len(perm) // a.batch):
            x, r = batch_x(perm[s * a.batch:(s + 1) * a.batch])
            x = augment(x, a.input, gen)
            loss = dirichlet_loss(model(x), votes[r], qs).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            opt.step()
            step += 1
            el += loss.item() * len(r)
            seen += len(r)
        dt = time.time() - t0
        vl, vparts, _ = evaluate(va)
        history.append({"epoch": ep + 1, "train_loss": el / seen, "val_loss": vl,
                        "val_parts": vparts, "images_per_s": seen / dt})
        print("epoch %d: train %.3f  validation %.3f  %.1f images/s" % (ep + 1, el / seen, vl, seen / dt),
              flush=True)
    # per-question MAE of predicted fractions on the test galaxies (expected fraction a/sum a)
    _, _, preds = evaluate(te)
    mae = {}
    for name, (first, n) in zip(names, qs):
        err, cnt = 0.0, 0
        for r, out in preds:
            al = 1 + 100 * torch.sigmoid(out[:, first:first + n])
            p = al / al.sum(1, keepdim=True)
            k = votes[r][:, first:first + n]
            N = k.sum(1)
            m = N > 0
            err += (p[m] - k[m] / N[m, None]).abs().mean(1).sum().item()
            cnt += int(m.sum())
        mae[name] = err / max(cnt, 1)
    res = {"history": history, "final_val_loss": history[-1]["val_loss"] if history else None,
           "questions": names, "test_mae_vs_volunteers": mae}
    print(json.dumps(res))
    if a.out:
        with open(a.out, "w") as fo:
            json.dump(res, fo, indent=1)
    if a.weights:
        torch.save(model.state_dict(), a.weights)


if __name__ == "__main__":
    main()
