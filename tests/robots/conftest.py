"""Fixtures of the robot tests, defined in robot_harness (which the test modules import
their helpers from: a module named conftest is ambiguous across folders)."""

from robot_harness import store, store_url  # noqa: F401 - pytest finds fixtures by name here
