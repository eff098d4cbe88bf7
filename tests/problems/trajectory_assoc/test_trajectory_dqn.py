"""Tests of the ``trajectory-assoc`` Gymnasium environment and the DQN solvers (``dqn``, ``dqn-handover-only``)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from mmopt.learned import weights_files
from mmopt.problems.trajectory_assoc import gamma_of, off_trigger_switches, simulate
from mmopt.problems.trajectory_assoc.env import (DecisionPointEnv, TrajectoryAssocEnv, obs_size, observation,
                                                 realisations)
from mmopt.registry import get_problem, get_solver

P = get_problem("trajectory-assoc")
SMALL = {"M": 60, "NB": 3, "n_train": 2, "n_val": 1, "bs_placement": "box"}
EVAL_KEYS = ("rate", "rate_track", "tau_track", "rate_keep")


@pytest.fixture(scope="module")
def inst():
    return simulate(SMALL, np.random.default_rng(0))


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


# ---------------------------------------------------------------------------
# the environment
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [{}, {"state": "rich"}, {"realisations": "new"},
                                {"realisations": "validation", "tracking": False}])
def test_env_passes_the_env_checker(inst, kw):
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    import mmopt.envs  # noqa: F401

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a failure
        check_env(TrajectoryAssocEnv(inst, **kw), skip_render_check=True)
        check_env(DecisionPointEnv(inst, gamma=0.99, **kw), skip_render_check=True)
        # gym.make with the passive checker on (the registration leaves it to the caller)
        env = gym.make("mmopt/TrajectoryAssoc-v0", instance=inst, disable_env_checker=False, **kw)
        rng = np.random.default_rng(0)
        env.reset(seed=1)
        for _ in range(2 * inst["rate"].shape[0]):
            *_, done, _, _ = env.step(int(rng.integers(env.action_space.n)))
            if done:
                env.reset()


def test_env_registered_default_instance_and_reset_seeds(inst):
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    import mmopt.envs  # noqa: F401

    spec = gym.spec("mmopt/TrajectoryAssoc-v0")
    assert spec.entry_point == "mmopt.problems.trajectory_assoc.env:TrajectoryAssocEnv"
    env = gym.make("mmopt/TrajectoryAssoc-v0", instance=inst)
    assert isinstance(env.unwrapped, TrajectoryAssocEnv)
    check_env(TrajectoryAssocEnv(), skip_render_check=True)  # default small instance
    # stored realisations vary with the reset seed, the trajectory does not
    seen = {env.unwrapped.reset(seed=s)[1]["realisation"] for s in range(20)}
    assert seen == {0, 1}
    with pytest.raises(ValueError):
        TrajectoryAssocEnv(inst, realisations="everything")
    with pytest.raises(ValueError):
        TrajectoryAssocEnv(inst, state="full")


def test_observation_is_the_papers_state_by_default(inst):
    NB = 3
    env = TrajectoryAssocEnv(inst, realisations="instance")
    assert env.observation_space.shape == (NB + 4,) == (obs_size(NB),)
    rich = TrajectoryAssocEnv(inst, realisations="instance", state="rich")
    assert rich.observation_space.shape == (2 * NB + 4,)
    real = env.reals[0]
    j0 = int(inst["initial_bs"])
    o, info = env.reset(seed=0)
    assert o[0] == 0.0 and o[1 + (j0 if j0 >= 0 else NB)] == 1.0 and o[NB + 3] == float(info["decision"])
    # SNR before tracking: the kept beam's rate (rate_keep), not the tracked one, nor any other BS's
    i, j = 7, 1
    o = observation(real, i, j)
    assert o[0] == pytest.approx(i / 60) and o[1 + j] == 1.0 and o[1:NB + 2].sum() == 1.0
    assert o[NB + 2] == pytest.approx(inst["rate_keep"][i, j] / 10)
    o2 = observation(real, i, j, "rich")
    np.testing.assert_array_equal(o2[:NB + 4], o)
    np.testing.assert_allclose(o2[NB + 4:], np.clip(inst["rate"][i] / 10, 0, 10), rtol=1e-6)
    # a trigger is exactly where the kept beam misses SNR_thr
    thr = np.log2(1 + float(inst["snr_thr"]))
    np.testing.assert_array_equal(real.trig, inst["rate_keep"] < thr - 1e-12)


def test_the_evaluated_realisation_is_not_played_by_default(inst):
    env = TrajectoryAssocEnv(inst)
    assert [r.name for r in env.reals] == ["train/0", "train/1"]
    for which, names in (("validation", ["validation/0"]), ("instance", ["instance"]),
                         ("all", ["instance", "train/0", "train/1", "validation/0"])):
        assert [r.name for r in realisations(inst, which)] == names
    for r in env.reals + realisations(inst, "validation"):
        assert not np.array_equal(r.rate, inst["rate"])
    # "new": drawn by seed, reproducible, never a stored one
    new = TrajectoryAssocEnv(inst, realisations="new")
    _, i1 = new.reset(seed=3)
    a = new.realisation.rate.copy()
    _, i2 = new.reset(seed=3)
    np.testing.assert_array_equal(new.realisation.rate, a)
    assert i1["realisation_seed"] == i2["realisation_seed"]
    new.reset(options={"realisation_seed": i1["realisation_seed"]})
    np.testing.assert_array_equal(new.realisation.rate, a)
    new.reset(seed=4)
    assert not np.array_equal(new.realisation.rate, a)
    for r in realisations(inst, "all"):
        assert not np.array_equal(r.rate, a)


@pytest.mark.parametrize("which,tracking", [("instance", True), ("instance", False), ("train", True),
                                            ("validation", True)])
def test_return_equals_objective(inst, which, tracking):
    env = TrajectoryAssocEnv(inst, realisations=which, tracking=tracking)
    rng = np.random.default_rng(1)
    for k in range(6):
        r = k % len(env.reals)
        rew, serving, dec = _play(env, lambda o, i: int(rng.integers(env.NB + 1)), seed=k,
                                  options={"realisation": r})
        ref = env.reals[r].as_instance(inst)
        # per-slot rewards are exactly the eq. (5a) terms of the problem's Gamma_i
        g, _ = gamma_of(ref, serving)
        np.testing.assert_array_equal(rew, g - float(ref["lam"]) * (g <= float(ref["gamma_thr"])))
        assert rew.sum() == pytest.approx(P.objective(ref, {"serving": serving}), abs=1e-9)
        # nothing changes outside decision points (Alg. 1)
        prev = np.concatenate(([int(inst["initial_bs"])], serving[:-1]))
        assert np.all(serving[~dec] == prev[~dec])
        assert off_trigger_switches(ref, serving) == 0
        if not tracking:  # handover-only: every decision point with a serving BS hands over
            assert np.all(serving[dec & (prev >= 0)] != prev[dec & (prev >= 0)])


def test_decision_point_env_is_the_smdp_of_the_slot_env(inst):
    """One step per decision; undiscounted return = objective; discounted rewards = the learner's jumps."""
    from mmopt.problems.trajectory_assoc.solvers.dqn import ETA, _SMDP

    for initial in (-1, 0):
        case = dict(inst)
        case["initial_bs"] = np.array(initial)
        rng = np.random.default_rng(5)
        env = DecisionPointEnv(case, realisations="train")
        obs, info = env.reset(seed=0, options={"realisation": 1})
        real = env.env.realisation
        served, total, steps = [], 0.0, 0
        done = False
        while not done:
            assert steps == 0 or info["decision"]
            obs, r, done, _, info = env.step(int(rng.integers(env.action_space.n)))
            served += list(info["served"])
            assert info["slots"] == len(info["served"]) and info["discount"] == 1.0
            total += r
            steps += 1
        assert len(served) == 60
        ref = real.as_instance(case)
        assert total == pytest.approx(P.objective(ref, {"serving": np.array(served)}), abs=1e-9)
        # with gamma = eta the step reward is the learner's semi-Markov jump
        env = DecisionPointEnv(case, realisations="train", gamma=ETA)
        sm = _SMDP(real, 1.0)
        obs, info = env.reset(seed=0, options={"realisation": 1})
        i, prev = 0, initial
        while True:
            a = int(rng.integers(1, env.action_space.n)) if info["decision"] else 0
            obs, r, done, _, info = env.step(a)
            b = int(info["served"][0])
            if i == 0 and initial >= 0 and not real.trig[0, initial]:
                i, prev = len(info["served"]), int(info["served"][-1])  # the pre-decision stretch
            else:
                t, R, g = sm.jump(i, prev, b)
                assert t == i + info["slots"] and R == pytest.approx(r, rel=1e-10)
                assert info["discount"] == pytest.approx(g)
                i, prev = t, int(info["served"][-1])
            if done:
                break


