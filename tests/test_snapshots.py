"""Each environment's synthesized template, compared to the reviewed snapshot in tests/snapshots/.

An intended change: run `make snapshots` (UPDATE_SNAPSHOTS=1) and review the snapshot diff in the pull
request like any other code.

Normalised before comparing: asset hashes (the S3 keys of Lambda code, 64 hex digits) and the code
hash in Lambda version logical IDs (`...CurrentVersion<path hash><32 hex>`). Both change with every
edit of a handler or a CDK upgrade that touches its bundled handlers; handler code is reviewed as code
and tested by the handler tests, so the snapshot stays about infrastructure and does not churn on code
edits. Everything else - resources, properties, logical IDs, policies, the state machine definition - is
compared exactly.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import ENVIRONMENT_NAMES, SynthesizedApp

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
MAX_DIFF_LINES = 80

_ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")
# CDK names a function's current version `<path>CurrentVersion<8 hex path hash><32 hex code hash>`.
_VERSION_HASH = re.compile(r"(CurrentVersion[0-9A-F]{8})[0-9a-f]{32}\b")


def normalised(template_text: str) -> str:
    """The template as stable, reviewable JSON with asset hashes replaced."""
    text = json.dumps(json.loads(template_text), indent=2, ensure_ascii=False) + "\n"
    text = _ASSET_HASH.sub("<asset-hash>", text)
    return _VERSION_HASH.sub(r"\1<code-hash>", text)


def short_diff(expected: str, actual: str, name: str) -> str:
    lines = list(
        difflib.unified_diff(
            expected.splitlines(),
            actual.splitlines(),
            fromfile=f"tests/snapshots/{name}.json",
            tofile=f"synthesized {name}",
            lineterm="",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more diff lines"]
    return "\n".join(lines)


def test_normalisation_hides_only_hashes() -> None:
    template = json.dumps(
        {
            "Resources": {
                "FnCurrentVersionB4562EA80123456789abcdef0123456789abcdef": {"Type": "AWS::Lambda::Version"},
                "Fn": {"Properties": {"Code": {"S3Key": f"{'ab' * 32}.zip"}, "Handler": "index.handler"}},
            }
        }
    )
    result = normalised(template)
    assert "FnCurrentVersionB4562EA8<code-hash>" in result
    assert '"S3Key": "<asset-hash>.zip"' in result
    assert '"Handler": "index.handler"' in result


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_template_matches_snapshot(synthesized: SynthesizedApp, name: str) -> None:
    actual = normalised(synthesized.environments[name].template_path.read_text(encoding="utf-8"))
    snapshot = SNAPSHOT_DIR / f"{name}.json"
    if UPDATE:
        SNAPSHOT_DIR.mkdir(exist_ok=True)
        if not snapshot.exists() or snapshot.read_text(encoding="utf-8") != actual:
            snapshot.write_text(actual, encoding="utf-8")
            print(f"updated {snapshot}")
        return
    if not snapshot.exists():
        pytest.fail(f"no snapshot for '{name}'; record it with `make snapshots`", pytrace=False)
    expected = snapshot.read_text(encoding="utf-8")
    if expected != actual:
        pytest.fail(
            f"the '{name}' template differs from its snapshot; if intended, run `make snapshots` and "
            f"review the diff:\n{short_diff(expected, actual, name)}",
            pytrace=False,
        )


def test_no_stale_snapshots() -> None:
    stale = sorted(p.stem for p in SNAPSHOT_DIR.glob("*.json") if p.stem not in ENVIRONMENT_NAMES)
    if UPDATE:
        for name in stale:
            (SNAPSHOT_DIR / f"{name}.json").unlink()
        return
    assert not stale, f"snapshots of environments that no longer exist: {stale}; run `make snapshots`"
