"""Package list for setuptools: every package under mmopt/, problems/ and solvers/ (see pyproject.toml).

``problems/`` and ``solvers/`` install as ``mmopt.problems`` and ``mmopt.solvers``
(``package-dir`` in pyproject.toml); a new problem package needs no edit here.
"""
from setuptools import find_packages, setup


def under(prefix: str, where: str) -> list[str]:
    return [prefix] + [f"{prefix}.{p}" for p in find_packages(where)]


setup(packages=under("mmopt", "mmopt") + under("mmopt.problems", "problems") + under("mmopt.solvers", "solvers")
      + ["mmopt.reference_results"])
