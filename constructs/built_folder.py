"""Folders built from the repository at synth (the Lambda code, the notebooks), kept under `.build/` by a
key that names everything they are built from, so a warm synth reuses them instead of building again.

A folder is written whole or not at all: built beside its final name, then renamed (a rename onto an
existing folder fails, so when two processes, e.g. test workers, build the same key at once, the first
one wins and the other discards its copy). A folder that exists therefore holds exactly what its key
says. Each use touches the folder; folders of the same kind unused for a day are removed (not at once:
another process, a test worker or a synth started before an edit, may still be using the folder of the
sources it read). `make clean` removes it all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BUILD_ROOT = Path(__file__).resolve().parent.parent / ".build"
_PARTIAL = ".partial-"
UNUSED_SECONDS = 24 * 60 * 60


def built_folder(kind: str, key: str, build: Callable[[Path], None]) -> Path:
    """`.build/<kind>/<key>`, made by `build(folder)` the first time this key is asked for."""
    parent = BUILD_ROOT / kind
    folder = parent / key
    if not folder.is_dir():
        parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=_PARTIAL, dir=parent))
        try:
            build(partial)
            partial.rename(folder)
        except OSError:
            if not folder.is_dir():  # not another process's finished build: a real error
                raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    os.utime(folder)
    stale = time.time() - UNUSED_SECONDS
    for other in parent.iterdir():
        try:
            unused = other.name != key and other.stat().st_mtime < stale
        except FileNotFoundError:  # removed by another process meanwhile
            continue
        if unused:
            shutil.rmtree(other, ignore_errors=True)
    return folder
