#!/usr/bin/python3
"""Independent reference for the Dirichlet-multinomial loss (PyTorch autograd, lgamma).

Reads the tree from zoomorph's schema dump (one question per line: first nanswers),
draws random logits and vote counts (with zeros and unanswered questions), computes the
loss per galaxy and its gradient w.r.t. the logits by autograd, and writes raw float64
arrays: x (B x A), k (B x A), loss (B), grad (B x A).

usage: gz_loss.py schema.txt OUTPREFIX B SEED
"""
import sys

import numpy as np
import torch


def main():
    qs = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
    prefix, B, seed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    A = sum(n for _, n in qs)
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2.0, (B, A))
    k = rng.integers(0, 30, (B, A)).astype(np.float64)
    k[rng.random((B, A)) < 0.3] = 0
    for b in range(B):           # some questions nobody answered
        for first, n in qs:
            if rng.random() < 0.25:
                k[b, first:first + n] = 0
    xt = torch.tensor(x, requires_grad=True)
    kt = torch.tensor(k)
    a = 1 + 100 * torch.sigmoid(xt)
    loss = torch.zeros(B, dtype=torch.float64)
    for first, n in qs:
        ka, aa = kt[:, first:first + n], a[:, first:first + n]
        N, S = ka.sum(1), aa.sum(1)
        lp = (torch.lgamma(N + 1) + torch.lgamma(S) - torch.lgamma(N + S)
              + (torch.lgamma(ka + aa) - torch.lgamma(aa) - torch.lgamma(ka + 1)).sum(1))
        loss = loss - torch.where(N > 0, lp, torch.zeros_like(lp))
    loss.sum().backward()
    x.astype(np.float64).tofile(prefix + ".x")
    k.tofile(prefix + ".k")
    loss.detach().numpy().tofile(prefix + ".loss")
    xt.grad.numpy().tofile(prefix + ".grad")


if __name__ == "__main__":
    main()
