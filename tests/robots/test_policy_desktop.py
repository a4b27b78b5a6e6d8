"""``PolicyDesktop`` against the real Tk application on a real Xvfb display: keyboard
lookups through the clipboard, "not found" as a business error, the export."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpaml_robots.errors import ApplicationError, BusinessError
from rpaml_robots.policy_desktop import PolicyDesktop
from rpaml_robots.policy_records import parse_copied_record, parse_policy_export
from rpaml_robots.virtual_display import VirtualDisplay
from rpaml_sandbox.desktop.policies import (
    export_csv,
    generate_policies,
    record_as_tsv,
    save_policies,
)

POLICIES = generate_policies(3, 30, 20)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("desktop") / "policies.json"
    save_policies(path, POLICIES)
    return path


@pytest.fixture(scope="module")
def desktop(data_file: Path) -> Iterator[PolicyDesktop]:
    display = VirtualDisplay()
    before = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display.start()
    library = PolicyDesktop(answer_timeout=3.0, attempts=2)
    try:
        library.start_policy_application(str(data_file))
        yield library
    finally:
        library.close_policy_application()
        display.stop()
        if before is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = before


def test_lookups_through_the_keyboard_return_the_policy(desktop: PolicyDesktop) -> None:
    for policy in POLICIES[:5]:
        assert desktop.look_up_policy(f"  {policy.policy_number.lower()} ") == policy.as_dict()
    assert desktop.policy_application_location().startswith("desktop:Policy Administration@:")


def test_an_unknown_policy_is_a_business_error(desktop: PolicyDesktop) -> None:
    with pytest.raises(BusinessError, match="POL-12A456 not found"):
        desktop.look_up_policy("POL-12A456")
    with pytest.raises(BusinessError, match="no policy number"):
        desktop.look_up_policy("  ")
    # The application goes on working after a miss.
    assert desktop.look_up_policy(POLICIES[-1].policy_number)["status"] == POLICIES[-1].status


def test_export_holds_every_policy(desktop: PolicyDesktop, tmp_path: Path) -> None:
    path = desktop.export_policies(str(tmp_path / "export.csv"))
    exported = desktop.read_policy_export(path)
    assert exported == {p.policy_number: p.as_dict() for p in POLICIES}
    found = desktop.find_policy_in_export(exported, POLICIES[0].policy_number.lower())
    assert found == POLICIES[0].as_dict()
    with pytest.raises(BusinessError):
        desktop.find_policy_in_export(exported, "PO-123456")
    assert "/export:" in desktop.policy_export_location(path)


def test_the_library_starts_and_stops_its_own_xvfb_without_display(
    data_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    library = PolicyDesktop()
    library.start_policy_application(str(data_file))
    try:
        display = library._display
        assert display is not None and display.pid is not None
        pid = display.pid
        assert library.look_up_policy(POLICIES[1].policy_number) == POLICIES[1].as_dict()
    finally:
        library.close_policy_application()
    assert "DISPLAY" not in os.environ
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_a_missing_data_file_or_a_stopped_application_is_reported(tmp_path: Path) -> None:
    library = PolicyDesktop()
    with pytest.raises(ApplicationError, match="not found"):
        library.start_policy_application(str(tmp_path / "none.json"))
    with pytest.raises(ApplicationError, match="not started"):
        library.look_up_policy("POL-000001")


def test_parsers_read_what_the_application_writes(tmp_path: Path) -> None:
    policy = POLICIES[0]
    copied = parse_copied_record(record_as_tsv(policy.policy_number, policy))
    assert copied is not None and copied.found and copied.fields == policy.as_dict()
    missing = parse_copied_record(record_as_tsv("POL-1", None))
    assert missing is not None and not missing.found and missing.search_term == "POL-1"
    assert parse_copied_record("some other text") is None
    with pytest.raises(ApplicationError, match="column names"):
        parse_copied_record("search_term\tresult\tx\nPOL-1\tfound")
    with pytest.raises(ApplicationError, match="lacks"):
        parse_copied_record("search_term\tresult\nPOL-1\tfound")
    export_csv(tmp_path / "e.csv", POLICIES[:3])
    assert len(parse_policy_export((tmp_path / "e.csv").read_text())) == 3
    with pytest.raises(ApplicationError, match="lacks the columns"):
        parse_policy_export("policy_number,holder_name\nPOL-1,x\n")
