#!/usr/bin/python3
"""Independent re-implementation of the GP protocol of `zoomorph anomaly --evaluate`
(Walmsley et al. 2022, section 6), written from docs/anomaly.md with numpy, scipy and
scikit-learn only: no code of zoomorph and none of its other references.

The protocol:
  - the pool: the galaxies of the store with finite coordinates in /pca/<space> that the
    oracle file scores (columns ra, dec, score 0..5; the nearest galaxy within 1 arcsec,
    the last row wins); interesting: score >= 4;
  - features: /pca/<space> standardised (mean 0, population sd 1) over every galaxy of the
    store with finite coordinates;
  - the GP: ConstantKernel * RationalQuadratic + WhiteKernel, no normalisation of y,
    hyperparameters by maximum likelihood within 1e-5..1e5 (here L-BFGS-B from the last
    fit, starting at amp 1, length 5, alpha 1, noise 0.1, plus 3 random restarts), fitted
    after the first batch, every fifth batch and at the end, kept fixed in between;
  - the first batch of 10 at random, then batches of 10: the unlabelled galaxies of highest
    expected improvement over the best label so far, trade-off 0.5 (ties: lower pool
    index), up to the budget;
  - the final ranking: labelled galaxies by their label, the others by the GP mean (ties:
    labelled first, then lower pool index);
  - the figures: the fraction interesting in the top 50, 100 and 200 of that ranking
    ("with the labels": labelled galaxies count, and the oracle scored them because they
    looked interesting) and of the unlabelled galaxies alone ranked by the GP mean
    ("unlabelled only": what the GP found). With fewer than k galaxies, the fraction of
    those there are.

Modes:
  loop    STORE ORACLE [--budget B] [--seeds S] [--first LABELS.csv] [--json FILE]
          the whole loop on numpy seeds 0..S-1; prints each seed and mean +- sd. --first
          starts seed s from the first batch zoomorph drew for its seed s (<eval_output>-
          labels.csv) instead of a numpy draw.
  replay  STORE ORACLE LABELS.csv SEEDS.csv
          takes the galaxies zoomorph labelled and its final kernel for each seed
          (<[anomaly] eval_output>-labels.csv and .csv), fits no hyperparameters, and
          recomputes every figure: exit 1 when one differs by more than 1e-9.
  compare STORE ORACLE SEEDS.csv [--budget B] [--seeds S]
          the loop on S seeds against zoomorph's GP figures in SEEDS.csv: the two
          implementations draw different first batches and may stop at different local
          maxima of the likelihood, so each mean must agree within 3 standard errors of the
          difference of two means (sd_a^2/n_a + sd_b^2/n_b)^0.5, plus one galaxy (1/k);
          exit 1 when one does not.
"""
import argparse
import csv
import json
import sys
import warnings

import h5py
import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import norm
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, RationalQuadratic, WhiteKernel

warnings.filterwarnings("ignore", module="sklearn")  # "close to the bound": allowed here
TOPS = (50, 100, 200)
FIGS = [f"top{k}" for k in TOPS] + [f"unlabelled_top{k}" for k in TOPS]
THRESHOLD = 4.0
BATCH, XI, REFIT_EVERY = 10, 0.5, 5


def unit(ra, dec):
    a, d = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)], axis=1)


