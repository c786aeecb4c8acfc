"""Puts `lambdas/` on sys.path so tests import the Lambda code as it runs in Lambda: `import poc_steps`.

Import this module before any `poc_steps` import (ruff's isort keeps it first with `# isort: split`):

    from tests.support import lambda_path  # noqa: F401
    # isort: split
    from poc_steps import ensure
"""

from __future__ import annotations

import sys
from pathlib import Path

LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"

if str(LAMBDAS_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDAS_DIR))
