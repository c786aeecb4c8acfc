"""Finding a deployed environment's resources: settings -> boto3 session -> SSM parameters.

The foundation stack publishes ``/{name_prefix}/bucket-name`` and ``/{name_prefix}/workflow-arn``.
"""

from __future__ import annotations

import os
from typing import Any

from personalize_poc.data.errors import CliError

BUCKET_PARAMETER = "bucket-name"
WORKFLOW_PARAMETER = "workflow-arn"
IMPORT_PREFIX = "imports/"
# Batch inference inputs (JSON lines) go here; the workflow reads them from this prefix.
BATCH_INPUT_PREFIX = "batch-input/"
TEARDOWN_PARAMETER = "teardown-arn"
# Written by `personalize-poc data upload` after every file it uploaded: the object that starts the
# workflow when `auto_start_on_upload` is on (constructs/upload_trigger.py). Other upload tools write it last.
UPLOAD_MARKER_KEY = f"{IMPORT_PREFIX}_upload-complete.json"


def load_environment(name: str) -> Any:
    """The environment's settings (``.name``, ``.name_prefix``, ``.region``) from config/environments.yaml."""
    from personalize_poc.settings import SettingsError
    from personalize_poc.settings import load_environment as load

    try:
        return load(name)
    except SettingsError as exc:
        raise CliError(str(exc)) from None


def region_for(environment: Any) -> str | None:
    """The environment's ``region`` setting, else ``AWS_REGION``; None leaves it to botocore, which reads
    ``AWS_DEFAULT_REGION`` and then the profile's ``region``. The AWS CLI's order: ``AWS_REGION``
    overrides ``AWS_DEFAULT_REGION`` and the profile (AWS CLI user guide, "Environment variables to
    configure the AWS CLI"); botocore 1.44 itself reads only ``AWS_DEFAULT_REGION``
    (botocore/configprovider.py, ``region``)."""
    return getattr(environment, "region", None) or os.environ.get("AWS_REGION") or None


def session_for(environment: Any) -> Any:
    import boto3

    return boto3.session.Session(region_name=region_for(environment))


def parameter_name(environment: Any, suffix: str) -> str:
    return f"/{environment.name_prefix}/{suffix}"


def read_parameter(session: Any, environment: Any, suffix: str) -> str:
    """The value of one of the environment's SSM parameters, with a one-line error if it is absent."""
    name = parameter_name(environment, suffix)
    ssm = session.client("ssm")
    try:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        region = session.region_name or "the default region"
        raise CliError(f"SSM parameter {name} not found in {region}: is environment "
                       f"'{environment.name}' deployed? (cdk deploy)") from None


def describe_aws_error(exc: BaseException) -> str:
    """One line for a botocore/boto3 exception."""
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found: set AWS_PROFILE or run 'aws configure' / 'aws sso login'"
    if isinstance(exc, NoRegionError):
        return ("no AWS region: set 'region' for the environment in config/environments.yaml, or AWS_REGION "
                "(or AWS_DEFAULT_REGION)")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "request")
        return f"AWS {operation} failed: {error.get('Code', 'Error')}: {error.get('Message', str(exc))}"
    return f"AWS request failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
