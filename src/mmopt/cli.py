"""The ``mmopt`` command line.

Every user error (bad file, unknown name, malformed array) is one line on
stderr and a non-zero exit; nothing is written when the input is bad.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import signal
import sys
from collections import Counter
from pathlib import Path

import click

from .api import InputError, MmoptError
from .cli_util import atomic_write, check_output, dump_json

__all__ = ["TABLE_SUFFIXES", "app", "check_environment", "main"]

_dump = dump_json


def _split(values, what: str | None = None) -> list[str]:
    out = []
    for v in values or ():
        out += [x for x in v.replace(",", " ").split() if x]
    if what and values and not out:
        raise MmoptError(f"{what} names nothing (got {', '.join(repr(v) for v in values)})")
    return out


def _params(values, scoped: bool) -> dict:
    """``k=v`` pairs; with ``scoped``, ``solver.k=v`` goes to that solver and ``k=v`` to all."""
    out: dict = {}
    for item in values or ():
        if "=" not in item:
            raise MmoptError(f"--param expects KEY=VALUE, got '{item}'")
        k, v = item.split("=", 1)
        if scoped:
            solver, _, name = k.rpartition(".")
            out.setdefault(solver or "*", {})[name] = v
        else:
            out[k] = v
    return out


def _time_limit(value, what: str = "--time-limit"):
    from .sandbox import check_time_limit

    return check_time_limit(value, what)


def _count(value, what: str = "--count"):
    if value is not None and value < 0:
        raise MmoptError(f"{what} must be >= 0, got {value}")
    return value


def _check_output(out_path, inputs=()) -> Path:
    """Refuse a solution output before any work: wrong suffix, a directory, an input file, unwritable folder."""
    out = Path(out_path)
    if out.suffix.lower() not in (".npz", ".mat"):
        raise MmoptError(f"{out_path}: output must end in .npz or .mat")
    if out.is_dir():
        raise MmoptError(f"{out_path}: output is a directory")
    for i in inputs:
        try:
            if out.resolve() == Path(i).resolve() or (out.exists() and os.path.samefile(out, i)):
                raise MmoptError(f"{out_path}: output is the input file {i}; choose another name")
        except OSError:
            pass
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise MmoptError(f"{out_path}: folder {folder} is not writable")
    if out.exists() and not os.access(out, os.W_OK) and not os.access(out.parent, os.W_OK):
        raise MmoptError(f"{out_path}: not writable")
    return out


def _memory_limit(value, scheduler=None):
    """``--memory-limit``: positive, finite, at most this machine's memory (unless the cells run elsewhere)."""
    from .sandbox import check_memory_limit, machine_memory_gb

    return check_memory_limit(value, "--memory-limit", maximum=None if scheduler else machine_memory_gb())


#: table formats -> the suffixes ``table --out`` accepts for them
TABLE_SUFFIXES = {"text": (".txt",), "md": (".md", ".markdown", ".txt"), "latex": (".tex",), "csv": (".csv",)}


def _render_table(table, fmt: str, metrics: str | None = None, columns=None) -> str:
    """``mmopt.report.render`` as wide as the terminal (``$COLUMNS``, else 80 characters when not a terminal)."""
    from .report import render

    return render(table, fmt, metrics=metrics, columns=columns or None,
                  width=max(40, shutil.get_terminal_size((80, 24)).columns))


class _Group(click.Group):
    """The mmopt command group; problems contribute extra commands (``Problem.cli_commands``)."""

    def _problem_commands(self) -> dict:
        from .registry import problems

        out = {}
        for p in problems().values():
            for cmd in p.cli_commands():
                out[cmd.name] = cmd
        return out

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self._problem_commands()))

    def get_command(self, ctx, name):
        return super().get_command(ctx, name) or self._problem_commands().get(name)


def check_environment() -> None:
    """Refuse malformed ``MMOPT_*`` environment variables before any command runs.

    Raises
    ------
    MmoptError
        When ``MMOPT_MAX_INPUT_GB`` is not a positive finite number, or
        ``MMOPT_INSTANCE_CACHE`` names something other than a folder.
    """
    from .io import max_input_bytes

    max_input_bytes()
    cache = os.environ.get("MMOPT_INSTANCE_CACHE")
    if cache and os.path.lexists(cache) and not os.path.isdir(cache):
        raise MmoptError(f"MMOPT_INSTANCE_CACHE={cache}: not a folder")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mmopt")
def app():
    """mmopt: score mmWave association and beam-management algorithms against certified optima."""
    check_environment()


