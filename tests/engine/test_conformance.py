"""Every registered problem and solver keeps the contract (mmopt.testing)."""
import pytest

from mmopt.registry import all_solvers, get_problem, problems
from mmopt.testing import check_problem, check_solver

PROBLEMS = sorted(problems())
SOLVERS = sorted((p, s.name) for (p, _), s in all_solvers() if not s.module.startswith("mmopt_test"))


@pytest.mark.parametrize("name", PROBLEMS)
def test_problem_conformance(name):
    check_problem(get_problem(name))


@pytest.mark.parametrize("problem,name", SOLVERS, ids=[f"{p}:{n}" for p, n in SOLVERS])
def test_solver_conformance(problem, name):
    from mmopt.registry import get_solver

    s = get_solver(name, problem)
    if not s.available:
        pytest.skip(s.unavailable_reason())
    done = check_solver(get_problem(problem), s)
    assert done["solved"] + done["skipped"] >= 1
