"""The POC notebooks, delivered to the notebook instance at every start.

The notebooks' source of truth is notebooks/*.py (jupytext percent format: reviewable as text in a pull
request). At synth they are converted to .ipynb (no outputs) into one S3 asset; the instance's
lifecycle script copies the asset and hands it to ``DELIVERY_SCRIPT``, which never overwrites a notebook
the user has edited: theirs stays, the shipped one lands beside it as ``<name>.shipped.ipynb``.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets

from constructs import Construct
from constructs.built_folder import built_folder

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"

# Runs on the instance (python3 of the OS, standard library only): DELIVERY_SCRIPT <zip> <home> [owner].
# .poc-notebooks.json keeps the SHA-256 of each notebook as last delivered; a notebook whose bytes differ
# from it (and from the new one) was edited by the user and is kept.
DELIVERY_SCRIPT = r"""
import hashlib, json, shutil, sys, zipfile
from pathlib import Path
archive, home = Path(sys.argv[1]), Path(sys.argv[2])
owner = sys.argv[3] if len(sys.argv) > 3 else None
state_file = home / ".poc-notebooks.json"
state = json.loads(state_file.read_text()) if state_file.exists() else {}
def digest(data):
    return hashlib.sha256(data).hexdigest()
with zipfile.ZipFile(archive) as bundle:
    for name in sorted(bundle.namelist()):
        if not name.endswith(".ipynb") or "/" in name:
            continue
        new, target = bundle.read(name), home / name
        if target.exists() and digest(target.read_bytes()) not in (state.get(name), digest(new)):
            target = home / (name[: -len(".ipynb")] + ".shipped.ipynb")
            print(f"{name} was edited here: kept; the shipped version is {target.name}")
        else:
            state[name] = digest(new)
        target.write_bytes(new)
        if owner:
            shutil.chown(target, owner, owner)
state_file.write_text(json.dumps(state, indent=1, sort_keys=True))
if owner:
    shutil.chown(state_file, owner, owner)
"""


def notebook_sources() -> list[Path]:
    return sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]-*.py"))


def build_notebooks() -> Path:
    """notebooks/*.py -> a folder of .ipynb (no outputs), converted once for the same sources, converter
    versions and conversion code (`built_folder`): every environment ships the same notebooks, and
    jupytext's conversion (with its import) is a good share of a synth. Same sources, same bytes, same
    asset hash."""
    sources = tuple((source.stem, source.read_text(encoding="utf-8")) for source in notebook_sources())
    inputs = (sources, metadata.version("jupytext"), metadata.version("nbformat"), Path(__file__).read_bytes())
    key = hashlib.sha256(repr(inputs).encode()).hexdigest()
    return built_folder("notebooks", key, lambda folder: _convert(sources, folder))


def _convert(sources: tuple[tuple[str, str], ...], folder: Path) -> None:
    """(stem, text) of each notebook source -> `<stem>.ipynb` in `folder`."""
    import jupytext

    for stem, text in sources:
        notebook = jupytext.reads(text, fmt={"extension": ".py"})  # what jupytext.read(path) does for a .py file
        for number, cell in enumerate(notebook.cells, start=1):
            cell["id"] = f"cell-{number}"  # nbformat 4.5 ids are random by default: same sources, same bytes
        (folder / f"{stem}.ipynb").write_bytes(jupytext.writes(notebook, fmt="ipynb").encode())


class NotebookDelivery(Construct):
    """The notebooks as an S3 asset, the lifecycle lines that deliver them and the read grant."""

    def __init__(self, scope: Construct, construct_id: str, *, home: str, owner: str) -> None:
        super().__init__(scope, construct_id)
        self.asset = s3_assets.Asset(self, "Asset", path=str(build_notebooks()))
        archive = "/tmp/poc-notebooks.zip"
        self.lifecycle_lines = [
            f"aws s3 cp s3://{self.asset.s3_bucket_name}/{self.asset.s3_object_key} {archive} --only-show-errors",
            f"python3 - {archive} {home} {owner} <<'DELIVER'",
            DELIVERY_SCRIPT.strip(),
            "DELIVER",
        ]

    def allow_read(self, role: iam.IRole) -> None:
        """s3:GetObject on exactly the asset's object, nothing else in the assets bucket."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadsTheShippedNotebooks",
                actions=["s3:GetObject"],
                resources=[self.asset.bucket.arn_for_objects(self.asset.s3_object_key)],
            )
        )
