"""Helpers shared by the CLI and the commands problems contribute to it."""
from __future__ import annotations

import json

from .api import json_safe

__all__ = ["dump_json"]


def dump_json(obj) -> str:
    """One line of JSON; NaN and inf become null.

    Parameters
    ----------
    obj : Any
        Data made JSON-safe by :func:`mmopt.api.json_safe` (non-finite floats
        at any depth become ``null``, NumPy values Python values).

    Returns
    -------
    str
        The JSON text, without a newline.
    """
    return json.dumps(json_safe(obj))