def test_smdp_jumps_match_env(inst):
    """The learner's semi-Markov jumps (prefix sums) against slot-by-slot play in the environment."""
    from mmopt.problems.trajectory_assoc.solvers.dqn import ETA, _SMDP, rollout

    real = realisations(inst, "train")[1]
    sm = _SMDP(real, 1.0)
    rng = np.random.default_rng(3)
    for state in ("paper", "rich"):
        W = rng.normal(size=(real.NB + 1, obs_size(real.NB, state))).astype(np.float32)
        qfn = lambda o: W @ o  # noqa: E731
        j0 = int(inst["initial_bs"])
        for tracking in (True, False):
            serving, n = rollout(real, qfn, j0, tracking, state)
            env = TrajectoryAssocEnv(inst, realisations="train", tracking=tracking, state=state)

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


# ---------------------------------------------------------------------------
# the learners
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("tracking,state", [(True, "paper"), (False, "paper"), (True, "rich")])
def test_tiny_training_loss_decreases_and_is_deterministic(inst, tracking, state):
    from mmopt.problems.trajectory_assoc.solvers.dqn import train_trajectory

    m1, info = train_trajectory(inst, tracking=tracking, episodes=80, seed=0, warmup=16, batch=16, state=state)
    L = np.array(info["losses"])
    assert len(L) >= 60
    assert L[-20:].mean() < 0.8 * L[:20].mean()
    m2, _ = train_trajectory(inst, tracking=tracking, episodes=80, seed=0, warmup=16, batch=16, state=state)
    for k in ("w0", "b0", "w1", "w2", "b2"):
        assert np.array_equal(m1[k].numpy(), m2[k].numpy())
    assert m1["NB"] == 3 and m1["M"] == 60 and m1["tracking"] == tracking and m1["state"] == state
    assert m1["w0"].shape[1] == obs_size(3, state)
    assert info["realisations"] == 2 and info["val_realisations"] == 1


