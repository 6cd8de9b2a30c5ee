#!/usr/bin/python3
"""Independent reference for the fine-tuning losses (PyTorch autograd) and ROC AUC
(scikit-learn).

Draws random outputs, labels and class weights for each task and writes raw float64
arrays OUTPREFIX.<task>.{y,label,w,loss,grad}: binary (BCEWithLogitsLoss with per-sample
weight w[label], reduction sum), multi-class K=4 (CrossEntropyLoss(weight=w), sum),
regression (MSELoss, sum); and OUTPREFIX.auc.{score,label,value} (scores with ties).

usage: task_loss.py OUTPREFIX N SEED
"""
import sys

import numpy as np
import torch
from sklearn.metrics import roc_auc_score


def dump(prefix, **arrays):
    for k, v in arrays.items():
        np.asarray(v, dtype=np.float64).tofile(f"{prefix}.{k}")


def main():
    prefix, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(seed)
    # binary
    y = rng.normal(0, 4.0, n)
    lab = rng.integers(0, 2, n).astype(np.float64)
    w = np.array([0.6, 2.5])
    yt = torch.tensor(y, requires_grad=True)
    loss = torch.nn.BCEWithLogitsLoss(weight=torch.tensor(w[lab.astype(int)]), reduction="sum")(yt, torch.tensor(lab))
    loss.backward()
    dump(f"{prefix}.binary", y=y, label=lab, w=w, loss=[loss.item()], grad=yt.grad.numpy())
    # multi-class
    K = 4
    y = rng.normal(0, 3.0, (n, K))
    lab = rng.integers(0, K, n)
    w = rng.uniform(0.3, 3.0, K)
    yt = torch.tensor(y, requires_grad=True)
    loss = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), reduction="sum")(yt, torch.tensor(lab))
    loss.backward()
    dump(f"{prefix}.multiclass", y=y, label=lab, w=w, loss=[loss.item()], grad=yt.grad.numpy())
    # regression
    y = rng.normal(0, 2.0, n)
    lab = rng.normal(0, 2.0, n)
    yt = torch.tensor(y, requires_grad=True)
    loss = torch.nn.MSELoss(reduction="sum")(yt, torch.tensor(lab))
    loss.backward()
    dump(f"{prefix}.regression", y=y, label=lab, w=[1.0], loss=[loss.item()], grad=yt.grad.numpy())
    # ROC AUC with ties (scores rounded to one decimal)
    lab = rng.integers(0, 2, n)
    score = np.round(rng.normal(0, 1, n) + 0.8 * lab, 1).astype(np.float32)
    dump(f"{prefix}.auc", score=score, label=lab, value=[roc_auc_score(lab, score)])


if __name__ == "__main__":
    main()
