"""Tests of the ``trajectory-assoc`` Gymnasium environment and the DQN solvers (``dqn``, ``dqn-handover-only``)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mmopt.problems.trajectory_assoc import gamma_of, simulate
from mmopt.problems.trajectory_assoc.env import TrajectoryAssocEnv, realisations
from mmopt.registry import get_problem, get_solver
from mmopt.learned import weights_files

P = get_problem("trajectory-assoc")
SMALL = {"M": 60, "NB": 3, "n_train": 2, "bs_placement": "box"}


@pytest.fixture(scope="module")
def inst():
    return simulate(SMALL, np.random.default_rng(0))


def _as_instance(instance, r):
    """Training realisation ``r`` as a stand-alone instance (for the problem's objective)."""
    out = dict(instance)
    out["rate"] = np.asarray(instance["train_rate"][r], dtype=np.float64)
    out["rate_track"] = np.asarray(instance["train_rate_track"][r], dtype=np.float64)
    out["tau_track"] = np.asarray(instance["train_tau_track"][r], dtype=np.float64)
    return out


def _play(env, policy, **reset_kw):
    obs, info = env.reset(**reset_kw)
    rewards, serving, decisions = [], [], []
    done = False
    while not done:
        decisions.append(info["decision"])
        obs, r, done, trunc, info = env.step(policy(obs, info))
        assert not trunc
        rewards.append(r)
        serving.append(info["serving"])
    return np.array(rewards), np.array(serving), np.array(decisions)


def test_env_registered_and_checker(inst):
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    import mmopt.envs  # noqa: F401

    spec = gym.spec("mmopt/TrajectoryAssoc-v0")
    assert spec.entry_point == "mmopt.problems.trajectory_assoc.env:TrajectoryAssocEnv"
    env = gym.make("mmopt/TrajectoryAssoc-v0", instance=inst)
    assert isinstance(env.unwrapped, TrajectoryAssocEnv)
    check_env(env.unwrapped, skip_render_check=True)
    check_env(TrajectoryAssocEnv(), skip_render_check=True)  # default small instance
    # realisations vary with the reset seed, the trajectory does not
    seen = {env.unwrapped.reset(seed=s)[1]["realisation"] for s in range(20)}
    assert seen == {0, 1}


@pytest.mark.parametrize("which,tracking", [("instance", True), ("instance", False), ("train", True)])
def test_return_equals_objective(inst, which, tracking):
    env = TrajectoryAssocEnv(inst, realisations=which, tracking=tracking)
    rng = np.random.default_rng(1)
    for k in range(6):
        r = k % len(env.reals)
        rew, serving, dec = _play(env, lambda o, i: int(rng.integers(env.NB + 1)), seed=k,
                                  options={"realisation": r})
        ref = inst if which == "instance" else _as_instance(inst, r)
        # per-slot rewards are exactly the eq. (5a) terms of the problem's Gamma_i
        g, _ = gamma_of(ref, serving)
        np.testing.assert_array_equal(rew, g - float(ref["lam"]) * (g <= float(ref["gamma_thr"])))
        assert rew.sum() == pytest.approx(P.objective(ref, {"serving": serving}), abs=1e-9)
        # nothing changes outside decision points (Alg. 1)
        prev = np.concatenate(([int(inst["initial_bs"])], serving[:-1]))
        assert np.all(serving[~dec] == prev[~dec])
        if not tracking:  # handover-only: every decision point with a serving BS hands over
            assert np.all(serving[dec & (prev >= 0)] != prev[dec & (prev >= 0)])


def test_smdp_jumps_match_env(inst):
    """The learner's semi-Markov jumps (prefix sums) against slot-by-slot play in the environment."""
    from mmopt.problems.trajectory_assoc.solvers.dqn import ETA, _SMDP, rollout

    real = realisations(inst, "train")[1]
    sm = _SMDP(real, 1.0)
    rng = np.random.default_rng(3)
    W = rng.normal(size=(real.NB + 1, 2 * real.NB + 4)).astype(np.float32)
    qfn = lambda o: W @ o  # noqa: E731
    j0 = int(inst["initial_bs"])
    for tracking in (True, False):
        serving, n = rollout(real, qfn, j0, tracking)
        env = TrajectoryAssocEnv(inst, realisations="train", tracking=tracking)

        def greedy(o, info):
            q = np.where(info["action_mask"].astype(bool), qfn(o), -np.inf)
            return int(np.argmax(q))

        rew, serv_env, dec = _play(env, greedy, options={"realisation": 1})
        np.testing.assert_array_equal(serving, serv_env)
        assert n == dec.sum()
        # discounted reward between the first two decision points
        di = np.nonzero(dec)[0]
        if len(di) >= 2:
            i, t = di[0], di[1]
            prev = j0 if i == 0 else serv_env[i - 1]
            t2, R, g = sm.jump(i, prev, serv_env[i])
            assert t2 == t
            assert R == pytest.approx(sum(ETA ** (u - i) * rew[u] for u in range(i, t)), rel=1e-10)
            assert g == pytest.approx(ETA ** (t - i))


@pytest.mark.parametrize("tracking", [True, False])
def test_tiny_training_loss_decreases_and_is_deterministic(inst, tracking):
    from mmopt.problems.trajectory_assoc.solvers.dqn import train_trajectory

    m1, info = train_trajectory(inst, tracking=tracking, episodes=40, seed=0, warmup=16, batch=16)
    L = np.array(info["losses"])
    assert len(L) >= 40
    assert L[-20:].mean() < 0.8 * L[:20].mean()
    m2, _ = train_trajectory(inst, tracking=tracking, episodes=40, seed=0, warmup=16, batch=16)
    for k in ("w0", "b0", "w1", "w2", "b2"):
        assert np.array_equal(m1[k].numpy(), m2[k].numpy())
    assert m1["NB"] == 3 and m1["M"] == 60 and m1["tracking"] == tracking


def test_train_entry_writes_weights_the_solver_uses(tmp_path, monkeypatch):
    """``train`` (what ``mmopt train`` calls) -> weights + sidecar -> the solver on that trajectory."""
    from mmopt.learned import save_weights

    s = get_solver("dqn-handover-only", "trajectory-assoc")
    state, info = s.train_fn(epochs=3, seed=0, count=1, progress=False, suites=("smoke",))
    assert info["train_size"] == 1 and len(state["models"]) == 1
    monkeypatch.setenv("MMOPT_WEIGHTS_DIR", str(tmp_path))
    save_weights(tmp_path / "dqn_handover_only.pt", state, info)
    i0, i1 = P.generate("smoke", 0), P.generate("smoke", 1)
    assert s.applies(i0) is None
    assert "mmopt train" in s.applies(i1)
    sol, stats = s.solve(i0)
    assert P.check(i0, sol).feasible
    json.dumps(stats)


@pytest.mark.parametrize("name", ["dqn", "dqn-handover-only"])
def test_shipped_weights_and_smoke(name):
    from mmopt.learned import file_sha256, load_weights, read_sidecar

    s = get_solver(name, "trajectory-assoc")
    assert s.kind == "learned" and s.requires == ("torch",)
    (path,) = weights_files(s)
    side = read_sidecar(path)
    assert side["sha256"] == file_sha256(path)
    state = load_weights(path)
    assert state["tracking"] == (name == "dqn")
    suites = sorted({(m["suite"], int(m["index"])) for m in state["models"].values()})
    assert suites == sorted([("smoke", i) for i in range(8)] + [("paper", i) for i in range(48)])
    for i in range(P.suite("smoke").count):
        inst = P.generate("smoke", i).readonly()
        assert s.applies(inst) is None
        sol, stats = s.solve(inst)
        assert P.check(inst, sol).feasible
        sol2, _ = s.solve(inst)
        np.testing.assert_array_equal(sol["serving"], sol2["serving"])
        json.dumps(stats)
    # a trajectory without a model is declined, naming the command that trains one
    other = simulate(SMALL, np.random.default_rng(5))
    assert "mmopt train" in s.applies(other)