def test_training_never_reads_the_evaluated_realisation(inst):
    """Garbage in the evaluated keys: the same model, the same fingerprint; other training data: another."""
    from mmopt.problems.trajectory_assoc.solvers.dqn import fingerprint, train_trajectory

    kw = dict(episodes=30, seed=0, warmup=16, batch=16)
    m1, _ = train_trajectory(inst, **kw)
    poisoned = dict(inst)
    rng = np.random.default_rng(9)
    for k in EVAL_KEYS:
        poisoned[k] = rng.uniform(0, 1e-3 if k == "tau_track" else 20, size=inst[k].shape)
    m2, _ = train_trajectory(poisoned, **kw)
    for k in ("w0", "b0", "w1", "b1", "w2", "b2"):
        assert np.array_equal(m1[k].numpy(), m2[k].numpy())
    assert fingerprint(poisoned) == fingerprint(inst)
    other = dict(inst)
    other["val_rate"] = inst["val_rate"] * np.float32(0.5)
    assert fingerprint(other) != fingerprint(inst)
    # and the training realisations are not the evaluated one
    for r in realisations(inst, "train") + realisations(inst, "validation"):
        assert not all(np.array_equal(getattr(r, k), np.asarray(inst[k], dtype=np.float64))
                       for k in EVAL_KEYS)


def test_train_entry_writes_weights_the_solver_uses(tmp_path, monkeypatch):
    """``train`` (what ``mmopt train`` calls) -> weights + sidecar -> the solver on that trajectory."""
    from mmopt.learned import save_weights

    s = get_solver("dqn-handover-only", "trajectory-assoc")
    state, info = s.train_fn(epochs=3, seed=0, count=1, progress=False, suites=("smoke",))
    assert info["train_size"] == 1 and len(state["models"]) == 1 and state["state"] == "paper"
    assert info["train_realisations_per_trajectory"] == [50] and info["val_realisations_per_trajectory"] == [1]
    monkeypatch.setenv("MMOPT_WEIGHTS_DIR", str(tmp_path))
    save_weights(tmp_path / "dqn_handover_only.pt", state, info)
    i0, i1 = P.generate("smoke", 0), P.generate("smoke", 1)
    assert s.applies(i0) is None
    assert "mmopt train" in s.applies(i1)
    assert "--param state=rich" in s.applies(i0, {"state": "rich"})  # no rich weights in this folder
    sol, stats = s.solve(i0)
    assert P.check(i0, sol).feasible
    json.dumps(stats)


@pytest.mark.parametrize("name,state", [("dqn", "paper"), ("dqn", "rich"), ("dqn-handover-only", "paper")])
def test_shipped_weights_and_smoke(name, state):
    from mmopt.learned import file_sha256, load_weights, read_sidecar

    s = get_solver(name, "trajectory-assoc")
    assert s.kind == "learned" and s.requires == ("torch",)
    (path,) = weights_files(s, {"state": state})
    side = read_sidecar(path)
    assert side["sha256"] == file_sha256(path)
    assert side["train_realisations_per_trajectory"] == [50] and side["val_realisations_per_trajectory"] == [1]
    weights = load_weights(path)
    assert weights["tracking"] == (name == "dqn") and weights["state"] == state
    suites = sorted({(m["suite"], int(m["index"])) for m in weights["models"].values()})
    assert suites == sorted([("smoke", i) for i in range(8)] + [("small", i) for i in range(20)]
                            + [("paper", i) for i in range(48)])
    for i in range(P.suite("smoke").count):
        inst = P.generate("smoke", i).readonly()
        assert s.applies(inst, {"state": state}) is None
        sol, stats = s.solve(inst, state=state)
        assert P.check(inst, sol).feasible
        assert off_trigger_switches(inst, sol["serving"]) == 0  # a policy of Alg. 1's class
        sol2, _ = s.solve(inst, state=state)
        np.testing.assert_array_equal(sol["serving"], sol2["serving"])
        json.dumps(stats)
    # a trajectory without a model is declined, naming the command that trains one
    other = simulate(SMALL, np.random.default_rng(5))
    assert "mmopt train" in s.applies(other, {"state": state})
