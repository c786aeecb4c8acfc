"""S3 keys and prefixes of the POC definition: each stays inside its folder of the data bucket."""

from __future__ import annotations


def relative_key(value: str, example: str) -> str:
    """An S3 key or prefix inside its folder of the data bucket: nothing that could reach outside it."""
    parts = value.split("/")
    if (
        value.startswith(("/", "s3://"))
        or "\\" in value
        or any(part in ("..", ".") for part in parts)
        or "" in parts[:-1]
    ):
        raise ValueError(
            f"'{value}' must stay inside its folder: a relative key without '..', '.', '//', '\\', a leading '/' "
            f"or s3://, e.g. '{example}'"
        )
    return value


def relative_prefix(value: str, example: str) -> str:
    """An output prefix (a trailing '/' allowed) inside its folder; returned as given."""
    relative_key(value.removesuffix("/") or "/", example)
    return value
