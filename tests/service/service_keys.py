"""The API keys of the service tests: the service has no open mode, so every app needs one.

A module of its own (not conftest) so test modules can import its constants.
"""

from __future__ import annotations

from typing import Any

from rpaml_service.auth import digest
from rpaml_service.settings import ServiceSettings

KEY = "test-key-both-scopes"
SCORE_KEY = "test-key-score-only"
ADMIN_KEY = "test-key-admin-only"
API_KEYS = [
    f"tester:admin,score:{digest(KEY)}",
    f"scorer:score:{digest(SCORE_KEY)}",
    f"operator:admin:{digest(ADMIN_KEY)}",
]
HEADERS = {"X-API-Key": KEY}


def keyed_settings(**values: Any) -> ServiceSettings:
    """Service settings accepting the three test keys (plus ``values``)."""
    return ServiceSettings(api_keys=API_KEYS, **values)
