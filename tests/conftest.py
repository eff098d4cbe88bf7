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


@pytest.fixture(autouse=True)
def _sigint_disposition_restored(request):
    """Every test starts with the SIGINT handler the session started with: a test that leaves SIGINT ignored
    (a Dask cluster started and torn down in the test process, say) would make every later Ctrl-C test's
    subprocess inherit SIG_IGN. Such a test is named in a warning."""
    import signal
    import threading
    import warnings

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGINT)
    yield
    after = signal.getsignal(signal.SIGINT)
    if after is not before and before is not None:
        signal.signal(signal.SIGINT, before)
        warnings.warn(f"{request.node.nodeid} left the SIGINT handler changed ({after!r}); restored")
