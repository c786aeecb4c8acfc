"""The code every workflow function runs: the repository's `lambdas/` plus Powertools for AWS Lambda
(Python), vendored at synth from the distributions installed from the pins in constraints.txt.

One pin, verifiable offline: the tests import Powertools from the same installed distribution the asset
copies, and synth stops if the installed version is not the pinned one (a stale virtualenv). A public
Lambda layer cannot be checked offline (its version number says nothing about the Powertools version
inside it), so the functions use no layer.

Vendored: `aws-lambda-powertools` (without `event_handler/`, the HTTP routing the steps never use),
and what its Tracer needs: `aws-xray-sdk` and `wrapt` (pure Python: wrapt falls back to its Python
implementation when its C extension is absent, and the extension built here would be for this
machine's Python, not the Lambda runtime's); `typing-extensions` (a Powertools dependency the Lambda
runtime lacks). `jmespath`, `botocore` and `boto3` come with the Lambda Python runtime. Only files
listed in each distribution's RECORD are copied, never `__pycache__`/`*.pyc`, so the asset, and its
hash, are the same on every synth; the folder is built once per content (`lambda_asset`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import re
import shutil
from pathlib import Path

from constructs.built_folder import built_folder

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SOURCE = PROJECT_ROOT / "lambdas"
CONSTRAINTS = PROJECT_ROOT / "constraints.txt"
VENDORED = ("aws-lambda-powertools", "aws-xray-sdk", "wrapt", "typing-extensions")
# Parts of a vendored distribution the steps never import.
EXCLUDED_PREFIXES = ("aws_lambda_powertools/event_handler/",)
# Compiled for this machine (or sources of it): never what the Lambda runtime should load.
EXCLUDED_SUFFIXES = (".pyc", ".so", ".pyd", ".c", ".h", ".pyi")
# From a distribution's metadata folder only what says what it is (name, version, licence).
KEPT_METADATA = re.compile(r"(METADATA|licenses/.*|LICENSE.*|NOTICE.*)$")


class VendoringError(RuntimeError):
    """The installed distribution is not the pinned one; one line, names the fix."""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_versions(constraints: Path = CONSTRAINTS) -> dict[str, str]:
    """{canonical name: version} of every `name==version` line of constraints.txt."""
    pins = {}
    for line in constraints.read_text(encoding="utf-8").splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep:
            pins[_canonical(name.split("[", 1)[0])] = version.strip()
    return pins


def _wanted(relative: str) -> bool:
    parts = relative.split("/")
    if (
        parts[0] == ".."
        or parts[0].endswith("-stubs")
        or "__pycache__" in parts
        or relative.endswith(EXCLUDED_SUFFIXES)
    ):
        return False
    if parts[0].endswith(".dist-info"):
        return bool(KEPT_METADATA.match("/".join(parts[1:])))
    return not relative.startswith(EXCLUDED_PREFIXES)


def vendored_files(names: tuple[str, ...] = VENDORED) -> list[tuple[str, Path]]:
    """(path inside the asset, installed file) of each distribution's wanted files; stops if an
    installed distribution is not the pinned one."""
    pins = pinned_versions()
    files = []
    for name in names:
        distribution = importlib.metadata.distribution(name)
        version, pinned = distribution.version, pins.get(_canonical(name))
        if version != pinned:
            raise VendoringError(
                f"{name} {version} is installed but constraints.txt pins {pinned}: run `make setup` "
                f"(the Lambda asset vendors the pinned version)"
            )
        for file in sorted(distribution.files or [], key=str):
            relative = file.as_posix()
            if _wanted(relative):
                files.append((relative, Path(str(file.locate()))))
    return files


def _copy(files: list[tuple[str, Path]], target: Path) -> None:
    for relative, source in files:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)


def asset_files() -> list[tuple[str, Path]]:
    """Every file of the asset: `lambdas/` (without bytecode) and the vendored distributions, sorted."""
    own = [
        (path.relative_to(LAMBDA_SOURCE).as_posix(), path)
        for path in LAMBDA_SOURCE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]
    return sorted(own + vendored_files())


def content_hash(files: list[tuple[str, Path]]) -> str:
    """SHA-256 over each file's path in the asset and the SHA-256 of its bytes: equal exactly when the
    asset's content is equal (what CDK's own directory fingerprint would say, computed here)."""
    digest = hashlib.sha256()
    for relative, source in files:
        digest.update(relative.encode() + b"\0" + hashlib.sha256(source.read_bytes()).digest())
    return digest.hexdigest()


@functools.cache
def lambda_asset() -> tuple[Path, str]:
    """(folder, content hash) of the functions' code, built once per content (`built_folder`): a warm
    synth hashes the ~530 source files (a few MB) and copies nothing, and CDK, given the hash
    (`AssetHashType.CUSTOM`), does not walk the folder again."""
    files = asset_files()
    asset_hash = content_hash(files)
    return built_folder("lambda-asset", asset_hash, lambda folder: _copy(files, folder)), asset_hash
