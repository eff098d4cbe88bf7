"""Helpers shared by the CLI and the commands problems contribute to it."""
from __future__ import annotations

import json
import math

from .api import json_default

__all__ = ["dump_json"]


def dump_json(obj) -> str:
    """One line of JSON; NaN and inf become null.

    Parameters
    ----------
    obj : Any
        JSON-able data; non-finite floats at any depth of dicts, lists and
        tuples become ``null``, and NumPy values are converted by
        :func:`mmopt.api.json_default`.

    Returns
    -------
    str
        The JSON text, without a newline.
    """
    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    return json.dumps(clean(obj), default=json_default)
