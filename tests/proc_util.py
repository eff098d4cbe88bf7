"""Process helpers shared by the process and reliability tests: liveness by PID, PID files, bounded waits."""
import os
import time
from pathlib import Path


def alive(pid):
    """Whether ``pid`` runs (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def pids(folder):
    """The PIDs written by the test plugins as ``*.pid`` files in ``folder``."""
    return [int(f.read_text()) for f in Path(folder).glob("*.pid") if f.read_text().strip()]


def wait_dead(pid_list, seconds=5.0):
    """Wait up to ``seconds`` for every PID to end; the ones still alive."""
    t = time.time() + seconds
    while time.time() < t and any(alive(p) for p in pid_list):
        time.sleep(0.05)
    return [p for p in pid_list if alive(p)]


def wait_pids(folder, n=1, seconds=30):
    """Wait up to ``seconds`` for ``n`` PID files in ``folder``; the PIDs found."""
    t = time.time() + seconds
    while time.time() < t and len(pids(folder)) < n:
        time.sleep(0.05)
    return pids(folder)