@app.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(as_json):
    """Problems with their suites, and solvers with their kind."""
    from .registry import problems, solvers_for

    from .learned import weights_files
    from .registry import UNAVAILABLE

    data = []
    for name, p in problems().items():
        data.append({"problem": name, "title": p.title,
                     "suites": {s.name: s.count for s in p.suites.values()},
                     "training_suites": [s.name for s in p.suites.values() if s.role == "train"],
                     "solvers": [{"name": s.name, "kind": s.kind, "version": s.version, "params": s.params,
                                  "available": s.available, "unavailable": s.unavailable_reason(),
                                  "weights": [str(w.name) for w in weights_files(s)] if s.weights_fn else None}
                                 for s in solvers_for(name)]})
    if as_json:
        click.echo(_dump({"problems": data, "unavailable_modules": UNAVAILABLE}))
        return
    for d in data:
        click.echo(f"{d['problem']}: {d['title']}")
        click.echo("  suites:  " + ", ".join(f"{k} ({v})" for k, v in d["suites"].items()
                                             if k not in d["training_suites"]))
        if d["training_suites"]:
            click.echo("  training suites: " + ", ".join(d["training_suites"]))
        for s in d["solvers"]:
            prm = ", ".join(f"{k}={v}" for k, v in s["params"].items())
            extra = f"  UNAVAILABLE: {s['unavailable']}" if s["unavailable"] else ""
            click.echo(f"  {s['kind']:<11} {s['name']}" + (f"  [{prm}]" if prm else "") + extra)
    for mod, why in sorted(UNAVAILABLE.items()):
        click.echo(f"unavailable plugin module {mod}: {why}")


@app.command()
@click.argument("problem", required=False)
@click.option("--format", "fmt", type=click.Choice(["md", "latex"]), default="md", show_default=True)
def describe(problem, fmt):
    """Formal statement, suites and key tables of a problem, or of all (markdown or LaTeX)."""
    from .docs import describe_latex, describe_markdown

    names = [problem] if problem else None
    click.echo(describe_markdown(names) if fmt == "md" else describe_latex(names), nl=False)


