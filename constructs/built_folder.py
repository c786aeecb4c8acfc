"""Folders built from the repository at synth (the Lambda code, the notebooks), kept under `.build/` by a
key that names everything they are built from, so a warm synth reuses them instead of building again.

A folder is written whole or not at all: built beside its final name, then renamed (a rename onto an
existing folder fails, so when two processes, e.g. test workers, build the same key at once, the first
one wins and the other discards its copy). A folder that exists therefore holds exactly what its key
says. Older keys of the same kind are removed, so `.build/` holds one folder per kind; `make clean`
removes it all.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

BUILD_ROOT = Path(__file__).resolve().parent.parent / ".build"
_PARTIAL = ".partial-"


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
    for other in parent.iterdir():
        if other.name != key and not other.name.startswith(_PARTIAL):
            shutil.rmtree(other, ignore_errors=True)
    return folder
