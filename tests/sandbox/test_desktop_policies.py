"""The desktop application's policy data: consistent with the portal's claims, readable
by a robot (copied record, export), and refused when malformed."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rpaml_sandbox.desktop.policies import (
    POLICY_FIELDS,
    PolicyDataError,
    export_csv,
    generate_policies,
    load_policies,
    record_as_tsv,
    save_policies,
)
from rpaml_sandbox.portal.display import display_values
from rpaml_sandbox.portal.generator import generate_claims

SEED = 5


def test_every_shown_valid_policy_number_resolves_with_the_claims_values() -> None:
    claims = generate_claims(SEED, open_claims=80, closed_claims=400, late_arrivals=3)
    policies = {p.policy_number: p for p in generate_policies(SEED, 80, 400, 3)}
    misses = 0
    for claim in claims:
        shown = display_values(claim, SEED).policy_number
        policy = policies.get(shown)
        if shown != claim.policy_number:
            assert policy is None, f"corrupted number {shown} must not exist"
            misses += 1
            continue
        assert policy is not None
        if policy.holder_name == claim.claimant_name:  # not a shared policy number
            assert policy.start_date == claim.policy_start_date.isoformat()
            assert policy.holder_age == str(claim.claimant_age)
            assert policy.prior_claims == str(claim.prior_claims)
            assert policy.product == claim.category
    assert misses > 0, "the data has corrupted policy numbers to quarantine"


def test_generation_is_deterministic_and_missed_payments_carry_signal() -> None:
    first = generate_policies(SEED, 50, 1500)
    assert first == generate_policies(SEED, 50, 1500)
    claims = generate_claims(SEED, 50, 1500)
    by_number = {p.policy_number: p for p in first}
    fraud = [int(by_number[c.policy_number].missed_payments) for c in claims if c.is_fraud]
    honest = [int(by_number[c.policy_number].missed_payments) for c in claims if not c.is_fraud]
    assert sum(fraud) / len(fraud) > 2 * sum(honest) / len(honest)
    assert {p.risk_segment for p in first} <= {"A", "B", "C", "D"}


def test_data_file_round_trip_and_malformed_files(tmp_path: Path) -> None:
    policies = generate_policies(SEED, 10, 10)
    path = tmp_path / "policies.json"
    save_policies(path, policies)
    assert list(load_policies(path).values()) == sorted(policies, key=lambda p: p.policy_number)
    with pytest.raises(PolicyDataError, match="cannot read"):
        load_policies(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "x"}))
    with pytest.raises(PolicyDataError, match="not a policy data file"):
        load_policies(tmp_path / "other.json")


def test_copied_record_names_the_search_and_the_result() -> None:
    policy = generate_policies(SEED, 3, 0)[0]
    found = record_as_tsv(policy.policy_number, policy).splitlines()
    assert found[0].split("\t") == ["search_term", "result", *POLICY_FIELDS]
    assert found[1].split("\t")[:3] == [policy.policy_number, "found", policy.policy_number]
    missing = record_as_tsv("POL-12A456", None).splitlines()
    assert missing == ["search_term\tresult", "POL-12A456\tnot found"]


def test_export_writes_every_policy_as_csv(tmp_path: Path) -> None:
    policies = generate_policies(SEED, 20, 20)
    target = tmp_path / "out" / "export.csv"
    assert export_csv(target, policies) == len(policies)
    with target.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [p.as_dict() for p in policies]


def test_generate_command_writes_the_data_file(tmp_path: Path) -> None:
    out = tmp_path / "policies.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rpaml_sandbox.desktop",
            "generate",
            "--out",
            str(out),
            "--seed",
            str(SEED),
            "--open-claims",
            "10",
            "--closed-claims",
            "5",
            "--late-arrivals",
            "2",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(load_policies(out)) == len(generate_policies(SEED, 10, 5, 2))
    refused = subprocess.run(
        [sys.executable, "-m", "rpaml_sandbox.desktop", "run", "--data", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2 and "cannot read policy data" in refused.stderr
