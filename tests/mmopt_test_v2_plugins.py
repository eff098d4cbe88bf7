"""Plugins for the engine tests: a declining solver, an unavailable one, a tiny learned one."""
import numpy as np

from mmopt.api import solver

from mmopt_test_plugins import _mrt


def _declines_odd(instance, **_):
    return "odd instances are declined" if instance.meta.get("index", 0) % 2 else None


@solver("test-declines", problems=["maxmin-assoc-bf"], kind="baseline", applies=_declines_odd)
def declines(instance):
    assoc, V = _mrt(instance)
    return {"assoc": assoc, "V": V}, {}


@solver("test-unavailable", problems=["maxmin-assoc-bf"], kind="baseline", requires=("mmopt_no_such_module",))
def unavailable(instance):
    import mmopt_no_such_module  # noqa: F401

    return {}, {}


_MODEL = {}


def _load(**_):
    from mmopt.learned import load_weights

    _MODEL["w"] = load_weights("test_linear.pt")
    return _MODEL["w"]


def _train(*, epochs=30, seed=0, count=None, progress=False):
    """Fit the per-AP power scale of MRT by gradient steps on the smoke suite (a loss that decreases)."""
    import torch

    from mmopt.learned import deterministic
    from mmopt.registry import get_problem

    deterministic(seed)
    p = get_problem("maxmin-assoc-bf")
    x = torch.tensor([float(np.abs(p.generate("smoke", i)["H"]).mean()) for i in range(count or 3)],
                     dtype=torch.float64)
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        loss = ((w * x - 1.0) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return {"w": w.detach()}, {"train_suite": "smoke", "train_size": int(x.numel()), "epochs": epochs,
                               "train_loss": losses[-1], "val_loss": losses[-1], "losses": losses}


@solver("test-linear", problems=["maxmin-assoc-bf"], kind="learned", requires=("torch",),
        weights="test_linear.pt", train=_train, setup=_load)
def linear(instance):
    _load()
    assoc, V = _mrt(instance)
    return {"assoc": assoc, "V": V}, {"w": float(_MODEL["w"]["w"][0])}
