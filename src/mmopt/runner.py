"""The benchmark matrix on dask.distributed.

A cell is (problem, suite, index, solver, parameters, seed). :func:`plan`
builds the cells from the suite manifests (instance hashes shipped beside
the references), so planning generates nothing; the cache key of a cell is
(instance hash, solver, version, parameters, weights sha256). Cells not in
the store go to an executor: a Dask client (a ``LocalCluster`` of
single-threaded worker processes by default, or an existing cluster with
``scheduler=ADDRESS``), or ``workers=0`` to run them one by one in this
process. Either way each cell runs :func:`mmopt.cell.run_cell`, which
returns a finished row that is stored as it is. User plugin files are
shipped to the workers (``Client.upload_file``). Every finished row is
committed as it arrives; Ctrl-C, SIGTERM and SIGHUP keep every finished cell
and release the run's claims. With an external scheduler, a run whose
driver is gone has its running cells cancelled (with everything they
started), and cells lost with the scheduler are stored ``lost`` and run
again next time.

Failed cells are not served from the store forever: a stored ``timeout`` is
re-run when the time limit is larger, a stored ``error`` unless
``keep_failed``. Runs sharing a store claim their cells (a lease in the
store), so two runs never compute the same cell; a cell claimed by another
run is waited for, its owner named, for a bounded time. Each cell has a
memory limit for its whole process tree (GB, default: the machine's memory
divided by the workers, or by the cores with ``workers=0``) and is killed
with everything it started when the driver is gone. ``workers`` is at most
the cores; a ``scheduler`` address is checked before anything is written.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import socket
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

from .api import MmoptError, params_key
from .cell import run_cell
from .learned import fingerprint
from .progress import progress_bar
from .references import load_references, suite_hashes
from .registry import get_problem, get_solver, problems as all_problems, solvers_for
from .sandbox import check_memory_limit, check_time_limit, default_memory_limit, one_line
from .schema import Cell, Row
from .store import Store, cache_key, provenance

__all__ = ["DEFAULT_TIME_LIMIT", "WORKER_ENV", "RunSummary", "plan", "max_workers", "check_workers",
           "check_scheduler", "make_client", "ship_plugins", "run_cells", "chunked", "failed_row", "execute", "run"]

#: seconds per cell unless the caller gives another limit (``mmopt run --time-limit``)
DEFAULT_TIME_LIMIT = 600.0
#: seeds are integers from 0 to 2**63 - 1 (NumPy's SeedSequence takes them; SQLite stores them)
MAX_SEED = 1 << 63
#: environment of the local Dask workers: single-threaded BLAS/OpenMP. It replaces Dask's default, which also
#: sets ``MALLOC_TRIM_THRESHOLD_=65536``: that fixes glibc's mmap threshold at 128 KiB, so every NumPy
#: temporary above it is mapped and unmapped afresh (the bound computations of random-beam-config's bnb ran
#: 1.7x slower in a worker than in the driver); each cell runs in its own process anyway
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass
class RunSummary:
    """What :func:`run` did.

    Attributes
    ----------
    run_id : str
        ``YYYYmmddTHHMMSS-PID``: the ``run_id`` of the rows this run stored
        and the owner of its claims.
    planned : int
        Cells in the matrix (:func:`plan`).
    cached : int
        Cells served from the store, not run.
    counts : dict of str to int
        Rows this run stored, by status.
    interrupted : bool
        Whether the run was interrupted (Ctrl-C); the finished cells are stored.
    seconds : float
        Wall-clock seconds of the whole run.
    unavailable : list of str
        ``problem/solver: reason`` of each solver left out for a missing
        optional dependency.
    retried : int
        Stored failed cells run again (``timeout`` with a larger limit,
        ``error`` without ``keep_failed``).
    by_other_run : int
        Cells left to another run that had claimed them (not counting those
        this run took over when that run let them go unfinished).
    keys : list of str
        Cache keys of the planned cells.
    signal : str or None
        ``SIGTERM`` or ``SIGHUP`` when that signal interrupted the run.
    left_to : list of str
        ``run_id (pid P on HOST)`` of the runs still holding cells when the wait ended.
    """

    run_id: str
    planned: int = 0
    cached: int = 0
    counts: dict = field(default_factory=dict)
    interrupted: bool = False
    seconds: float = 0.0
    unavailable: list = field(default_factory=list)
    #: stored failed cells run again (timeout with a larger limit, error without keep_failed)
    retried: int = 0
    #: cells left to another run that had claimed them
    by_other_run: int = 0
    #: the cache keys of the planned cells (what the run's table shows)
    keys: list = field(default_factory=list, repr=False)
    #: the signal that interrupted the run (``SIGTERM``, ``SIGHUP``), ``None`` for Ctrl-C or none
    signal: str | None = None
    #: runs still holding cells when this run stopped waiting for them
    left_to: list = field(default_factory=list)

    @property
    def ran(self) -> int:
        """Cells this run computed and stored (the sum of :attr:`counts`)."""
        return sum(self.counts.values())

    @property
    def lost(self) -> int:
        """Cells stored ``lost`` (the Dask scheduler went away; run again next time)."""
        return self.counts.get("lost", 0)


def plan(problem_names: Iterable[str] | None, suite: str, solver_names: Iterable[str] | None = None,
         params: Mapping[str, Mapping] | None = None, seed: int = 0, count: int | None = None,
         time_limit: float | None = DEFAULT_TIME_LIMIT, unavailable: list | None = None) -> list[Cell]:
    """Every cell of the matrix (problems x instances of ``suite`` x solvers), for :func:`mmopt.cell.run_cell`.

    Solvers whose optional dependencies are missing are left out (their names
    are appended to ``unavailable``); naming one in ``solver_names`` is an error.
    Instance hashes come from the suite manifests and references from the
    shipped records, so planning generates no instance when the manifests
    exist (:func:`mmopt.references.suite_hashes`).

    Parameters
    ----------
    problem_names : iterable of str or None
        Problems; ``None`` or empty: every problem that has ``suite``.
    suite : str
        Suite name.
    solver_names : iterable of str, optional
        Solvers; ``None`` or empty: every available solver of each problem. A
        named solver must solve at least one of the problems.
    params : mapping of str to mapping, optional
        Solver name -> ``{parameter: value}``; the key ``"*"`` gives values to
        every solver that has the parameter (a solver's own entry wins).
        Strings are converted by :meth:`~mmopt.api.Solver.canonical_params`.
    seed : int
        The cells' seed, also set as the ``seed`` parameter of solvers that
        have one (over any ``seed`` in ``params``).
    count : int, optional
        First ``count`` instances of the suite (``None``: all; more than the
        suite has: all).
    time_limit : float or None
        Seconds per cell; ``None``: no limit.
    unavailable : list, optional
        Receives ``problem/solver: reason`` for each solver left out.

    Returns
    -------
    list of Cell
        Problem by problem, instance by instance, solver by solver; each with
        its canonical parameters, instance hash, cache key
        (:func:`mmopt.store.cache_key`, with the weights' sha256), reference
        record (``None`` when none is shipped) and time limit.

    Raises
    ------
    MmoptError
        When ``count`` is negative; ``seed`` is not an integer in [0, 2**63);
        ``params`` sets ``seed`` (the cells' seed is ``seed``); a problem or named solver is unknown, a
        named problem has no such suite, a named solver solves none of the
        problems or is unavailable; a ``params`` entry names a solver not in
        the run, a ``"*"`` parameter no solver of the run has, or a parameter
        a solver does not have; or a manifest or reference file is malformed.
    InputError
        When ``time_limit`` is not a positive finite number or ``None``.
    """
    params = dict(params or {})
    time_limit = check_time_limit(time_limit)
    if count is not None and count < 0:
        raise MmoptError(f"--count must be >= 0, got {count}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < MAX_SEED:
        raise MmoptError(f"--seed must be an integer from 0 to 2**63 - 1, got {seed}")
    for sname, prm in params.items():
        if "seed" in prm:
            raise MmoptError(f"--param {'' if sname == '*' else sname + '.'}seed: the seed of every cell is "
                             f"--seed (given {prm['seed']})")
    names = list(problem_names or [n for n, p in all_problems().items() if suite in p.suites])
    wanted = list(solver_names or [])
    known = {s.name for n in names for s in solvers_for(get_problem(n).name)}
    for w in wanted:
        if w not in known:
            get_solver(w)  # unknown anywhere -> error naming what exists
            raise MmoptError(f"solver {w} does not solve any of: {', '.join(names)}")
    cells, used, used_common = [], set(), set()
    for pname in names:
        p = get_problem(pname)
        s_ = p.suite(suite)
        solvers = []
        for s in solvers_for(pname):
            if wanted and s.name not in wanted:
                continue
            why = s.unavailable_reason()
            if why:
                if wanted:
                    raise MmoptError(f"solver '{s.name}' is unavailable: it {why}")
                if unavailable is not None:
                    unavailable.append(f"{pname}/{s.name}: {why}")
                continue
            solvers.append(s)
        if not solvers:
            continue
        n = s_.count if count is None else max(0, min(count, s_.count))
        hashes = suite_hashes(p, suite, n)
        refs = load_references(pname, suite)
        prms = {}
        for s in solvers:
            used.add(s.name)
            common = {k: v for k, v in params.get("*", {}).items() if k in s.params}
            prm = s.canonical_params({**common, **params.get(s.name, {})})
            used_common.update(common)
            if "seed" in s.params:
                prm["seed"] = seed
            prms[s.name] = (prm, params_key(prm), fingerprint(s, prm))
        for i, h in enumerate(hashes):
            for s in solvers:
                prm, pk, fp = prms[s.name]
                cells.append(Cell(problem=pname, suite=suite, index=i, solver=s.name, params=prm, seed=seed, hash=h,
                                  key=cache_key(h, s.name, s.version, pk, fp), reference=refs.get(h),
                                  time_limit=time_limit))
    unused_common = set(params.get("*", {})) - used_common
    if unused_common:
        raise MmoptError(f"no solver in this run has parameter {', '.join(sorted(unused_common))}")
    unused = set(params) - used - {"*"}
    if unused:
        raise MmoptError(f"--param given for solver(s) not in this run: {', '.join(sorted(unused))}")
    return cells


#: the most local workers: the cores of this machine
def max_workers() -> int:
    """The most local workers ``--workers`` accepts: the cores of this machine.

    Returns
    -------
    int
    """
    return os.cpu_count() or 1


def check_workers(workers: int | None, what: str = "--workers") -> int | None:
    """``None`` or an integer from 0 to :func:`max_workers`; anything else is an input error.

    Parameters
    ----------
    workers : int or None
        The number given.
    what : str, optional
        Its name in the error message.

    Returns
    -------
    int or None

    Raises
    ------
    MmoptError
        When it is negative, not an integer, or more than the cores.
    """
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise MmoptError(f"{what} must be an integer, got {workers!r}")
    if workers < 0:
        raise MmoptError(f"{what} must be >= 0")
    if workers > max_workers():
        raise MmoptError(f"{what} {workers} is more than the {max_workers()} cores of this machine "
                         f"(at most {max_workers()}; use --scheduler for a larger cluster)")
    return workers


def check_scheduler(address: str, timeout: float = 5.0) -> str:
    """Check that a Dask scheduler answers at ``address`` before a client connects to it.

    The address must be ``tcp://HOST:PORT`` or ``tls://HOST:PORT`` (``HOST:PORT``
    means tcp); something must accept a connection there within ``timeout``
    seconds, and it must greet like a Dask scheduler (the first bytes of its
    handshake), so a wrong port fails at once with one line instead of a
    hang or a client allocating what a foreign server's bytes declare.

    Parameters
    ----------
    address : str
        The scheduler's address.
    timeout : float
        Seconds to wait for the connection and the greeting.

    Returns
    -------
    str
        The address with its scheme (``tcp://`` added when missing).

    Raises
    ------
    MmoptError
        When the address is malformed, nothing answers, or what answers is not a Dask scheduler.
    """
    raw = str(address).strip()
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "tcp", raw
    host, colon, port = rest.rpartition(":")
    host = host.strip("[]")
    bad = f"--scheduler '{address}': expected tcp://HOST:PORT"
    if scheme not in ("tcp", "tls") or not colon or not host or not port.isdigit() or not 0 < int(port) < 65536 \
            or any(ch.isspace() or ch in "/?#@" for ch in host):
        raise MmoptError(bad)
    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout)
    except socket.gaierror:
        raise MmoptError(f"--scheduler {address}: unknown host '{host}'") from None
    except (OSError, TimeoutError) as e:
        raise MmoptError(f"--scheduler {address}: nothing answers there ({getattr(e, 'strerror', None) or e})") \
            from None
    if scheme == "tcp":
        try:
            sock.settimeout(timeout)
            data = b""
            while len(data) < 16:
                chunk = sock.recv(16 - len(data))
                if not chunk:
                    break
                data += chunk
        except (OSError, TimeoutError):
            data = b""
        finally:
            sock.close()
        ok = len(data) == 16
        if ok:
            total, nframes = struct.unpack("<QQ", data)
            ok = 8 < total < (1 << 24) and 0 < nframes < 64
        if not ok:
            raise MmoptError(f"--scheduler {address}: what answers there is not a Dask scheduler")
    else:
        sock.close()
    return f"{scheme}://{rest}"


def make_client(workers: int | None = None, scheduler: str | None = None):
    """A Dask client: the given scheduler, or a LocalCluster of single-threaded workers.

    The local cluster's workers are processes of one thread each, bound to
    127.0.0.1 without a dashboard, started with :data:`WORKER_ENV` and with
    SIGINT ignored (Ctrl-C reaches the driver only). The caller closes the
    client and its cluster.

    Parameters
    ----------
    workers : int, optional
        Local worker processes; ``None`` or 0: one per core.
    scheduler : str, optional
        Address of an existing Dask scheduler (``workers`` is then ignored),
        checked first by :func:`check_scheduler`.

    Returns
    -------
    distributed.Client

    Raises
    ------
    MmoptError
        When the scheduler address is malformed, nothing or something else
        than a Dask scheduler answers there, or the client cannot connect
        within 20 seconds.
    """
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        address = check_scheduler(scheduler)
        try:
            return Client(address, timeout="20s")
        except (OSError, TimeoutError, ValueError, MemoryError) as e:
            raise MmoptError(f"cannot reach Dask scheduler at {scheduler}: {one_line(e)}") from None
    n = workers or os.cpu_count() or 1
    # workers start with SIGINT ignored (inherited through exec): Ctrl-C reaches the driver only, which
    # shuts the cluster down; no worker prints a KeyboardInterrupt traceback. The dashboard stays off.
    restore = signal.signal(signal.SIGINT, signal.SIG_IGN) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENV,
                              "distributed.worker.daemon": False,
                              "distributed.admin.tick.limit": "60s"}):
            # no dashboard; the scheduler's own HTTP endpoints bind to 127.0.0.1 on a free port
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
                                   silence_logs=50)
    finally:
        if restore is not None:
            signal.signal(signal.SIGINT, restore)
    return Client(cluster)


def _is_local(client) -> bool:
    try:
        from distributed import LocalCluster
    except ImportError:  # pragma: no cover
        return False
    return isinstance(getattr(client, "cluster", None), LocalCluster)


def ship_plugins(client, files: Iterable[Path]) -> None:
    """Send user plugin files to every worker of ``client`` (and to workers that join later).

    A package's ``__init__.py`` ships the whole package folder as a zip
    archive (written to a new temporary folder); any other file is sent as
    it is (:meth:`distributed.Client.upload_file`).

    Parameters
    ----------
    client : distributed.Client
        The client.
    files : iterable of path-like
        Plugin source files (:func:`mmopt.registry.add_plugin_modules`).
    """

    for f in files:
        f = Path(f)
        if f.name == "__init__.py":  # a package: ship it as a zip
            tmp = Path(tempfile.mkdtemp(prefix="mmopt-plugin-"))
            pkg = f.parent
            archive = shutil.make_archive(str(tmp / pkg.name), "zip", root_dir=pkg.parent, base_dir=pkg.name)
            client.upload_file(archive)
        else:
            client.upload_file(str(f))


def _task_cancelled() -> Callable[[], bool] | None:
    """In a Dask task: a callable telling whether the scheduler let the task go (its client, the run, is gone)."""
    try:
        from distributed.worker import get_worker, thread_state

        worker, key = get_worker(), getattr(thread_state, "key", None)
    except (ImportError, ValueError, AttributeError):
        return None
    if key is None:
        return None

    def cancelled() -> bool:
        try:
            ts = worker.state.tasks.get(key)
            return ts is None or ts.state in ("cancelled", "released", "forgotten") or \
                str(getattr(worker, "status", "running")).split(".")[-1] not in ("running", "paused")
        except Exception:  # noqa: BLE001 - the worker's state changes under us: keep running
            return False

    return cancelled


def run_cells(cells: list[Cell]) -> list[Row]:
    """A Dask task: several cells one after another in one worker (each still forked and time-limited).

    When the scheduler lets the task go (the run that submitted it is gone)
    the running cell is killed with everything it started and the task
    returns at once, its unfinished cells ``lost``.

    Parameters
    ----------
    cells : list of Cell
        The cells.

    Returns
    -------
    list of Row
        Their rows (:func:`mmopt.cell.run_cell`), in order.

    Raises
    ------
    MmoptError
        As :func:`mmopt.cell.run_cell` (:func:`execute` then stores every
        cell of the task as a worker failure).
    """
    cancelled = _task_cancelled()
    rows = []
    for c in cells:
        if cancelled is not None and cancelled():
            rows.append(Row.of(c, status="lost", message="the run that submitted the cell is gone"))
            continue
        rows.append(run_cell(c, cancelled=cancelled))
    return rows


def chunked(cells: list[Cell], nworkers: int, max_chunk: int = 32) -> list[list[Cell]]:
    """Cells in tasks of up to ``max_chunk``, at least 8 tasks per worker when there are enough cells.

    Cells are ordered by instance first, so the cells of one instance mostly
    share a task and its worker generates the instance once; tasks of
    several cells spare Dask's per-task cost, which on a small machine
    competes with the solvers for the same cores.

    Parameters
    ----------
    cells : list of Cell
        The cells (with ``suite`` and ``index`` set).
    nworkers : int
        Dask workers (less than 1 counts as 1).
    max_chunk : int
        Most cells in one task.

    Returns
    -------
    list of list of Cell
        Tasks of equal size (the last may be smaller), at least one cell
        each, sorted by (problem, suite, index, solver).
    """
    order = sorted(cells, key=lambda c: (c.problem, c.suite, c.index, c.solver))
    size = max(1, min(max_chunk, len(order) // (8 * max(1, nworkers))))
    return [order[i:i + size] for i in range(0, len(order), size)]


def _scheduler_lost(client, exc: BaseException) -> bool:
    """Whether a task failed because the client lost its scheduler (not because of the cell)."""
    try:
        from distributed.comm.core import CommClosedError
    except ImportError:  # pragma: no cover
        CommClosedError = OSError  # noqa: N806
    if isinstance(exc, (CommClosedError, asyncio.CancelledError, concurrent.futures.CancelledError)):
        return True
    return str(getattr(client, "status", "running")) not in ("running", "connecting")


def failed_row(c: Cell, message: str) -> Row:
    """The stored row of a cell whose worker failed before returning one.

    Parameters
    ----------
    c : Cell
        The cell.
    message : str
        Why it failed.

    Returns
    -------
    Row
        The cell's identity (:meth:`mmopt.schema.Row.of`), status ``error``
        and ``message``.
    """
    return Row.of(c, status="error", message=message)


def execute(cells: list[Cell], *, client=None, workers: int | None = None, scheduler: str | None = None,
            plugin_files: Iterable[Path] = (), on_row: Callable[[Row], None], stop: Callable[[], bool] = lambda: False
            ) -> bool:
    """Run cells and hand each finished row to ``on_row``; returns False if interrupted.

    ``workers=0`` runs the cells here, one by one (each still in a forked,
    time-limited child); otherwise on ``client``, or on a new client.
    Cells run on this machine (here, or on a client of a ``LocalCluster``)
    are killed when this process is gone. On Dask the cells go in tasks of
    :func:`chunked`; a task that fails (a worker died, a cancellation) gives
    each of its cells a :func:`failed_row`, and rows arrive as tasks finish.

    Parameters
    ----------
    cells : list of Cell
        The cells (not modified).
    client : distributed.Client, optional
        A client to run on; it is left open.
    workers : int, optional
        0: run here without Dask (when neither ``client`` nor ``scheduler``
        is given); otherwise local Dask workers for a new client
        (:func:`make_client`; ``None``: one per core).
    scheduler : str, optional
        Address of an existing Dask scheduler for a new client.
    plugin_files : iterable of path-like
        User plugin files shipped to the workers first (:func:`ship_plugins`).
    on_row : callable
        Called in this process with each finished :class:`~mmopt.schema.Row`.
    stop : callable
        Asked after each cell when running here; ``True`` stops the run
        (unused on Dask).

    Returns
    -------
    bool
        ``True`` when every cell's row was handed over (or there were no
        cells); ``False`` when interrupted by Ctrl-C or ``stop``. A client
        created here is closed either way.

    Raises
    ------
    MmoptError
        When the scheduler cannot be reached (:func:`make_client`), or, when
        running here, as :func:`mmopt.cell.run_cell`. Whatever ``on_row``
        raises passes through.
    """
    if not cells:
        return True
    local = (client is None and not scheduler) or (client is not None and _is_local(client))
    if local:  # cells die with this process (same machine only)
        cells = [dataclasses.replace(c, driver_pid=os.getpid()) for c in cells]
    if workers == 0 and client is None and not scheduler:
        try:
            for c in cells:
                on_row(run_cell(c))
                if stop():
                    return False
        except KeyboardInterrupt:
            return False
        return True
    from distributed import as_completed

    own = client is None
    if own:
        client = make_client(workers, scheduler)
    if not local:  # an external scheduler that goes away is the `lost` status of its cells, not Dask's log pages
        for name in [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] == "distributed"]:
            logging.getLogger(name).setLevel(logging.CRITICAL)
    futures = {}
    try:
        ship_plugins(client, plugin_files)
        nworkers = max(1, len(client.scheduler_info().get("workers", {})) or (workers or 1))
        for chunk in chunked(cells, nworkers):
            c = chunk[0]
            f = client.submit(run_cells, chunk, pure=False,
                              key=f"{c.solver}-{c.problem}-{c.suite}-{c.index}-{(c.key or '')[:10]}"
                              .replace("/", "-").replace(":", "-"))
            futures[f] = chunk
        for f in as_completed(futures):
            chunk = futures[f]
            try:
                rows = f.result()
            except Exception as e:  # worker died, cancelled, the scheduler lost, ...
                if _scheduler_lost(client, e):
                    rows = [Row.of(c, status="lost", message=f"lost the Dask scheduler: {one_line(e)}")
                            for c in chunk]
                else:
                    rows = [failed_row(c, f"worker failure: {one_line(e)}") for c in chunk]
            for row in rows:
                on_row(row)
        return True
    except KeyboardInterrupt:
        return False
    finally:
        if own:
            try:
                client.cancel(list(futures))
                cluster = getattr(client, "cluster", None)
                client.close(timeout=10)
                if cluster is not None:
                    cluster.close(timeout=10)
            except Exception:  # noqa: BLE001 - shutting down after an interrupt
                pass


def run(problem_names: Iterable[str] | None, suite: str, solver_names: Iterable[str] | None = None, *,
        db: str | None = None, workers: int | None = None, scheduler: str | None = None,
        time_limit: float | None = DEFAULT_TIME_LIMIT, force: bool = False,
        params: Mapping[str, Mapping] | None = None, seed: int = 0, count: int | None = None,
        progress: bool = True, console=None, client=None, plugin_files: Iterable[Path] = (),
        memory_limit: float | None = None, keep_failed: bool = False,
        claim_wait: float | None = None) -> RunSummary:
    """Run the matrix and store every finished cell. Returns a summary.

    ``memory_limit``: GB per cell (default: the machine's memory divided by
    the workers). Stored failures are retried: a ``timeout`` when
    ``time_limit`` is larger than the stored one, an ``error`` unless
    ``keep_failed``. Cells claimed by another live run on the same store are
    left to it and waited for, at most ``claim_wait`` seconds, the owner
    named on the console. Each row is stored and committed with this run's
    id and :func:`mmopt.store.provenance` as it arrives, so an interrupted or
    killed run keeps every finished cell; the claims are released at the
    end. SIGTERM and SIGHUP interrupt the run as Ctrl-C does (in the main
    thread): the running cells are killed, the finished ones kept, the
    claims released, and :attr:`RunSummary.signal` names the signal.

    Parameters
    ----------
    problem_names : iterable of str or None
        As :func:`plan`.
    suite : str
        Suite name.
    solver_names : iterable of str, optional
        As :func:`plan`.
    db : str, optional
        The store's SQLite file (default :func:`mmopt.store.default_db`).
    workers : int, optional
        Local Dask workers (``None``: one per core; 0: one by one in this
        process).
    scheduler : str, optional
        Address of an existing Dask scheduler.
    time_limit : float or None
        Seconds per cell (``None``: no limit).
    force : bool
        Run every cell again, stored or not.
    params : mapping of str to mapping, optional
        Solver parameters, as :func:`plan`.
    seed : int
        Seed of the cells, as :func:`plan`.
    count : int, optional
        First ``count`` instances of the suite.
    progress : bool
        Show a progress bar (:func:`mmopt.progress.progress_bar`).
    console : rich.console.Console, optional
        Where the progress bar draws.
    client : distributed.Client, optional
        Run on this client (left open) instead of a new one.
    plugin_files : iterable of path-like
        User plugin files shipped to the workers.
    memory_limit : float, optional
        GB per cell (``None``: the machine's memory divided by ``workers``,
        by the CPU count when that is not given, undivided for ``workers=0``).
    keep_failed : bool
        Serve stored ``error`` cells from the store instead of running them again.
    claim_wait : float, optional
        Seconds to wait for cells another live run claimed (default: the
        time limit plus a minute, 15 minutes without a time limit); cells
        still claimed then are left to that run.

    Returns
    -------
    RunSummary

    Raises
    ------
    MmoptError
        As :func:`plan`; when ``db`` is not a usable mmopt store
        (:class:`~mmopt.store.Store`), ``workers`` is more than the cores
        (:func:`check_workers`), or the scheduler cannot be reached
        (:func:`check_scheduler`).
    InputError
        When ``time_limit`` or ``memory_limit`` is not a positive finite
        number or ``None``.
    """
    t0 = time.perf_counter()
    run_id = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    unavailable: list = []
    check_workers(workers)
    if scheduler:
        scheduler = check_scheduler(scheduler)
    memory_limit = check_memory_limit(memory_limit) or default_memory_limit(
        workers or (None if scheduler or client else os.cpu_count()))
    cells = plan(problem_names, suite, solver_names, params, seed, count, time_limit, unavailable)
    for c in cells:
        c.memory_limit = memory_limit
    summary = RunSummary(run_id, planned=len(cells), unavailable=unavailable, keys=[c.key for c in cells])
    if claim_wait is None:
        claim_wait = (time_limit + 60.0) if time_limit is not None else 900.0
    say = (lambda msg: console.print(msg, highlight=False)) if console is not None else (lambda msg: None)
    with Store(db) as store:
        done = set() if force else store.keys(c.key for c in cells)
        if done:
            for k, (status, limit) in store.failed(done).items():
                if status == "lost" or (status == "error" and not keep_failed) or (status == "timeout" and (
                        time_limit is None or (limit is not None and time_limit > limit))):
                    done.discard(k)
                    summary.retried += 1
        todo = [c for c in cells if c.key not in done]
        summary.cached = len(cells) - len(todo)
        if not todo:
            summary.seconds = time.perf_counter() - t0
            return summary
        with _signals_interrupt(summary):
            before = store.run_ids([c.key for c in todo])
            mine = store.claim([c.key for c in todo], run_id)
            waiting = [c for c in todo if c.key not in mine]
            todo = [c for c in todo if c.key in mine]
            summary.by_other_run = len(waiting)
            lease = store.keep_claims(run_id)
            bar = progress_bar("status", console) if progress else None
            task = bar.add_task("cells", total=len(todo), status="") if bar else None
            prov = provenance()

            def on_row(row: Row):
                row.run_id, row.provenance, row.solution = run_id, prov, None
                store.put(row, commit=True)  # committed at once: a killed run keeps every finished cell
                summary.counts[row.status] = summary.counts.get(row.status, 0) + 1
                if bar:
                    bar.update(task, advance=1,
                               status=" ".join(f"{k}={v}" for k, v in sorted(summary.counts.items())))

            try:
                if bar:
                    bar.start()
                ok = execute(todo, client=client, workers=workers, scheduler=scheduler, plugin_files=plugin_files,
                             on_row=on_row)
                summary.interrupted = not ok
                if waiting and not summary.interrupted:
                    owners = store.claim_owners([c.key for c in waiting])
                    say(f"waiting up to {claim_wait:.0f} s for {len(waiting)} cells claimed by another run: "
                        + "; ".join(f"{n} by run {o}" for o, n in sorted(owners.items())))
                wait_end = time.monotonic() + claim_wait
                while waiting and not summary.interrupted:  # cells another run claimed: wait, or take them over
                    if time.monotonic() > wait_end:
                        owners = store.claim_owners([c.key for c in waiting])
                        summary.left_to = sorted(owners)
                        say(f"stopped waiting after {claim_wait:.0f} s: {len(waiting)} cells left to "
                            + "; ".join(f"run {o}" for o in sorted(owners)))
                        break
                    time.sleep(0.5)
                    got = store.claim([c.key for c in waiting], run_id)
                    if not got:
                        continue
                    now = store.run_ids(list(got))
                    finished = {k for k in got if k in now and now[k] != before.get(k)}
                    store.release(run_id, finished)
                    take = [c for c in waiting if c.key in got and c.key not in finished]
                    waiting = [c for c in waiting if c.key not in got]
                    if take:
                        summary.by_other_run -= len(take)
                        ok = execute(take, client=client, workers=workers, scheduler=scheduler,
                                     plugin_files=plugin_files, on_row=on_row)
                        summary.interrupted = not ok
            except KeyboardInterrupt:
                summary.interrupted = True
            finally:
                _no_signals()  # a second SIGTERM while cleaning up does not leave claims behind
                store.commit()
                lease.stop()
                store.release(run_id)
                if bar:
                    bar.stop()
    summary.seconds = time.perf_counter() - t0
    return summary


class _Interrupt(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised as Ctrl-C is."""


_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))
_SAVED: list = []


@contextlib.contextmanager
def _signals_interrupt(summary: RunSummary):
    """SIGTERM and SIGHUP raise KeyboardInterrupt (noting the signal in ``summary``), in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if summary.signal is None:
            summary.signal = signal.Signals(signum).name
            raise _Interrupt()

    saved = {s: signal.signal(s, handler) for s in _SIGNALS}
    _SAVED.append(saved)
    try:
        yield
    finally:
        _SAVED.pop()
        for s, h in saved.items():
            signal.signal(s, h)


def _no_signals() -> None:
    """Ignore further SIGTERM and SIGHUP until the enclosing :func:`_signals_interrupt` restores them."""
    if _SAVED and threading.current_thread() is threading.main_thread():
        for s in _SIGNALS:
            signal.signal(s, lambda *_: None)
