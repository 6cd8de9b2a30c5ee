#!/usr/bin/python3
"""bench_nn_torch.py: the PyTorch peer of bench_nn (same networks, batch, input).

    bench_nn_torch.py ARCH IN_CH SIZE BATCH infer|train ITERS THREADS
infer: eval(), no_grad. train: train(), forward + MSE backward + Adam step.
Prints images/s (wall) and the best batch's CPU time (all threads of the process, the
same measure as bench_nn's). Uses Debian's python3-torch (1.13, oneDNN) and torchvision.
"""
import os
import sys
import time

import torch
import torchvision

sys.path.insert(0, __file__.rsplit("/", 3)[0] + "/tests/reference")


def main(arch, in_ch, size, batch, mode, iters, threads):
    import nn_reference as R  # sets 1 thread for the reference fixtures: set ours after it
    torch.set_num_threads(threads)
    m = R.build(arch, in_ch, 34)
    x = torch.randn(batch, in_ch, size, size)
    t = torch.randn(batch, 34)
    train = mode == "train"
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    m.train(train)
    times, cpus = [], []
    for it in range(iters + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        if train:
            opt.zero_grad()
            ((m(x) - t) ** 2).mean().backward()
            opt.step()
        else:
            with torch.no_grad():
                m(x)
        if it:
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
    mean = sum(times) / len(times)
    print("pytorch %s %s in_ch=%d size=%d batch=%d threads=%d: %.2f images/s best, %.2f mean "
          "(%d batches)" % (arch, "train-step" if train else "inference", in_ch, size, batch,
                            threads, batch / min(times), batch / mean, len(times)))
    print("  best batch CPU time %.3f s (all threads; %.2f images per CPU second)"
          % (min(cpus), batch / min(cpus)))
    cfg = torch.__config__.show()
    blas = [w.strip(",") for w in cfg.split() if w.startswith(("BLAS_INFO=", "USE_MKLDNN="))]
    print("  blas: torch %s; %s; OPENBLAS_CORETYPE=%s"
          % (torch.__version__, " ".join(blas) or "?", os.environ.get("OPENBLAS_CORETYPE", "<unset>")))


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], int(a[1]), int(a[2]), int(a[3]), a[4], int(a[5]), int(a[6]))
