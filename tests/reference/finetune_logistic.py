#!/usr/bin/python3
"""Frozen fine-tuning against scikit-learn's logistic regression on the same rows
(tests/e2e/test_finetune_vs_logistic.sh).

  finetune_logistic.py labels STORE TRUTH COLUMN PREFIX SIZE[_DRAW]...
      A binary label (truth column COLUMN > 0.5) for every galaxy of STORE, matched to the
      simulator's truth table by position, with the truth's split by brick: for each SIZE
      (or "all") PREFIX_SIZE[_DRAW].csv holds the first SIZE training galaxies of a fixed
      permutation (one per DRAW, 0 if none), every validation galaxy and every test galaxy
      (columns id, label, split).

  finetune_logistic.py compare [--margin M] STORE TASK...
      For each TASK that `zoomorph finetune` wrote into STORE: the test ROC AUC of its
      predictions (checked against the stored test_roc_auc) and that of
      LogisticRegression(max_iter=5000) (scikit-learn's defaults: L2, C = 1) fitted to the
      stored representation of the very rows the task trained on (its /split == 0), scored
      on its test rows (/split == 2). Tasks named <group>_<draw> (a number) are also
      averaged per group. Fails (exit 1) when zoomorph's AUC (a group's mean, or a task's
      own outside groups) is below scikit-learn's by more than M (default 0.01).

  finetune_logistic.py lc STORE LABELS LC_CSV
      The logistic-regression baseline of `zoomorph finetune --learning-curve LABELS` run
      with one size at least the pool (every non-test label trains): the LC_CSV rows of
      method "logistic" against scikit-learn on the same rows and the curve's balanced
      test set (every positive test label and as many negatives, lowest FNV-1a hash of the
      row first). Fails when an AUC differs by more than 1e-3.
"""
import csv
import sys

import h5py
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score


def labels(store, truth, column, prefix, sizes):
    from astropy.io import fits
    from sklearn.neighbors import BallTree

    f = h5py.File(store, "r")
    t = fits.open(truth)[1].data
    bt = BallTree(np.deg2rad(np.c_[t["dec"], t["ra"]]), metric="haversine")
    d, j = bt.query(np.deg2rad(np.c_[f["galaxies/dec"][:], f["galaxies/ra"][:]]), 1)
    assert np.rad2deg(d.max()) * 3600 < 0.01, "every galaxy of the store is a truth row"
    j = j[:, 0]
    y = (t[column][j] > 0.5).astype(int)
    split = np.char.strip(np.asarray(t["split"][j]).astype(str))
    other = np.where(split != "train")[0]
    for name in sizes:
        size, draw = (name.split("_") + ["0"])[:2]
        train = np.random.default_rng(1 + int(draw)).permutation(np.where(split == "train")[0])
        k = train if size == "all" else train[: int(size)]
        assert y[k].min() == 0 and y[k].max() == 1, f"{name}: both classes"
        with open(f"{prefix}_{name}.csv", "w") as out:
            out.write("id,label,split\n")
            for i in sorted(np.r_[k, other]):
                out.write(f"{i},{y[i]},{split[i]}\n")
        print(f"{prefix}_{name}.csv: {len(k)} training labels ({y[k].sum()} positive), "
              f"{(split == 'validation').sum()} validation, {(split == 'test').sum()} test "
              f"({y[split == 'test'].sum()} positive)")


def compare(store, tasks, margin):
    f = h5py.File(store, "r")
    E = f["representation/embedding"][:].astype(np.float64)
    bad = 0
    res = {}
    for task in tasks:
        g = f[f"finetune/{task}"]
        p, lab, split = g["prediction"][:], g["label"][:], g["split"][:]
        tr, te = np.where(split == 0)[0], np.where(split == 2)[0]
        auc = roc_auc_score(lab[te] > 0.5, p[te])
        stored = float(g["prediction"].attrs["test_roc_auc"])
        assert abs(auc - stored) < 1e-4, (task, auc, stored)
        clf = LogisticRegression(max_iter=5000).fit(E[tr], lab[tr] > 0.5)
        ref = roc_auc_score(lab[te] > 0.5, clf.decision_function(E[te]))
        res[task] = (len(tr), auc, ref)
        print(f"{task}: {len(tr)} training labels, {len(te)} test: zoomorph frozen ROC AUC {auc:.4f}, "
              f"scikit-learn LogisticRegression {ref:.4f} ({auc - ref:+.4f})")
    groups = {}
    for task in tasks:
        head, _, draw = task.rpartition("_")
        groups.setdefault(head if head and draw.isdigit() else task, []).append(task)
    for g, members in groups.items():
        auc, ref = (np.mean([res[t][i] for t in members]) for i in (1, 2))
        ok = auc >= ref - margin
        bad += not ok
        if len(members) > 1:
            print(f"{g}: mean of {len(members)} runs: zoomorph {auc:.4f}, scikit-learn {ref:.4f} ({auc - ref:+.4f})"
                  f"{'' if ok else '  FAIL'}")
        elif not ok:
            print(f"{g}: FAIL")
    return bad, res


def fnv(row):
    h = 1469598103934665603
    for k in range(8):
        h = ((h ^ ((row >> (8 * k)) & 0xFF)) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def lc(store, labels_csv, lc_csv):
    f = h5py.File(store, "r")
    E = f["representation/embedding"][:].astype(np.float64)
    flags = f["cutouts/flags"][:]
    rows = [r for r in csv.DictReader(open(labels_csv))]
    ids = np.array([int(r["id"]) for r in rows])
    y = np.array([int(r["label"]) for r in rows])
    sp = np.array([r["split"] for r in rows])
    ok = np.isfinite(E[ids]).all(1) & ((flags[ids] & 16) == 0)
    pool = ok & (sp != "test")
    te_pos = sorted(int(i) for i in ids[ok & (sp == "test") & (y == 1)])
    te_neg = sorted((int(i) for i in ids[ok & (sp == "test") & (y == 0)]), key=fnv)[: len(te_pos)]
    te = np.array(te_pos + te_neg)
    yt = np.r_[np.ones(len(te_pos)), np.zeros(len(te_neg))]
    clf = LogisticRegression(max_iter=5000).fit(E[ids[pool]], y[pool])
    ref = roc_auc_score(yt, clf.decision_function(E[te]))
    got = [r for r in csv.DictReader(open(lc_csv)) if r["method"] == "logistic"]
    assert got, "no logistic rows in " + lc_csv
    bad = 0
    for r in got:
        d = float(r["roc_auc"]) - ref
        bad += abs(d) > 1e-3
        print(f"learning curve's logistic-regression baseline ({pool.sum()} training labels, {len(te)} test): "
              f"ROC AUC {float(r['roc_auc']):.4f}, scikit-learn {ref:.4f} ({d:+.1e})")
    return bad


def main():
    a = sys.argv[1:]
    if a and a[0] == "labels":
        labels(a[1], a[2], a[3], a[4], a[5:])
        return 0
    if a and a[0] == "compare":
        margin = 0.01
        if "--margin" in a:
            i = a.index("--margin")
            margin = float(a[i + 1])
            del a[i : i + 2]
        bad, _ = compare(a[1], a[2:], margin)
        if bad:
            print(f"FAIL: {bad} task(s) more than {margin} below logistic regression")
        return 1 if bad else 0
    if a and a[0] == "lc":
        bad = lc(a[1], a[2], a[3])
        if bad:
            print("FAIL: the baseline differs from scikit-learn")
        return 1 if bad else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
