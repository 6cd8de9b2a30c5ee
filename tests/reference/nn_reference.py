#!/usr/bin/python3
"""nn_reference.py: PyTorch references for the CNN engine's tests (run by the C tests).

    nn_reference.py layers OUT.h5
        every layer alone: inputs, parameters, outputs and the gradients of
        sum(y * dy) for a random dy, computed in float64; one group per case.
    nn_reference.py net ARCH IN_CH SIZE BATCH N_OUT OUTDIR
        builds torchvision's network (zoonet = torchvision's EfficientNet with zoonet's
        stage table), randomises every parameter and BN statistic from a fixed seed,
        writes the weights with models/convert_torch.py (so the converter is tested too)
        to OUTDIR/ARCH_weights.h5, and to OUTDIR/ARCH_ref.h5: input x, target t, the
        training-mode output and pooled representation, loss = mean((y - t)^2), every
        parameter gradient (by state-dict name), the running statistics after that
        forward pass, the eval-mode output, and the loss of 10 Adam steps (lr 1e-3).
        float64 throughout: the reference is as exact as we can make it.
Writes nothing into the source tree. Exit 77 when torch is missing (test skipped).
"""
import copy
import os
import sys

try:
    import h5py
    import numpy as np
    import torch
    import torch.nn.functional as F
    import torchvision  # noqa: F401  (build() uses it)
except ImportError as e:  # pragma: no cover
    print("nn_reference: %s (install python3-torch python3-torchvision python3-h5py)" % e)
    sys.exit(77)

