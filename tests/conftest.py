"""Test-wide set-up: the shared helpers in tests/support are importable from every folder.

Test folders are not packages (an unrelated ``tests`` package may be installed), so
helpers shared across folders live in tests/support under names of their own.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).with_name("support")))

# Tags every process the tests start and fails the session if any is left running.
from process_sweep import (  # noqa: F401
    pytest_configure,
    pytest_runtest_logstart,
    pytest_sessionfinish,
    pytest_testnodedown,
)