@app.command()
@click.option("--problem", required=True)
@click.option("--suite", required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--count", type=int, default=None, help="First N instances (default: all).")
@click.option("--format", "fmt", type=click.Choice(["npz", "mat"]), default="npz")
@click.option("--force", is_flag=True, help="Replace instance files that exist already.")
def generate(problem, suite, out_dir, count, fmt, force):
    """Write the instances of a suite as files."""
    from .io import write_instance
    from .registry import get_problem

    p = get_problem(problem)
    s = p.suite(suite)
    _count(count)
    n = s.count if count is None else min(count, s.count)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MmoptError(f"{out_dir}: exists and is not a folder")
    folder = out
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise MmoptError(f"{out_dir}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise MmoptError(f"{out_dir}: folder {folder} is not writable")
    paths = [out / f"{problem}_{suite}_{i:04d}.{fmt}" for i in range(n)]
    exist = [q for q in paths if os.path.lexists(q)]
    if exist and not force:
        raise MmoptError(f"{exist[0]}: exists ({len(exist)} of the {n} files); pass --force to replace them")
    for i, path in enumerate(paths):
        if path.is_dir():
            raise MmoptError(f"{path}: is a directory")
    for i, path in enumerate(paths):
        write_instance(path, p.generate(suite, i))
    click.echo(f"wrote {n} instances of {problem}/{suite} to {out_dir}")


@app.command()
@click.option("--problem", default=None, help="Required when the instance file does not record it.")
@click.option("--solver", "solver_name", required=True)
@click.option("--instance", "instance_path", required=True, type=click.Path())
@click.option("--out", "out_path", required=True, type=click.Path())
@click.option("--param", "params", multiple=True, help="KEY=VALUE solver parameter (repeatable).")
@click.option("--time-limit", type=float, default=600.0, show_default=True,
              help="Seconds for the solver and its check; it is killed past it.")
@click.option("--memory-limit", type=float, default=None,
              help="GB the solver's processes may use together (default: the machine's memory over its cores).")
def solve(problem, solver_name, instance_path, out_path, params, time_limit, memory_limit):
    """Solve one instance file and write the solution file."""
    from .cell import run_cell
    from .schema import Cell
    from .io import read_instance, write_solution
    from .references import load_references
    from .registry import get_problem, get_solver

    from .sandbox import default_memory_limit

    time_limit = _time_limit(time_limit)
    memory_limit = _memory_limit(memory_limit) or default_memory_limit()
    _check_output(out_path, [instance_path])
    inst = read_instance(instance_path, problem)
    p = get_problem(inst.problem)
    s = get_solver(solver_name, p.name)
    prm = s.canonical_params(_params(params, scoped=False))
    why = s.unavailable_reason()
    if why:
        raise MmoptError(f"solver '{s.name}' is unavailable: it {why}")
    ref = load_references(p.name, inst.meta["suite"]).get(inst.hash) \
        if inst.meta.get("suite") in p.suites else None
    row = run_cell(Cell(problem=p.name, suite=inst.meta.get("suite"), index=inst.meta.get("index"),
                        instance={"arrays": dict(inst), "meta": inst.meta}, solver=s.name, params=prm,
                        seed=prm.get("seed", 0), reference=ref, time_limit=time_limit,
                        memory_limit=memory_limit), keep_solution=True)
    result = {"problem": p.name, "solver": s.name, "instance": str(instance_path), "status": row.status,
              "objective": row.objective, "feasible": bool(row.feasible), "seconds": row.seconds,
              "gap": row.gap, "reference": row.reference, "message": row.message, "stats": row.stats}
    sol = row.solution
    if row.status in ("ok", "infeasible", "mismatch") and sol:
        write_solution(out_path, sol, {"problem": p.name, "solver": s.name, "solver_version": s.version,
                                       "params": prm, "instance_hash": inst.hash})
        result["solution"] = str(out_path)
    click.echo(_dump(result))
    if row.status in ("error", "timeout", "skipped"):
        sys.exit(1)


def _score_in_child(p, inst, sol, ref, tol):
    """Child body of ``evaluate``: the score, or the one-line input error."""
    from .evaluate import score

    try:
        sc = score(p, inst, sol, ref, tol)
    except MmoptError as e:
        return {}, {"input_error": str(e)}
    return {}, {"score": dataclasses.asdict(sc)}


@app.command()
@click.option("--problem", default=None)
@click.option("--instance", "instance_path", required=True, type=click.Path())
@click.option("--solution", "solution_path", required=True, type=click.Path())
@click.option("--tol", type=float, default=1e-6, show_default=True, help="Relative feasibility tolerance.")
@click.option("--time-limit", type=float, default=300.0, show_default=True,
              help="Seconds the check and the metrics may take.")
@click.option("--memory-limit", type=float, default=None,
              help="GB the check may use (default: the machine's memory over its cores).")
def evaluate(problem, instance_path, solution_path, tol, time_limit, memory_limit):
    """Check and evaluate a solution: exit 0 feasible, 1 infeasible, 2 malformed input."""
    from .evaluate import Score
    from .io import read_instance, read_solution
    from .references import load_references
    from .registry import get_problem
    from .sandbox import default_memory_limit, run_limited

    if not math.isfinite(tol) or tol < 0:
        raise MmoptError(f"--tol must be a finite number >= 0, got {tol}")
    time_limit = _time_limit(time_limit)
    memory_limit = _memory_limit(memory_limit) or default_memory_limit()
    inst = read_instance(instance_path, problem)
    sol, meta = read_solution(solution_path, inst.problem)
    p = get_problem(inst.problem)
    h = meta.get("instance_hash")
    if h and h != inst.hash:
        click.echo(f"warning: {solution_path} was computed for another instance (hash {h[:12]})", err=True)
    ref = load_references(p.name, inst.meta["suite"]).get(inst.hash) \
        if inst.meta.get("suite") in p.suites else None
    # the checker and the metrics run in a limited child: a huge instance or solution costs one line
    out = run_limited(lambda: _score_in_child(p, inst, sol, ref, tol), time_limit, memory_limit)
    if out.status == "timeout":
        raise MmoptError(f"evaluating {solution_path} took longer than {time_limit:g} s (--time-limit)")
    if out.status != "ok":
        raise MmoptError(f"evaluating {solution_path} failed: {out.message}")
    if out.info.get("input_error"):
        raise MmoptError(out.info["input_error"])
    sc = Score(**out.info["score"])
    click.echo(_dump({"problem": p.name, "feasible": sc.feasible, "objective": sc.objective,
                      "max_violation": sc.max_violation, "violations": sc.violations,
                      "status": sc.status, "reference": sc.reference, "gap": sc.gap, "metrics": sc.metrics}))
    sys.exit(0 if sc.feasible else 1)


def _dry_run(names, suite, solvers, prm, seed, count, time_limit, db) -> None:
    """``run --dry-run``: the planned cells per problem and solver, and how many the store holds already."""
    from .runner import plan
    from .store import Store, default_db

    unavailable: list = []
    cells = plan(names, suite, solvers, prm, seed, count, time_limit, unavailable)
    path = Path(db or default_db())
    stored = set()
    if path.is_file():
        with Store(path, readonly=True) as st:
            stored = st.keys(c.key for c in cells)
    per = Counter((c.problem, c.solver) for c in cells)
    for pname in dict.fromkeys(c.problem for c in cells):
        n = sum(v for (q, _), v in per.items() if q == pname)
        click.echo(f"{pname}: {n} cells ({', '.join(f'{s} {v}' for (q, s), v in per.items() if q == pname)})")
    for u in unavailable:
        click.echo(f"left out (unavailable): {u}")
    click.echo(f"{len(cells)} cells on suite {suite}, {len(stored)} of them in {path}; nothing run")


@app.command()
@click.option("--suite", default="small", show_default=True)
@click.option("--problems", "problem_names", multiple=True, help="Problems (comma separated; default all).")
@click.option("--solvers", "solver_names", multiple=True, help="Solvers (comma separated; default all).")
@click.option("--db", default=None, help="SQLite file (default $MMOPT_DB or ./mmopt-results.sqlite).")
@click.option("--workers", type=int, default=None,
              help="Local workers (default: one per core; 0: run the cells in this process, one by one).")
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler.")
@click.option("--time-limit", type=float, default=600.0, show_default=True, help="Seconds per cell.")
@click.option("--memory-limit", type=float, default=None,
              help="GB per cell (default: the machine's memory divided by the workers).")
@click.option("--keep-failed", is_flag=True, help="Serve stored errors from the store instead of retrying them.")
@click.option("--param", "params", multiple=True, help="[SOLVER.]KEY=VALUE (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed passed to seeded solvers.")
@click.option("--count", type=int, default=None, help="First N instances of the suite.")
@click.option("--force", is_flag=True, help="Re-run cells already in the store.")
@click.option("--plugin", "plugins", multiple=True, help="Module with extra @solver/@problem plugins.")
@click.option("--format", "fmt", type=click.Choice(["text", "md", "latex", "csv"]), default="text", show_default=True,
              help="Table of the run's cells: text fits the terminal; md and csv have every column.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--claim-wait", type=float, default=None,
              help="Seconds to wait for cells another run claimed (default: the time limit plus a minute).")
@click.option("--dry-run", is_flag=True,
              help="Count the cells per problem and solver (and those already in the store); run nothing.")
def run(suite, problem_names, solver_names, db, workers, scheduler, time_limit, memory_limit, keep_failed, params,
        seed, count, force, plugins, fmt, quiet, claim_wait, dry_run):
    """Run the benchmark matrix (problems x instances x solvers) and print the table of the run's cells.

    Exit status: 0 when done; 1 when cells were lost with the Dask scheduler
    (run again to retry them); 2 for bad input; 128 + N when interrupted by
    signal N (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP), after one
    line and with every finished cell kept.
    """
    from rich.console import Console

    from .registry import add_plugin_modules, problems
    from .report import summarise
    from .runner import MAX_SEED, check_scheduler, check_workers
    from .runner import run as run_matrix
    from .store import Store

    if workers is not None and scheduler:
        raise MmoptError("use either --workers or --scheduler, not both")
    check_workers(workers)
    time_limit = _time_limit(time_limit)
    _memory_limit(memory_limit, scheduler)
    _count(count)
    if not 0 <= seed < MAX_SEED:
        raise MmoptError(f"--seed must be an integer from 0 to 2**63 - 1, got {seed}")
    if claim_wait is not None and not (math.isfinite(claim_wait) and claim_wait >= 0):
        raise MmoptError(f"--claim-wait must be a finite number of seconds >= 0, got {claim_wait}")
    names = _split(problem_names, "--problems")
    solvers = _split(solver_names, "--solvers") or None
    prm = _params(params, scoped=True)
    if scheduler:
        scheduler = check_scheduler(scheduler)
    # a value naming an existing file or folder is one plugin (its path may hold spaces or commas)
    files = add_plugin_modules([x for v in plugins for x in ([v] if os.path.exists(v) else _split([v], "--plugin"))])
    names = names or [n for n, p in problems().items() if suite in p.suites]
    if not names:
        raise MmoptError(f"no problem has a suite '{suite}'")
    if dry_run:
        _dry_run(names, suite, solvers, prm, seed, count, time_limit, db)
        return
    console = Console(stderr=True)
    summ = run_matrix(names, suite, solvers, db=db, workers=workers, scheduler=scheduler,
                      time_limit=time_limit, force=force, params=prm, seed=seed,
                      count=count, progress=not quiet, console=console, plugin_files=files,
                      memory_limit=memory_limit, keep_failed=keep_failed, claim_wait=claim_wait)
    if summ.interrupted:
        if summ.signal:
            click.echo(f"terminated by {summ.signal}, {summ.ran} finished cells kept", err=True)
            sys.exit(128 + int(getattr(signal, summ.signal)))
        click.echo(f"interrupted, {summ.ran} finished cells kept", err=True)
        sys.exit(130)
    for u in summ.unavailable:
        console.print(f"left out (unavailable): {u}")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summ.counts.items())) or "none run"
    extra = (f", {summ.retried} failed cells retried" if summ.retried else "") + \
        (f", {summ.by_other_run} left to another run" if summ.by_other_run else "")
    console.print(f"{summ.planned} cells: {summ.cached} from the store, {summ.ran} run ({counts}){extra} "
                  f"in {summ.seconds:.1f} s")
    with Store(db, readonly=True) as st:
        df = st.frame(problems=names, suites=[suite], keys=summ.keys)
    click.echo(_render_table(summarise(df, details=True), fmt), nl=False)
    if summ.lost:
        click.echo(f"error: {summ.lost} cells lost with the Dask scheduler; run again to retry them", err=True)
        sys.exit(1)