SRC = os.environ.get("ZM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "models"))
import convert_torch  # noqa: E402

torch.set_num_threads(1)

CONV_CASES = [  # name, N, C, H, W, O, K, S, D, G, bias
    ("conv3x3", 2, 3, 9, 9, 4, 3, 1, 1, 1, 1),
    ("conv3x3s2", 2, 4, 10, 10, 6, 3, 2, 1, 1, 0),
    ("conv7x7s2", 2, 3, 16, 16, 8, 7, 2, 3, 1, 0),
    ("conv1x1", 2, 8, 5, 5, 6, 1, 1, 0, 1, 1),
    ("conv1x1s2", 2, 8, 6, 6, 4, 1, 2, 0, 1, 0),
    ("grouped", 2, 8, 7, 7, 6, 3, 1, 1, 2, 1),
    ("dw3", 2, 6, 8, 8, 6, 3, 1, 1, 6, 0),
    ("dw5s2", 2, 6, 9, 9, 6, 5, 2, 2, 6, 1),
    ("dw3s2", 2, 5, 8, 8, 5, 3, 2, 1, 5, 0),
    ("dwmult2", 1, 3, 6, 6, 6, 3, 1, 1, 3, 0),
]


def put(g, **arrays):
    for k, v in arrays.items():
        g.create_dataset(k, data=np.asarray(v.detach().numpy() if torch.is_tensor(v) else v,
                                            dtype=np.float32))


def rnd(*shape, scale=1.0):
    return (torch.randn(*shape, dtype=torch.float64) * scale).requires_grad_(True)


def layers(path):
    torch.manual_seed(1234)
    with h5py.File(path, "w") as f:
        for name, N, C, H, W, O, K, S, D, G, bias in CONV_CASES:
            g = f.create_group(name)
            for k, v in dict(N=N, C=C, H=H, W=W, O=O, K=K, S=S, D=D, G=G, bias=bias).items():
                g.attrs[k] = v
            x, w = rnd(N, C, H, W), rnd(O, C // G, K, K, scale=0.3)
            b = rnd(O) if bias else None
            y = F.conv2d(x, w, b, stride=S, padding=D, groups=G)
            dy = torch.randn_like(y)
            (y * dy).sum().backward()
            put(g, x=x, w=w, y=y, dy=dy, dx=x.grad, dw=w.grad)
            if bias:
                put(g, b=b, db=b.grad)
        # batch norm, training and inference
        N, C, H, W = 3, 4, 5, 5
        g = f.create_group("bn_train")
        x = rnd(N, C, H, W) * 2 + 1
        x.retain_grad()
        gam, bet = rnd(C), rnd(C)
        rm, rv = torch.randn(C, dtype=torch.float64), torch.rand(C, dtype=torch.float64) + 0.5
        put(g, rm0=rm, rv0=rv)
        y = F.batch_norm(x, rm, rv, gam, bet, training=True, momentum=0.1, eps=1e-5)
        dy = torch.randn_like(y)
        (y * dy).sum().backward()
        put(g, x=x, gamma=gam, beta=bet, y=y, dy=dy, dx=x.grad, dgamma=gam.grad, dbeta=bet.grad,
            rm1=rm, rv1=rv)
        g = f.create_group("bn_eval")
        x = rnd(N, C, H, W)
        gam, bet = rnd(C), rnd(C)
        rm, rv = torch.randn(C, dtype=torch.float64), torch.rand(C, dtype=torch.float64) + 0.5
        y = F.batch_norm(x, rm, rv, gam, bet, training=False, eps=1e-5)
        put(g, x=x, gamma=gam, beta=bet, rm=rm, rv=rv, y=y)
        # activations
        for name, fn in (("relu", F.relu), ("silu", F.silu), ("sigmoid", torch.sigmoid)):
            g = f.create_group(name)
            x = rnd(2, 3, 4, 4, scale=3.0)
            y = fn(x)
            dy = torch.randn_like(y)
            (y * dy).sum().backward()
            put(g, x=x, y=y, dy=dy, dx=x.grad)
        # pooling
        for name, H in (("maxpool9", 9), ("maxpool8", 8)):
            g = f.create_group(name)
            g.attrs["H"] = H
            x = rnd(2, 3, H, H)
            y = F.max_pool2d(x, 3, 2, 1)
            dy = torch.randn_like(y)
            (y * dy).sum().backward()
            put(g, x=x, y=y, dy=dy, dx=x.grad)
        g = f.create_group("gap")
        x = rnd(2, 5, 4, 4)
        y = x.mean(dim=(2, 3))
        dy = torch.randn_like(y)
        (y * dy).sum().backward()
        put(g, x=x, y=y, dy=dy, dx=x.grad)
        g = f.create_group("linear")
        x, w, b = rnd(3, 7), rnd(5, 7), rnd(5)
        y = F.linear(x, w, b)
        dy = torch.randn_like(y)
        (y * dy).sum().backward()
        put(g, x=x, w=w, b=b, y=y, dy=dy, dx=x.grad, dw=w.grad, db=b.grad)
        # squeeze-excitation as torchvision's SqueezeExcitation (SiLU inside)
        g = f.create_group("se")
        x = rnd(2, 8, 5, 5)
        w1, b1, w2, b2 = rnd(2, 8, 1, 1), rnd(2), rnd(8, 2, 1, 1), rnd(8)
        s = F.adaptive_avg_pool2d(x, 1)
        s = torch.sigmoid(F.conv2d(F.silu(F.conv2d(s, w1, b1)), w2, b2))
        y = x * s
        dy = torch.randn_like(y)
        (y * dy).sum().backward()
        put(g, x=x, w1=w1, b1=b1, w2=w2, b2=b2, y=y, dy=dy, dx=x.grad, dw1=w1.grad, db1=b1.grad,
            dw2=w2.grad, db2=b2.grad)
        # residual add
        g = f.create_group("add")
        a, c = rnd(2, 3, 4, 4), rnd(2, 3, 4, 4)
        put(g, a=a, c=c, y=a + c)


ZOONET = [(1, 3, 1, 16, 16, 1), (4, 3, 2, 16, 24, 2), (4, 5, 2, 24, 40, 2),
          (4, 3, 2, 40, 80, 2), (4, 5, 1, 80, 96, 2), (4, 5, 2, 96, 160, 2)]


U = 2.0 ** -24  # float32's unit roundoff


def gamma(n):
    return n * U / (1 - n * U)


def rounding_tolerance(m, fn, trials=4, seed=7):
    """Per-value tolerance of fn(m) for a float32 implementation, from the computation:
    every convolution and linear output is moved, in float64, by its float32 rounding
    bound gamma_{n+2} * M (Higham's bound for a sum of n products in any order, +2 for
    the float32 rounding of inputs and weights; M is the same layer on absolute values)
    with a random sign per value, and the network runs on from there. The tolerance is
    twice the largest move of each value over the trials: the factor covers the rounding
    of the other operations (batch norm, activations, pooling, Winograd's transforms).
    m is used as it is (mode, statistics) and left unchanged."""
    import torch.nn as nn
    gen = torch.Generator().manual_seed(seed)

    def bound(mod, out, M, n):
        sign = torch.randint(0, 2, out.shape, generator=gen, dtype=torch.int64).double() * 2 - 1
        return out + gamma(n + 2) * M * sign

    def conv_hook(mod, inp, out):
        a = inp[0].abs()
        M = F.conv2d(a, mod.weight.abs(), None if mod.bias is None else mod.bias.abs(),
                     mod.stride, mod.padding, mod.dilation, mod.groups)
        kh, kw = mod.kernel_size
        return bound(mod, out, M, mod.in_channels // mod.groups * kh * kw + (mod.bias is not None))

    def linear_hook(mod, inp, out):
        M = F.linear(inp[0].abs(), mod.weight.abs(), None if mod.bias is None else mod.bias.abs())
        return bound(mod, out, M, mod.in_features + (mod.bias is not None))

    with torch.no_grad():
        clean = [v.clone() for v in fn(copy.deepcopy(m))]
        worst = [torch.zeros_like(v) for v in clean]
        for _ in range(trials):
            mt = copy.deepcopy(m)
            for mod in mt.modules():
                if isinstance(mod, nn.Conv2d):
                    mod.register_forward_hook(conv_hook)
                elif isinstance(mod, nn.Linear):
                    mod.register_forward_hook(linear_hook)
            for w, c, v in zip(worst, clean, fn(mt)):
                torch.maximum(w, (v - c).abs(), out=w)
    return [2 * w for w in worst]


def build(arch, in_ch, n_out):
    import torch.nn as nn
    import torchvision
    from torchvision.models import efficientnet as E
    if arch == "efficientnet_b0":
        cfg, last = E._efficientnet_conf("efficientnet_b0", width_mult=1.0, depth_mult=1.0)
        m = E.EfficientNet(cfg, dropout=0.0, stochastic_depth_prob=0.0, num_classes=n_out,
                           last_channel=last)
        stem = ("features", 0, 0)
    elif arch == "zoonet":
        cfg = [E.MBConvConfig(*s) for s in ZOONET]
        m = E.EfficientNet(cfg, dropout=0.0, stochastic_depth_prob=0.0, num_classes=n_out,
                           last_channel=512)
        stem = ("features", 0, 0)
    elif arch == "resnet18":
        m = torchvision.models.resnet18(num_classes=n_out)
        stem = None
    else:
        raise SystemExit("unknown arch " + arch)
    if in_ch != 3:
        if stem:
            old = m.features[0][0]
            m.features[0][0] = nn.Conv2d(in_ch, old.out_channels, 3, 2, 1, bias=False)
        else:
            m.conv1 = nn.Conv2d(in_ch, 64, 7, 2, 3, bias=False)
    return m


def representation(m, arch, x):
    if arch == "resnet18":
        h = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        h = m.layer4(m.layer3(m.layer2(m.layer1(h))))
        return m.avgpool(h).flatten(1)
    return m.avgpool(m.features(x)).flatten(1)


def net(arch, in_ch, size, batch, n_out, outdir):
    torch.manual_seed(42)
    m = build(arch, in_ch, n_out)
    with torch.no_grad():  # non-trivial BN parameters and statistics
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
    m32 = copy.deepcopy(m)  # PyTorch's own float32 result, to show its rounding error
    m = m.double()
    sd0 = {k: v.clone() for k, v in m.state_dict().items()}
    convert_torch.write_weights(os.path.join(outdir, arch + "_weights.h5"),
                                convert_torch.normalise_state_dict(m.state_dict()), arch, size)
    x = torch.randn(batch, in_ch, size, size).double()  # float32 values, as the C side reads
    t = torch.randn(batch, n_out).double()
    m.train()
    (y_tol,) = rounding_tolerance(m, lambda mm: (mm.train()(x),))
    y = m(x)  # updates the running statistics that eval mode uses below
    loss = ((y - t) ** 2).mean()
    loss.backward()
    with h5py.File(os.path.join(outdir, arch + "_ref.h5"), "w") as f:
        put(f, x=x, t=t, y=y, loss=loss.reshape(1), y_tol=y_tol)
        with torch.no_grad():
            m.eval()
            put(f, y_eval=m(x), repr_eval=representation(m, arch, x))
        y_eval_tol, repr_eval_tol = rounding_tolerance(
            m, lambda mm: (mm.eval()(x), representation(mm.eval(), arch, x)))
        put(f, y_eval_tol=y_eval_tol, repr_eval_tol=repr_eval_tol)
        g = f.create_group("grad")
        for k, p in m.named_parameters():
            put(g, **{k: p.grad})
        s = f.create_group("state")
        for k, v in m.state_dict().items():
            if "running" in k:
                put(s, **{k: v})
        m32.train()
        y32 = m32(x.float())
        ((y32 - t.float()) ** 2).mean().backward()
        put(f, y32=y32)
        g = f.create_group("grad32")
        for k, p in m32.named_parameters():
            put(g, **{k: p.grad})
        # 10 Adam steps from the same weights
        m.load_state_dict(sd0)
        m.train()
        opt = torch.optim.Adam(m.parameters(), lr=1e-3, eps=1e-6)
        losses = []
        for _ in range(10):
            opt.zero_grad()
            loss = ((m(x) - t) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        put(f, adam_losses=np.array(losses))
        # how far float32-sized changes move those losses: the same 10 steps in float64
        # from weights moved by 16 u (random sign per value: float32 storage and the
        # rounding of a first step); the trajectory is chaotic, so this, not a fixed
        # fraction, says how far two correct float32 runs can end apart
        gen = torch.Generator().manual_seed(11)
        spread = np.zeros(10)
        for _ in range(3):
            sd = {k: v * (1 + 16 * U * (torch.randint(0, 2, v.shape, generator=gen).double() * 2 - 1))
                  if v.is_floating_point() else v for k, v in sd0.items()}
            m.load_state_dict(sd)
            m.train()
            opt = torch.optim.Adam(m.parameters(), lr=1e-3, eps=1e-6)
            for i in range(10):
                opt.zero_grad()
                loss = ((m(x) - t) ** 2).mean()
                loss.backward()
                opt.step()
                spread[i] = max(spread[i], abs(loss.item() - losses[i]))
        put(f, adam_losses_tol=4 * spread)
        # the same in float32: PyTorch's own drift from the float64 trajectory
        m32.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd0.items()})
        m32.train()
        opt = torch.optim.Adam(m32.parameters(), lr=1e-3, eps=1e-6)
        losses = []
        for _ in range(10):
            opt.zero_grad()
            loss = ((m32(x.float()) - t.float()) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        put(f, adam_losses32=np.array(losses))


def main(argv):
    if argv[0] == "layers":
        layers(argv[1])
    elif argv[0] == "net":
        net(argv[1], int(argv[2]), int(argv[3]), int(argv[4]), int(argv[5]), argv[6])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
