"""A crash in another thread (moto's Step Functions interpreter, an in-process Lambda, the simulated
clock) fails the test that was running: pyproject.toml turns pytest's unhandled-thread-exception
warning into an error, with one narrow exception for moto's stopped Parallel branches."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FILTERS = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"].get(
    "filterwarnings", []
)


def test_an_exception_in_a_thread_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfilterwarnings =\n" + "".join(f"    {f}\n" for f in FILTERS))
    pytester.makepyfile(
        """
        import threading

        def crash_in_a_thread(error):
            def target():
                raise error
            thread = threading.Thread(target=target, name="interpreter")
            thread.start()
            thread.join()

        def test_harness_crash():
            crash_in_a_thread(KeyError("parsed state machine has no state 'Wait 1'"))

        def test_moto_stops_a_sibling_branch():
            crash_in_a_thread(RuntimeError("Could not set NextState value when in state '<class 'X'>'."))
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*KeyError*no state 'Wait 1'*", "FAILED*test_harness_crash*"])


def test_no_test_module_ignores_thread_exceptions() -> None:
    ignoring = [
        path.name
        for path in (PROJECT_ROOT / "tests").rglob("*.py")
        if path.name != Path(__file__).name
        and "ignore::pytest.PytestUnhandledThreadExceptionWarning" in path.read_text(encoding="utf-8")
    ]
    assert ignoring == []
