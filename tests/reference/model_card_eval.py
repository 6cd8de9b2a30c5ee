#!/usr/bin/python3
"""Per-question errors of a pretrained model on the held-out test bricks (the model card).

Reads the store (after embed: /predictions/vote_fraction, /labels/votes, /labels/split or
/pretrain/split) and the simulator's truth.fits (noise-free answer probabilities). For each
question, over the test galaxies whose question volunteers answered:
  MAE of the predicted fractions against (a) the volunteers' fractions and (b) the true
  probabilities, each beside the baseline of predicting the training mean, and the
  volunteers' own sampling noise (MAE of their fractions against the truth: the floor
  for (a)).
Prints a markdown table.

With --catalogue CAT.fits the predictions are read from the catalogue's
`<question>_<answer>_fraction` columns instead (matched to store rows by id): the error of
the whole chain, bricks -> cutouts -> embed -> catalogue, not only of the model.

usage: model_card_eval.py STORE TRUTH.fits [--catalogue CAT.fits]
"""
import sys

import h5py
import numpy as np
from astropy.io import fits

from simtruth import truth_rows


def main():
    f = h5py.File(sys.argv[1], "r")
    cols = f["labels/votes"].attrs["columns"].decode().split(",")
    votes = f["labels/votes"][:]
    has = f["labels/has_votes"][:].astype(bool)
    pred = f["predictions/vote_fraction"][:]
    if len(sys.argv) > 4 and sys.argv[3] == "--catalogue":
        cat = fits.open(sys.argv[4])[1].data
        row = {int(i): k for k, i in enumerate(cat["id"])}
        ids = f["galaxies/id"][:]
        ci = np.array([row.get(int(i), -1) for i in ids])
        if (ci < 0).any():
            raise SystemExit("%d store rows are not in the catalogue" % (ci < 0).sum())
        pred = np.stack([np.asarray(cat[c + "_fraction"], dtype=np.float64)[ci] for c in cols], 1)
    split = f["pretrain/split"][:]
    t = fits.open(sys.argv[2])[1].data
    ti = truth_rows(f, t)
    questions = []
    for c in cols:
        q = c.split("_", 1)[0]  # question names have hyphens, not underscores
        if q not in [x[0] for x in questions]:
            questions.append((q, []))
        questions[[x[0] for x in questions].index(q)][1].append(cols.index(c))
    truth = np.full(votes.shape, np.nan)
    ok = ti >= 0
    for j, c in enumerate(cols):
        truth[ok, j] = t[c + "_true_fraction"][ti[ok]]
    print("| question | test galaxies | MAE vs volunteers | baseline | MAE vs truth | baseline | ratio vs truth | volunteer noise |")
    print("|---|---|---|---|---|---|---|---|")
    for q, idx in questions:
        n = votes[:, idx].sum(1)
        asked = has & (n > 0) & ~np.isnan(pred[:, idx]).any(1)
        tr, te = asked & (split == 0), asked & (split == 2) & ok
        if te.sum() == 0 or tr.sum() == 0:
            continue
        frac = votes[:, idx] / np.maximum(n, 1)[:, None]
        base = frac[tr].mean(0)
        p, v, tt = pred[te][:, idx], frac[te], truth[te][:, idx]
        mae_v, mae_vb = np.abs(p - v).mean(), np.abs(base - v).mean()
        mae_t, mae_tb = np.abs(p - tt).mean(), np.abs(base - tt).mean()
        noise = np.abs(v - tt).mean()
        print(f"| {q} | {te.sum()} | {mae_v:.3f} | {mae_vb:.3f} | {mae_t:.3f} | {mae_tb:.3f} | {mae_t / mae_tb:.2f} | {noise:.3f} |")


if __name__ == "__main__":
    main()
