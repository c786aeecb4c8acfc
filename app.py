#!/usr/bin/env python3
"""Entry point for the CDK CLI: one Stage per environment in config/environments.yaml."""

import os
import sys
from pathlib import Path

from personalize_poc.poc_definition import PocConfigError
from personalize_poc.settings import DEFAULT_ENVIRONMENTS_FILE, SettingsError
from stacks.application import build_app

if __name__ == "__main__":
    # POC_ENVIRONMENTS_FILE points synth at another settings file (CI, tests) without editing config/.
    environments_file = Path(os.environ.get("POC_ENVIRONMENTS_FILE") or DEFAULT_ENVIRONMENTS_FILE)
    try:
        app = build_app(environments_file=environments_file)
    except SettingsError as error:
        print(f"Invalid settings: {error}", file=sys.stderr)
        sys.exit(1)
    except PocConfigError as error:
        print(f"Invalid POC definition: {error}", file=sys.stderr)
        sys.exit(1)
    try:
        app.synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
        # The findings are printed above (cdk-nag / CloudFormation validation); no traceback on top of them.
        print(f"Synth stopped by validation findings: {str(error).splitlines()[0]}", file=sys.stderr)
        sys.exit(1)