def load(store, oracle, space, arcsec=1.0):
    """z (standardised features of the pool), the oracle's scores and the store ids."""
    f = h5py.File(store, "r")
    x = f["pca/" + space][:].astype(np.float64)
    ra, dec = f["galaxies/ra"][:], f["galaxies/dec"][:]
    ok = np.isfinite(x).all(axis=1)
    sd = x[ok].std(axis=0)
    z = (x - x[ok].mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    rows = list(csv.DictReader(open(oracle)))
    o = unit(np.array([float(r["ra"]) for r in rows]), np.array([float(r["dec"]) for r in rows]))
    osc = np.array([float(r["score"]) for r in rows])
    chord = 2 * np.sin(np.radians(arcsec / 3600) / 2)
    dist, idx = cKDTree(unit(ra, dec)).query(o, distance_upper_bound=chord)
    score = np.full(len(x), np.nan)
    for i, s, dd in zip(idx, osc, dist):
        if np.isfinite(dd) and 0 <= s <= 5:
            score[i] = s  # the last row wins
    ids = np.flatnonzero(ok & np.isfinite(score))
    return z[ids], score[ids], ids


def kernel(amp=1.0, length=5.0, alpha=1.0, noise=0.1, fixed=False):
    b = "fixed" if fixed else (1e-5, 1e5)
    return (ConstantKernel(amp, constant_value_bounds=b)
            * RationalQuadratic(length_scale=length, alpha=alpha, length_scale_bounds=b, alpha_bounds=b)
            + WhiteKernel(noise, noise_level_bounds=b))


def figures(mean, truth, labelled):
    n = len(truth)
    key = np.where(labelled, truth, mean)
    order = np.lexsort((np.arange(n), ~labelled, -key))
    unl = np.flatnonzero(~labelled)
    uorder = unl[np.lexsort((unl, -mean[unl]))]
    hit = truth >= THRESHOLD
    out = {"labels": int(labelled.sum()), "interesting_labels": int((hit & labelled).sum())}
    for k in TOPS:
        out[f"top{k}"] = float(hit[order[:k]].mean())
        out[f"unlabelled_top{k}"] = float(hit[uorder[:k]].mean()) if len(uorder) else 0.0
        out[f"labelled_in_top{k}"] = int(labelled[order[:k]].sum())
    return out


def loop(z, truth, budget, seed, restarts=3, first=None):
    """One labelling: returns the final GP mean, the labelled mask and the final kernel."""
    n = len(truth)
    budget = min(budget, n)
    labelled = np.zeros(n, bool)
    if first is None:
        first = np.random.default_rng(seed).choice(n, size=min(BATCH, budget), replace=False)
    labelled[first] = True
    k = kernel()
    for b in range(n):
        fit = b % REFIT_EVERY == 0 or labelled.sum() >= budget
        g = GaussianProcessRegressor(kernel=k, normalize_y=False, optimizer="fmin_l_bfgs_b" if fit else None,
                                     n_restarts_optimizer=restarts if fit else 0, random_state=seed)
        g.fit(z[labelled], truth[labelled])
        k = g.kernel_
        mean, sd = g.predict(z, return_std=True)
        if labelled.sum() >= budget:
            return mean, labelled, k
        imp = mean - truth[labelled].max() - XI
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(sd > 0, imp / sd, 0.0)
            ei = np.where(sd > 0, imp * norm.cdf(u) + sd * norm.pdf(u), 0.0)
        ei[labelled] = -np.inf
        labelled[np.lexsort((np.arange(n), -ei))[:min(BATCH, budget - labelled.sum())]] = True


def mean_sd(v):
    v = np.asarray(v, float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def run_seeds(z, truth, ids, budget, seeds, first_csv=None, quiet=False):
    firsts = {}
    if first_csv:
        pos = {int(i): q for q, i in enumerate(ids)}
        for r in csv.DictReader(open(first_csv)):
            if r["method"] == "gp" and int(r["step"]) < BATCH:
                firsts.setdefault(int(r["seed"]), []).append(pos[int(r["id"])])
    per = []
    for s in range(seeds):
        mean, labelled, k = loop(z, truth, budget, s, first=firsts.get(s))
        r = figures(mean, truth, labelled)
        per.append(r)
        if not quiet:
            print(f"seed {s}: with the labels {r['top50']:.3f} {r['top100']:.3f} {r['top200']:.3f}, unlabelled only "
                  f"{r['unlabelled_top50']:.3f} {r['unlabelled_top100']:.3f} {r['unlabelled_top200']:.3f}; "
                  f"{r['interesting_labels']} of {r['labels']} labels interesting, {r['labelled_in_top200']} "
                  f"labelled in the top 200; {k}")
    return per


def summary_lines(name, per):
    out = []
    for what, label in (("", "with the labels"), ("unlabelled_", "unlabelled only")):
        out.append(f"{name}, {label}: " + ", ".join(
            "top {} {:.3f} +- {:.3f}".format(k, *mean_sd([r[f"{what}top{k}"] for r in per])) for k in TOPS))
    return out


def run_loop(a):
    z, truth, ids = load(a.store, a.oracle, a.space)
    print(f"reference: {len(truth)} galaxies, {int((truth >= THRESHOLD).sum())} interesting, budget {a.budget}, "
          f"{a.seeds} seeds")
    per = run_seeds(z, truth, ids, a.budget, a.seeds, a.first)
    print("\n".join(summary_lines("reference", per)))
    if a.json:
        json.dump({"seeds": per, "summary": {c: mean_sd([r[c] for r in per]) for c in per[0]}}, open(a.json, "w"),
                  indent=1)


def zoomorph_gp_rows(path):
    return [r for r in csv.DictReader(open(path)) if r["method"] == "gp"]


def run_replay(a):
    z, truth, ids = load(a.store, a.oracle, a.space)
    pos = {int(i): q for q, i in enumerate(ids)}
    lab = {}
    for r in csv.DictReader(open(a.labels)):
        if r["method"] == "gp":
            lab.setdefault(int(r["seed"]), []).append((int(r["id"]), float(r["score"])))
    worst = 0.0
    for r in zoomorph_gp_rows(a.seeds_csv):
        s = int(r["seed"])
        labelled = np.zeros(len(truth), bool)
        for i, sc in lab[s]:
            if i not in pos or sc != truth[pos[i]]:
                sys.exit(f"seed {s}: galaxy {i} labelled {sc}: not in the pool, or not the oracle's score")
            labelled[pos[i]] = True
        k = kernel(*(float(r[c]) for c in ("amp", "length", "alpha", "noise")), fixed=True)
        g = GaussianProcessRegressor(kernel=k, optimizer=None, normalize_y=False).fit(z[labelled], truth[labelled])
        mine = figures(g.predict(z), truth, labelled)
        cols = FIGS + [f"labelled_in_top{k}" for k in TOPS] + ["labels"]
        w = max(abs(mine[c] - float(r[c])) for c in cols)
        worst = max(worst, w)
        print(f"seed {s}: {mine['labels']} labels, {mine['interesting_labels']} interesting; zoomorph / reference: "
              + ", ".join(f"{c} {float(r[c]):.3f}/{mine[c]:.3f}" for c in FIGS) + f"; worst difference {w:.1e}")
    print(f"replay: worst difference {worst:.1e} over every figure of every seed "
          "(the same labelled galaxies and kernel)")
    if worst > 1e-9:
        sys.exit(1)


def run_compare(a):
    z, truth, ids = load(a.store, a.oracle, a.space)
    zm = zoomorph_gp_rows(a.seeds_csv)
    if any(int(r["labels"]) != min(a.budget, len(truth)) for r in zm):
        sys.exit(f"{a.seeds_csv}: zoomorph's seeds did not use {a.budget} labels")
    per = run_seeds(z, truth, ids, a.budget, a.seeds, quiet=True)
    print(f"{len(truth)} galaxies, {int((truth >= THRESHOLD).sum())} interesting, {a.budget} labels; zoomorph "
          f"{len(zm)} seeds, reference {len(per)} seeds")
    bad = 0
    for c in FIGS:
        mz, sz = mean_sd([float(r[c]) for r in zm])
        mr, sr = mean_sd([r[c] for r in per])
        k = int(c.rsplit("top", 1)[1])
        tol = 3 * np.sqrt(sz ** 2 / len(zm) + sr ** 2 / len(per)) + 1.0 / min(k, len(truth))
        ok = abs(mz - mr) <= tol
        bad += not ok
        print(f"  {c:18s} zoomorph {mz:.3f} +- {sz:.3f}  reference {mr:.3f} +- {sr:.3f}  difference "
              f"{mz - mr:+.3f} (tolerance {tol:.3f}) {'ok' if ok else 'DIFFERENT'}")
    if bad:
        sys.exit(1)
    print("compare: every figure agrees within its tolerance")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    lp = sub.add_parser("loop")
    lp.add_argument("store"), lp.add_argument("oracle")
    lp.add_argument("--first")
    lp.add_argument("--json")
    rp = sub.add_parser("replay")
    rp.add_argument("store"), rp.add_argument("oracle"), rp.add_argument("labels"), rp.add_argument("seeds_csv")
    cp = sub.add_parser("compare")
    cp.add_argument("store"), cp.add_argument("oracle"), cp.add_argument("seeds_csv")
    for q in (lp, rp, cp):
        q.add_argument("--space", default="coords_40")
    for q in (lp, cp):
        q.add_argument("--budget", type=int, default=200)
        q.add_argument("--seeds", type=int, default=3)
    a = p.parse_args()
    {"loop": run_loop, "replay": run_replay, "compare": run_compare}[a.mode](a)


if __name__ == "__main__":
    main()
