"""Let the registry import the problem folder before the tests import it directly.

The registry records a folder's ``SOLVERS`` table only when it imports the folder itself
(``mmopt.registry._load_problem_package`` sees the problem appear); a test module that imports
``mmopt.problems.highway_sector_beams`` at its top would otherwise hide the table from tests that run
later in the same process (``tests/engine/test_boundaries.py``).
"""
from mmopt.registry import problems

problems()
