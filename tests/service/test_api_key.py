"""API keys: hashed, sent in X-API-Key, with score and admin scopes, and mandatory.

Every route the app serves is checked, taken from its route table, so a route added
later is covered without touching this file: only the health probes answer without a
key. A route's scope is declared in ``SCOPES`` (a new route fails here until it is).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from claims_registry import LOW_RISK
from fastapi import FastAPI
from fastapi.testclient import TestClient
from service_keys import ADMIN_KEY, API_KEYS, KEY, SCORE_KEY, keyed_settings

from rpaml_service.app import create_app
from rpaml_service.auth import digest, main, new_key_line
from rpaml_service.errors import ConfigurationError
from rpaml_service.settings import ServiceSettings

BODY = {"records": [{"features": LOW_RISK}]}
SCORE = "/v1/models/claims_fraud/score"
OPEN = {("GET", "/v1/health"), ("GET", "/v1/health/ready")}
# The scope each keyed route needs; None: any known key (the API's documentation).
SCOPES: dict[tuple[str, str], str | None] = {
    ("GET", "/v1/models"): "score",
    ("GET", "/v1/models/{name}"): "score",
    ("POST", "/v1/models/{name}/score"): "score",
    ("POST", "/v1/models/{name}/score/columns"): "score",
    ("POST", "/v1/admin/reload"): "admin",
    ("GET", "/metrics"): "admin",
    ("GET", "/openapi.json"): None,
    ("GET", "/docs"): None,
    ("GET", "/redoc"): None,
}
MISSING = {"detail": "missing API key: send it in the X-API-Key header"}
UNKNOWN = {"detail": "unknown API key (sent in the X-API-Key header)"}


def _routes(routes: Iterable[Any]) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, included routers' routes too."""
    for route in routes:
        # FastAPI keeps an included router as one entry of app.routes, whose
        # effective_route_contexts() yields the routes it contributes.
        nested = getattr(route, "effective_route_contexts", None)
        if nested is not None:
            yield from _routes(nested())
            continue
        for method in sorted(route.methods or ()):
            yield method, route.path


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app serves (HEAD is GET's twin, so left out)."""
    return sorted({entry for entry in _routes(app.routes) if entry[0] != "HEAD"})


ROUTES = route_table(create_app(keyed_settings(registry_dir=Path("unused"))))
KEYED = [route for route in ROUTES if route not in OPEN]


@pytest.fixture(scope="module")
def keyed_client(
    registry_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """A started app with the test keys in the settings and one more in a keys file."""
    keys_file = tmp_path_factory.mktemp("secrets") / "service-keys.env"
    keys_file.write_text(f"# name:scopes:sha256\nops:admin:{digest('ops-key')}\n", encoding="utf-8")
    settings = keyed_settings(registry_dir=registry_dir, api_keys_file=keys_file)
    with TestClient(create_app(settings)) as client:
        yield client


def _call(client: TestClient, route: tuple[str, str], key: str | None) -> Any:
    method, path = route
    headers = {"X-API-Key": key} if key is not None else {}
    return client.request(method, path.replace("{name}", "claims_fraud"), headers=headers)


def test_every_route_is_either_a_health_probe_or_has_a_declared_scope() -> None:
    assert set(KEYED) == set(SCOPES), "declare the scope of a new route in SCOPES"
    assert set(ROUTES) >= OPEN


@pytest.mark.parametrize("route", KEYED, ids=" ".join)
def test_every_route_but_health_refuses_a_missing_or_unknown_key(
    keyed_client: TestClient, route: tuple[str, str]
) -> None:
    missing = _call(keyed_client, route, None)
    unknown = _call(keyed_client, route, "guess")

    assert (missing.status_code, missing.json()) == (401, MISSING)
    assert missing.headers["www-authenticate"] == "X-API-Key"
    assert (unknown.status_code, unknown.json()) == (401, UNKNOWN)
    assert "guess" not in unknown.text


@pytest.mark.parametrize("route", KEYED, ids=" ".join)
def test_a_key_without_the_routes_scope_gets_403(
    keyed_client: TestClient, route: tuple[str, str]
) -> None:
    scope = SCOPES[route]
    by_scope = {"score": _call(keyed_client, route, SCORE_KEY)}
    by_scope["admin"] = _call(keyed_client, route, ADMIN_KEY)
    both = _call(keyed_client, route, KEY)

    assert both.status_code not in (401, 403)
    for held, response in by_scope.items():
        if scope is None or held == scope:
            assert response.status_code not in (401, 403), held
        else:
            name = {"score": "scorer", "admin": "operator"}[held]
            assert response.status_code == 403
            assert response.json() == {
                "detail": f"API key {name!r} lacks the {scope!r} scope this route needs"
            }


@pytest.mark.parametrize("route", sorted(OPEN), ids=" ".join)
def test_health_probes_need_no_key(keyed_client: TestClient, route: tuple[str, str]) -> None:
    assert _call(keyed_client, route, None).status_code == 200


def test_keys_from_the_settings_and_the_keys_file_are_all_accepted(
    keyed_client: TestClient,
) -> None:
    assert keyed_client.post(SCORE, json=BODY, headers={"X-API-Key": KEY}).status_code == 200
    assert keyed_client.get("/metrics", headers={"X-API-Key": "ops-key"}).status_code == 200


def test_the_service_does_not_start_without_a_key(
    registry_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RPAML_SERVICE_API_KEYS", "RPAML_SERVICE_API_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)
    # The pipeline client's plain key is not a service key, even in the same environment.
    monkeypatch.setenv("RPAML_SERVICE_API_KEY", "client-plain-key")
    empty = tmp_path / "service-keys.env"
    empty.write_text("# no keys yet\n", encoding="utf-8")

    with pytest.raises(ConfigurationError) as no_keys:
        create_app(ServiceSettings(registry_dir=registry_dir))
    with pytest.raises(ConfigurationError) as empty_file:
        create_app(ServiceSettings(registry_dir=registry_dir, api_keys_file=empty))

    message = str(no_keys.value)
    for needed in (
        "RPAML_SERVICE_API_KEYS",
        "RPAML_SERVICE_API_KEYS_FILE",
        "python -m rpaml_service.auth NAME SCOPES",
    ):
        assert needed in message
    assert str(empty_file.value).startswith(f"{empty} holds no key;")


def test_malformed_key_entries_are_refused_at_startup(registry_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown or no scopes"):
        create_app(ServiceSettings(registry_dir=registry_dir, api_keys=["x:root:" + "0" * 64]))
    with pytest.raises(ConfigurationError, match="64-digit hex"):
        create_app(ServiceSettings(registry_dir=registry_dir, api_keys=["x:score:abc"]))
    with pytest.raises(ConfigurationError, match="duplicates another key"):
        create_app(ServiceSettings(registry_dir=registry_dir, api_keys=[*API_KEYS, API_KEYS[0]]))


def test_new_keys_are_random_and_only_their_digest_is_stored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    key, line = new_key_line("robot", "score")
    assert line == f"robot:score:{digest(key)}" and key not in line
    assert main(["robot", "score"]) == 0
    assert "KEYS_FILE_LINE=robot:score:" in capsys.readouterr().out
