"""Helpers shared by the CLI and the commands problems contribute to it."""
from __future__ import annotations

import json
import math

from .api import json_default


def dump_json(obj) -> str:
    """One line of JSON; NaN and inf become null."""
    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    return json.dumps(clean(obj), default=json_default)
