"""Template properties of the edges a user meets first: the notebook's instance metadata service, the
upload trigger, and the Lambda code that carries Powertools."""

from __future__ import annotations

from tests.conftest import SynthesizedEnvironment


def _of_type(env: SynthesizedEnvironment, resource_type: str) -> list[dict]:
    return [r for r in env.resources.values() if r["Type"] == resource_type]


# ---------------------------------------------------------------------------------------------- notebook


def test_notebook_requires_imdsv2(any_env: SynthesizedEnvironment) -> None:
    """With IMDSv1 allowed, anything that can make the instance send a plain GET (an SSRF in a notebook
    extension) can read the notebook role's credentials."""
    (notebook,) = _of_type(any_env, "AWS::SageMaker::NotebookInstance")
    config = notebook["Properties"].get("InstanceMetadataServiceConfiguration")
    assert config == {"MinimumInstanceMetadataServiceVersion": "2"}
