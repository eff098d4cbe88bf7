"""The documentation stays true: docs/problems.md is what `mmopt describe` prints."""
from pathlib import Path

from mmopt.docs import describe_markdown
from mmopt.docs import HEADER

ROOT = Path(__file__).resolve().parents[2]


def test_problem_reference_page_is_current():
    page = (ROOT / "docs" / "problems.md").read_text()
    assert page == HEADER + describe_markdown(), "regenerate: python -m mmopt.docs > docs/problems.md"