@app.command()
@click.option("--db", default=None)
@click.option("--format", "fmt", type=click.Choice(["text", "md", "latex", "csv"]), default=None,
              help="text (default; fits the terminal), md or csv (every column), latex (booktabs, for a paper); "
                   "with --out, by default the one of its suffix.")
@click.option("--problems", "problem_names", multiple=True)
@click.option("--suite", "suites", multiple=True)
@click.option("--solvers", "solver_names", multiple=True)
@click.option("--metrics", type=click.Choice(["headline", "all", "none"]), default=None,
              help="Problem metrics shown: the problem's headline ones (default of text and latex), all (default "
                   "of md and csv), none.")
@click.option("--columns", "columns", multiple=True,
              help="Exactly these columns after the solver (comma separated names of `--format csv`'s header).")
@click.option("--no-metrics", is_flag=True, help="Leave out the problem-specific metric columns (--metrics none).")
@click.option("--out", "out_path", default=None, type=click.Path(),
              help="Write to a file (.txt, .md, .tex or .csv, as --format) instead of stdout.")
@click.option("--force", is_flag=True, help="Replace the --out file if it exists.")
@click.option("--all-versions", is_flag=True,
              help="Also rows of older solver versions, weights and suites (by default only the current ones).")
def table(db, fmt, problem_names, suites, solver_names, metrics, columns, no_metrics, out_path, force, all_versions):
    """Per problem, suite and solver: gaps, feasibility, failures, time (the current versions' rows).

    The default text table fits the terminal (``$COLUMNS`` wide): instances,
    mean and worst gap, feasible share, failed and skipped cells, median
    time and the problem's headline metrics. Upper bounds are listed apart
    with their bound; a solver that declined every instance shows why.
    """
    from .report import current_rows, summarise
    from .store import Store, default_db

    if no_metrics and metrics not in (None, "none"):
        raise MmoptError(f"use either --no-metrics or --metrics {metrics}, not both")
    if fmt is None:  # the format of the --out suffix, else the terminal's
        suffix = Path(out_path).suffix.lower() if out_path else ""
        fmt = next((f for f in ("text", "md", "latex", "csv") if suffix in TABLE_SUFFIXES[f]), None) \
            if out_path else "text"
        if fmt is None:
            raise MmoptError(f"{out_path}: table --out must end in .txt, .md, .markdown, .tex or .csv")
    cols = [x.strip() for v in columns for x in v.split(",") if x.strip()]  # names may hold spaces
    if columns and not cols:
        raise MmoptError(f"--columns names nothing (got {', '.join(repr(v) for v in columns)})")
    path = Path(db or default_db())
    if out_path:
        check_output(out_path, TABLE_SUFFIXES[fmt], force=force, what=f"table --out (format {fmt})")
    if not path.is_file():
        raise MmoptError(f"{path}: no results store (run `mmopt run` first or pass --db)")
    with Store(path, readonly=True) as st:
        df = st.frame(_split(problem_names, "--problems") or None, _split(suites, "--suite") or None,
                      _split(solver_names, "--solvers") or None)
    if not all_versions:
        df = current_rows(df)
    text = _render_table(summarise(df, metrics=not no_metrics, details=True), fmt,
                         "none" if no_metrics else metrics, cols)
    if out_path:
        atomic_write(out_path, lambda tmp: Path(tmp).write_text(text))
        click.echo(f"wrote {out_path}")
    else:
        click.echo(text, nl=False)


