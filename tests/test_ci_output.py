"""Under CI=true a failing comparison or a huge assertion message is summarised (conftest hooks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FAILING = '''
def test_long_lists_differ():
    assert list(range(20000)) == list(range(10)) + [99] + list(range(11, 20000))


def test_huge_message():
    assert False, "\\n".join(str(i) for i in range(20000))
'''


def test_ci_failure_reports_stay_short(tmp_path: Path):
    tests = Path(__file__).resolve().parent
    (tmp_path / "conftest.py").write_text((tests / "conftest.py").read_text())
    (tmp_path / "test_fail.py").write_text(FAILING)
    env = dict(os.environ, CI="true")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-vv", "-p", "no:cacheprovider",
                             str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1, result.stdout[-2000:]
    lines = result.stdout.splitlines()
    assert len(lines) < 400, f"{len(lines)} lines"
    assert "first difference at index 10" in result.stdout
    assert "lines cut: CI=true" in result.stdout
