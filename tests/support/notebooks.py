"""Run a POC notebook (jupytext percent format, notebooks/*.py) top to bottom in this process.

The notebooks call AWS through boto3; offline, AWS is moto plus the Personalize doubles, which live in
the test process (they patch botocore). So the notebook runs in an in-process IPython shell - the
same interpreter a Jupyter kernel runs (magics, display hooks, ``await``) - instead of a kernel
subprocess that would not see them. Like Jupyter's inline backend, figures are closed after each cell.
A cell that raises fails the run with the cell's number, source and traceback.

A code cell tagged ``parameters`` (papermill's convention) is followed by ``inject`` when given, e.g.
``CONFIRM_TEARDOWN = True``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


class NotebookFailed(AssertionError):
    pass


def run_notebook(path: Path, inject: str | None = None) -> float:
    """Execute every code cell of ``path`` in order in a fresh namespace; returns the wall seconds."""
    import jupytext
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.environ.setdefault("IPYTHONDIR", tempfile.mkdtemp(prefix="ipython-"))
    shell = _shell()
    shell.reset(new_session=True)
    notebook = jupytext.read(path)
    started = time.perf_counter()
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code":
            continue
        sources = [cell.source]
        if inject and "parameters" in cell.metadata.get("tags", []):
            sources.append(inject)
        for source in sources:
            result = shell.run_cell(source, store_history=False)
            plt.close("all")
            error = result.error_before_exec or result.error_in_exec
            if error is not None:
                raise NotebookFailed(f"{path.name}, cell {number} raised {error!r}:\n{source}") from error
    return time.perf_counter() - started


def _shell():  # type: ignore[no-untyped-def]
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    return InteractiveShell.instance(config=config)