@app.command()
@click.option("--db", default=None)
@click.option("--out", "out_path", required=True, type=click.Path(), help=".csv or .parquet")
@click.option("--force", is_flag=True, help="Replace the --out file if it exists.")
def export(db, out_path, force):
    """Export every stored cell with its provenance to CSV or Parquet (every version: the store's history)."""
    from .store import Store, default_db

    check_output(out_path, (".csv", ".parquet", ".pq"), force=force, what="export --out")
    path = Path(db or default_db())
    if not path.is_file():
        raise MmoptError(f"{path}: no results store")
    with Store(path, readonly=True) as st:
        st.export(out_path, force=force)
    click.echo(f"wrote {out_path}")


@app.command()
@click.argument("target")
@click.option("--problem", required=True)
@click.option("--suite", default="smoke", show_default=True)
@click.option("--count", type=int, default=None, help="First N instances.")
@click.option("--time-limit", type=float, default=300.0, show_default=True, help="Seconds per instance.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per instance, then a summary.")
@click.option("--workers", type=int, default=0, show_default=True,
              help="0: instance after instance here; N: a local Dask cluster of N workers.")
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler.")
@click.option("--db", default=None,
              help="Also store the cells in this results store (created if missing), for `mmopt table` and `plot`.")
@click.option("--name", default=None,
              help="The method's name in the store (default: MODULE:CALLABLE; a file's stem for a path).")
