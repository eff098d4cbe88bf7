"""The one progress bar of mmopt (``mmopt run``, ``mmopt train``): rich columns with a status field."""
from __future__ import annotations

__all__ = ["progress_bar"]


def progress_bar(field: str = "status", console=None):
    """A rich progress bar: label, bar, done/total, elapsed, ETA and a free text field.

    Parameters
    ----------
    field : str
        Name of the task field shown last (``status`` of a run, ``losses`` of a training).
    console : rich.console.Console, optional
        Where to draw (default: rich's console on stderr/stdout).

    Returns
    -------
    rich.progress.Progress
        Not started; add tasks with ``add_task(label, total=..., **{field: ""})``.
    """
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    TextColumn("{task.fields[" + field + "]}"), console=console, transient=False)
