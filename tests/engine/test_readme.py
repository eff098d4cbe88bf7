"""The README's Python API example runs as written and prints what it says."""
import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"


def _block(heading: str) -> str:
    text = README.read_text()
    section = text[text.index(heading):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_python_api_section_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(_block("## Python API"), "README.md", "exec"), ns)
    assert ns["summary"].counts == {"ok": 8}
    gaps = ns["df"].groupby("solver")["gap"].mean()
    assert abs(gaps["exhaustive"]) < 1e-6 and gaps["max-gain"] > 0
    s = ns["s"]
    assert s.status == "ok" and s.gap is not None and s.gap >= -1e-9
    assert np.isclose(s.reference, ns["ref"]["value"])
    out = capsys.readouterr().out
    assert "{'ok': 8}" in out and out.splitlines()[-1].startswith("ok ")
