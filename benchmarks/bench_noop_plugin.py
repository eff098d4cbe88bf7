"""The ``bench-noop`` problem and ``busy-argmax`` solver of ``bench_engine.py`` (loaded as a plugin)."""
from __future__ import annotations

import os
import time

import numpy as np

from mmopt.api import FeasibilityReport, Key, Problem, Suite, problem, solver

N_CELLS = int(os.environ.get("MMOPT_BENCH_CELLS", "2000"))
SOLVER_MS = float(os.environ.get("MMOPT_BENCH_SOLVER_MS", "1"))


@problem
class BenchNoop(Problem):
    """A benchmark-only problem: pick the largest of 16 numbers."""

    name = "bench-noop"
    title = "engine overhead benchmark"
    statement = "Maximise $x_i$ over $i$."
    instance_keys = (Key("x", "float64", ("N",)),)
    solution_keys = (Key("i", "int64", ()),)
    suites = {"bench": Suite("bench", N_CELLS, {"N": 16}, seed=7)}

    def make_instance(self, params, rng):
        return {"x": rng.random(int(params["N"]))}

    def constraints(self, instance, solution, tol, report: FeasibilityReport):
        if not 0 <= int(solution["i"]) < instance["x"].size:
            report.add("index in range", 1.0)

    def objective(self, instance, solution):
        return float(instance["x"][int(solution["i"])])


@solver("busy-argmax", problems=["bench-noop"], kind="baseline")
def busy_argmax(instance, *, ms: float = SOLVER_MS):
    t_end = time.perf_counter() + ms / 1e3
    while time.perf_counter() < t_end:
        pass
    return {"i": np.array(int(np.argmax(instance["x"])), dtype=np.int64)}, {}