def validate(target, problem, suite, count, time_limit, as_json, workers, scheduler, db, name):
    """Check a user's function MODULE:CALLABLE on a suite against the references.

    Exits 0 only if every output is feasible. With --db, every cell is stored
    (kind ``user``) beside the suite's solvers: `mmopt table --db FILE` then
    compares them.
    """
    import numpy as np

    from .validate import validate as run_validation

    def show(row):
        if as_json:
            click.echo(_dump(row))
        else:
            gap = "–" if row["gap"] is None else f"{100 * row['gap']:.4f} %"
            obj = "–" if row["objective"] is None else f"{row['objective']:.6g}"
            msg = f"  {row['message']}" if row["message"] else ""
            click.echo(f"{row['instance']:<12} {row['status']:<10} objective {obj:<12} gap {gap:<12}"
                       f" {row['seconds']:.3f} s{msg}")

    from .runner import check_scheduler, check_workers

    time_limit = _time_limit(time_limit)
    _count(count)
    if workers and scheduler:
        raise MmoptError("use either --workers or --scheduler, not both")
    check_workers(workers)
    if scheduler:
        scheduler = check_scheduler(scheduler)
    if name is not None and db is None:
        raise MmoptError("--name names the method in a results store: give --db too")
    res = run_validation(target, problem, suite, count, time_limit, progress=show, workers=workers,
                         scheduler=scheduler, db=db, name=name)
    # like the table: an output that is not feasible (infeasible, error, timeout) counts as a 100 % gap
    gaps = [1.0 if r["status"] in ("infeasible", "timeout", "error") else r["gap"] for r in res.rows
            if r["status"] in ("infeasible", "timeout", "error") or (r["status"] == "ok" and r["gap"] is not None)]
    bad = [r for r in res.rows if r["status"] not in ("ok", "mismatch")]
    summ = {"problem": problem, "suite": suite, "instances": len(res.rows), "feasible": len(res.rows) - len(bad),
            "mean_gap": float(np.mean(gaps)) if gaps else None, "worst_gap": float(np.max(gaps)) if gaps else None,
            "mismatch": sum(r["status"] == "mismatch" for r in res.rows), "conformance": res.conformance,
            "passed": res.passed}
    if as_json:
        click.echo(_dump(summ))
    else:
        mg = "–" if summ["mean_gap"] is None else f"{100 * summ['mean_gap']:.4f} %"
        click.echo(f"{summ['feasible']}/{summ['instances']} feasible, mean gap {mg}"
                   + (f", {summ['mismatch']} mismatch" if summ["mismatch"] else "")
                   + (f", conformance: {res.conformance}" if res.conformance else "")
                   + (" — PASSED" if res.passed else " — FAILED"))
    if db is not None:
        click.echo(f"stored {len(res.rows)} cells in {db}: mmopt table --db {db} --problems {problem} --suite {suite}",
                   err=as_json)
    sys.exit(0 if res.passed else 1)


@app.command()
@click.option("--problem", required=True)
@click.option("--suite", required=True)
@click.option("--solver", "solver_name", required=True)
@click.option("--param", "params", multiple=True)
@click.option("--out-dir", default=None, type=click.Path(file_okay=False),
              help="Folder with one sub-folder of reference files per problem id (default: each problem's references/ folder).")
