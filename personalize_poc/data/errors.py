"""Errors the command line turns into one line on stderr and an exit status (never a traceback)."""

from __future__ import annotations


class CliError(Exception):
    """A problem the user can act on; exit status 1."""

    exit_code = 1


class UsageError(CliError):
    """A bad argument (unreadable schema, wrong option combination); exit status 2, like click's."""

    exit_code = 2
