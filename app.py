#!/usr/bin/env python3
"""Entry point for the CDK CLI: one Stage per environment in config/environments.yaml."""

import sys

from personalize_poc.settings import SettingsError
from stacks.application import build_app

if __name__ == "__main__":
    try:
        app = build_app()
    except SettingsError as error:
        print(f"Invalid settings: {error}", file=sys.stderr)
        sys.exit(1)
    app.synth()
