"""Reuse the directory fixtures: auth tests run on the SQL directory and on slapd."""

from tests.directory.conftest import directory, private_slapd, slapd

__all__ = ["directory", "private_slapd", "slapd"]
