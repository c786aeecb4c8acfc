"""Folders built at synth and reused by later synths (`.build/`): an edit to anything they are built from
must reach the next synth (a stale Lambda asset would deploy old code), and a build that fails or is
interrupted must never be taken for a finished one."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from constructs import built_folder as built_folder_module
from constructs import lambda_asset, notebook_delivery
from constructs.built_folder import built_folder


@pytest.fixture
def build_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / ".build"
    monkeypatch.setattr(built_folder_module, "BUILD_ROOT", root)
    return root


def _writer(text: str, calls: list[str]):  # type: ignore[no-untyped-def]
    def build(folder: Path) -> None:
        calls.append(text)
        (folder / "out.txt").write_text(text)

    return build


def test_a_key_is_built_once_and_unused_keys_go_after_a_day(build_root: Path) -> None:
    calls: list[str] = []
    first = built_folder("kind", "key-1", _writer("one", calls))
    again = built_folder("kind", "key-1", _writer("never built", calls))
    assert first == again and (first / "out.txt").read_text() == "one" and calls == ["one"]

    # Another key (an edit): the old folder stays while a process started before the edit may use it.
    second = built_folder("kind", "key-2", _writer("two", calls))
    assert (second / "out.txt").read_text() == "two" and (first / "out.txt").read_text() == "one"

    day_and_a_minute_ago = time.time() - built_folder_module.UNUSED_SECONDS - 60
    os.utime(first, (day_and_a_minute_ago, day_and_a_minute_ago))
    built_folder("kind", "key-2", _writer("never built", calls))
    assert sorted(p.name for p in (build_root / "kind").iterdir()) == ["key-2"]
    assert calls == ["one", "two"]


def test_a_failed_build_leaves_nothing_to_reuse(build_root: Path) -> None:
    def broken(folder: Path) -> None:
        (folder / "half.txt").write_text("half")
        raise RuntimeError("converter crashed")

    with pytest.raises(RuntimeError, match="converter crashed"):
        built_folder("kind", "key", broken)
    assert list((build_root / "kind").iterdir()) == []  # no folder under the key, no partial copy

    calls: list[str] = []
    assert (built_folder("kind", "key", _writer("whole", calls)) / "out.txt").read_text() == "whole"


def test_another_process_finishing_first_is_taken_not_an_error(build_root: Path) -> None:
    """Two test workers building the same key at once: the rename of the slower one fails, and it
    uses the folder the faster one finished."""

    def racing(folder: Path) -> None:
        winner = folder.parent / "key"
        winner.mkdir()
        (winner / "out.txt").write_text("winner")
        (folder / "out.txt").write_text("loser")

    folder = built_folder("kind", "key", racing)
    assert (folder / "out.txt").read_text() == "winner"
    assert [p.name for p in (build_root / "kind").iterdir()] == ["key"]  # the loser's copy is gone


def test_an_edited_lambda_source_gives_a_new_asset(
    build_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "lambdas"
    shutil.copytree(lambda_asset.LAMBDA_SOURCE, source, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(lambda_asset, "LAMBDA_SOURCE", source)
    lambda_asset.lambda_asset.cache_clear()
    try:
        _, before = lambda_asset.lambda_asset()
        handler = next(source.rglob("*.py"))
        handler.write_text(handler.read_text() + "\n# edited\n")
        lambda_asset.lambda_asset.cache_clear()
        edited_folder, after = lambda_asset.lambda_asset()
    finally:
        lambda_asset.lambda_asset.cache_clear()
    assert after != before and edited_folder.name == after
    edited = edited_folder / handler.relative_to(source)
    assert edited.read_text().endswith("# edited\n")
    assert (edited_folder / "aws_lambda_powertools" / "__init__.py").is_file()


def test_an_edited_notebook_is_converted_again(
    build_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebooks = tmp_path / "notebooks"
    shutil.copytree(notebook_delivery.NOTEBOOKS_DIR, notebooks)
    monkeypatch.setattr(notebook_delivery, "NOTEBOOKS_DIR", notebooks)
    before = notebook_delivery.build_notebooks()
    assert notebook_delivery.build_notebooks() == before
    source = sorted(notebooks.glob("[0-9][0-9]-*.py"))[0]
    source.write_text(source.read_text() + "\n# %%\nprint('a new cell')\n")
    after = notebook_delivery.build_notebooks()
    assert after != before
    assert "a new cell" in (after / f"{source.stem}.ipynb").read_text()