@click.option("--workers", type=int, default=None,
              help="Local Dask workers (default one per core; 0: here, one instance at a time). A solver that "
                   "splits an instance (random-beam-config's bnb) uses them all on each instance in turn.")
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler.")
@click.option("--index", "indices", type=int, multiple=True,
              help="Only these instance indices (repeatable); the file's other records are kept.")
def references(problem, suite, solver_name, params, out_dir, workers, scheduler, indices):
    """Recompute the reference records of a suite with a reference solver."""
    from .certify import compute_references
    from .registry import get_problem, get_solver

    from .runner import check_scheduler, check_workers

    check_workers(workers)
    if scheduler:
        scheduler = check_scheduler(scheduler)
    s = get_solver(solver_name, problem)
    if not s.certifies:
        raise MmoptError(f"solver '{solver_name}' is a {s.kind}, not a reference solver")
    if indices:
        count = get_problem(problem).suite(suite).count
        bad = [i for i in indices if not 0 <= i < count]
        if bad:
            raise MmoptError(f"--index {bad[0]}: suite '{suite}' has instances 0..{count - 1}")
    path = compute_references(problem, suite, solver_name, _params(params, scoped=False),
                              indices=list(indices) or None,
                              root=Path(out_dir) if out_dir else None, workers=workers, scheduler=scheduler)
    click.echo(f"wrote {path}")


@app.command()
@click.option("--problem", "problem_names", multiple=True,
              help="Problems (comma separated; default: every problem with cells on the suite).")
@click.option("--suite", default="paper", show_default=True)
@click.option("--db", default=None, help="SQLite file with the suite's cells (default $MMOPT_DB or ./mmopt-results.sqlite).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder of the figures (unless one --problem is named, one sub-folder per problem).")
@click.option("--all-versions", is_flag=True, help="Also rows of older solver versions, weights and suites.")
def plot(problem_names, suite, db, out_dir, all_versions):
    """Draw a suite's figures from the results store: gap per method, gap against time, the paper's own.

    Every figure is written as PNG and PDF, with its data (CSV) and the
    index ``figures.md``.
    """
    from .figures import plot_problem
    from .registry import get_problem, problems
    from .report import current_rows
    from .store import Store, default_db

    names = _split(problem_names, "--problem")
    one = len(names) == 1  # one named problem: its figures in --out itself; otherwise one sub-folder each
    for n in names:
        get_problem(n).suite(suite)
    path = Path(db or default_db())
    hint = f"run `mmopt run --suite {suite}" + (f" --problems {','.join(names)}`" if names else "`")
    if not path.is_file():
        raise MmoptError(f"{path}: no results store ({hint} first)")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MmoptError(f"{out_dir}: exists and is not a folder")
    with Store(path, readonly=True) as st:
        frame = st.frame(problems=names or None)  # every suite: a figure may sweep over suites
    if not all_versions:
        frame = current_rows(frame)
    present = sorted(set(frame.loc[frame["suite"] == suite, "problem"])) if not frame.empty else []
    if names:
        missing = [n for n in names if n not in present]
        if missing:
            raise MmoptError(f"{path}: no cells of {', '.join(missing)}/{suite} ({hint} first)")
    else:
        names = [n for n in present if n in problems()]
        if not names:
            raise MmoptError(f"{path}: no cells on suite '{suite}' of a registered problem ({hint} first)")
    for n in names:
        folder = out if one else out / n
        paths = plot_problem(get_problem(n), frame[frame["problem"] == n], folder, suite)
        if len(paths) <= 1:
            raise MmoptError(f"{path}: no scored cells of {n}/{suite} to draw (every cell skipped or lost)")
        for f in paths:
            click.echo(f"wrote {f}")


@app.command()
@click.option("--html", "html_dir", required=True, type=click.Path(file_okay=False),
              help="Folder of the page: OUT/index.html is written (replaced if it exists).")
@click.option("--db", default=None, help="SQLite file (default $MMOPT_DB or ./mmopt-results.sqlite).")
@click.option("--suite", "suites", multiple=True, help="Suites (comma separated; default: every suite in the store).")
@click.option("--problems", "problem_names", multiple=True, help="Problems (comma separated; default all).")
@click.option("--reproduce-suite", default="paper", show_default=True,
              help="Suite of the reproduction tables (shown when the store has it).")
