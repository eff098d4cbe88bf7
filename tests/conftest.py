import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
# plugin modules used by runner tests must be importable in Dask workers too
os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


@pytest.fixture(scope="session")
def maxmin():
    from mmopt.registry import get_problem

    return get_problem("maxmin-assoc-bf")