@click.option("--no-figures", is_flag=True, help="Tables only (faster).")
@click.option("--all-versions", is_flag=True, help="Also rows of older solver versions, weights and suites.")
def report(html_dir, db, suites, problem_names, reproduce_suite, no_figures, all_versions):
    """One self-contained static HTML page of the store: tables, figures, reproduction, provenance.

    The page embeds its figures and style and loads nothing from the
    network: it can be opened offline or sent as one file.
    """
    from .figures import html_report
    from .store import default_db

    page = html_report(db or default_db(), html_dir, _split(suites, "--suite") or None,
                       _split(problem_names, "--problems") or None, all_versions=all_versions,
                       reproduction_suite=reproduce_suite, figures=not no_figures)
    click.echo(f"wrote {page}")


@app.command()
@click.option("--problem", required=True)
@click.option("--suite", "suites", multiple=True, help="Suites (default: every evaluation suite of the problem).")
def manifest(problem, suites):
    """Regenerate the instance-hash manifests of a problem's suites (after a generator change)."""
    from .references import write_manifest
    from .registry import get_problem

    p = get_problem(problem)
    for name in _split(suites) or p.eval_suites():
        p.suite(name)
        click.echo(f"wrote {write_manifest(p, name)}")


@app.command()
@click.option("--problem", required=True)
@click.option("--solver", "solver_name", required=True)
@click.option("--epochs", type=int, default=None, help="Training epochs (default: the solver's).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--count", type=int, default=None, help="Training instances (default: the solver's).")
@click.option("--param", "params", multiple=True, help="KEY=VALUE solver parameter (repeatable).")
@click.option("--out", "out_path", default=None, type=click.Path(),
              help="Weights file (default: ./mmopt-weights/PROBLEM/NAME; the shipped file is replaced "
                   "only when --out names it). Score it with --param SOLVER.weights=FILE.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(problem, solver_name, epochs, seed, count, params, out_path, quiet):
    """Train a learned solver on its problem's training suite; write weights and a JSON sidecar."""
    from .learned import train_solver
    from .registry import get_problem, get_solver

    get_problem(problem)
    s = get_solver(solver_name, problem)
    if epochs is not None and epochs < 1:
        raise MmoptError("--epochs must be >= 1")
    if count is not None and count < 1:
        raise MmoptError("--count must be >= 1")
    path, side = train_solver(s, epochs=epochs, seed=seed, count=count, out=out_path,
                              params=_params(params, scoped=False), progress=not quiet)
    keys = ("train_suite", "train_instances", "train_size", "epochs", "wall_seconds", "train_loss", "val_loss",
            "sha256")
    click.echo(_dump({"weights": str(path), **{k: side.get(k) for k in keys}}))


@app.command()
@click.option("--suite", default="paper", show_default=True)
@click.option("--db", default=None, help="SQLite file (default $MMOPT_DB or ./mmopt-results.sqlite).")
@click.option("--problems", "problem_names", multiple=True)
@click.option("--out", "out_path", default="paper/REPRODUCTION.md", show_default=True, type=click.Path())
@click.option("--all-versions", is_flag=True, help="Also rows of older solver versions, weights and suites.")
def reproduce(suite, db, problem_names, out_path, all_versions):
    """Each paper's headline numbers next to mmopt's and the certified optimum (one table per paper)."""
    from .reproduce import reproduce as _reproduce
    from .store import default_db

    _reproduce(db or default_db(), suite, out_path, _split(problem_names, "--problems") or None,
               all_versions=all_versions)
    click.echo(f"wrote {out_path}")


def main(argv=None) -> None:
    """Entry point: one-line errors, exit 2 for bad input.

    Runs :data:`app` without click's standalone mode and turns its outcomes
    into exit statuses.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Raises
    ------
    SystemExit
        With a click error's exit code after its message on one line,
        ``error: COMMAND: MESSAGE`` (2 for a bad command line);
        with 2 after printing ``error: MESSAGE`` on stderr for an
        :class:`~mmopt.api.MmoptError` (bad input); with 130 after
        ``aborted`` or ``interrupted`` on Ctrl-C. A command that succeeds,
        ``--help`` and ``--version`` return normally.
    """
    try:
        app.main(args=argv, standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.NoArgsIsHelpError as e:  # `mmopt` alone: the help
        e.show()
        sys.exit(e.exit_code)
    except click.ClickException as e:  # one line, as every other error
        msg = " ".join(e.format_message().split())
        cmd = getattr(getattr(e, "ctx", None), "command_path", None)
        click.echo(f"error: {cmd + ': ' if cmd and cmd != 'mmopt' else ''}{msg}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except (MmoptError, InputError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except MemoryError:  # the checks run in limited children; this is a last line of defence
        click.echo("error: out of memory (an input too large for this machine?)", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
