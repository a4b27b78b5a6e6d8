"""The process file: the shipped one loads; broken ones say file, key and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pipeline_claims import PROCESS_FILE

from rpaml_pipeline.errors import ProcessFileError, RpamlPipelineError
from rpaml_pipeline.process import (
    ParseDateRule,
    ProcessDefinition,
    load_process,
    process_hash,
)


def _write(tmp_path: Path, data: object, name: str = "broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _raw() -> dict[str, object]:
    loaded = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_claims_triage_loads(process_def: ProcessDefinition) -> None:
    assert process_def.name == "claims_triage"
    assert process_def.contract.natural_key == ["claim_id"]
    assert process_def.contract.fields["amount"].type == "money"
    assert process_def.model.name == "claims_fraud"
    assert process_def.policy.actions == ["approve", "escalate", "reject"]
    assert process_def.policy.amount_field == "amount"
    assert process_def.policy.costs is not None
    assert process_def.policy.costs["approve"]["fraud"].per_unit == 1.0
    assert process_def.policy.costs["reject"]["legitimate"].fixed == 2500
    kinds = {c.kind for c in process_def.model.candidates}
    assert kinds == {"spline_logistic", "gradient_boosting"}
    assert process_def.labeling is not None
    assert process_def.labeling.labels == {"Fraud confirmed": 1, "Paid": 0}
    assert process_def.robots.collect == "collect_claims"
    date_rules = [r for r in process_def.cleaning if isinstance(r, ParseDateRule)]
    assert date_rules and "%d/%m/%Y" in date_rules[0].formats
    features = {f.name for f in process_def.transform.features}
    assert {"days_policy_active", "report_delay_days"} <= features


def test_process_hash_is_stable_and_sensitive(tmp_path: Path) -> None:
    first = load_process(PROCESS_FILE)
    assert process_hash(first) == process_hash(load_process(PROCESS_FILE))
    data = _raw()
    policy = data["policy"]
    assert isinstance(policy, dict)
    policy["costs"]["escalate"]["fraud"] = 151
    assert process_hash(load_process(_write(tmp_path, data))) != process_hash(first)


def test_a_second_process_is_just_a_file(tmp_path: Path) -> None:
    data = _raw()
    data["name"] = "motor_claims"
    data["description"] = "Same contract, different policy"
    data["policy"] = {
        "version": "motor-1",
        "actions": ["settle", "inspect", "refuse"],
        "thresholds": {"lower": 0.2, "upper": 0.8},
    }
    # Its outcomes mature by its own actions (the claims file's name `approve`).
    data["model"]["retrain"]["maturity"]["days"] = {"settle": 30}  # type: ignore[index]
    # A thresholds policy names no outcomes, so people's choices could not become labels:
    # this process acts on its inspections directly.
    del data["review"]
    definition = load_process(_write(tmp_path, data, "motor_claims.yaml"))
    assert definition.name == "motor_claims"
    assert definition.policy.thresholds is not None
    assert definition.review is None


def test_wrong_type_names_file_key_and_expectation(tmp_path: Path) -> None:
    data = _raw()
    data["contract"]["fields"]["amount"]["type"] = "mony"  # type: ignore[index]
    path = _write(tmp_path, data)
    with pytest.raises(ProcessFileError) as caught:
        load_process(path)
    message = str(caught.value)
    assert str(path) in message
    assert "contract.fields.amount.type" in message
    assert "'money'" in message and "'mony'" in message
    issue = caught.value.issues[0]
    assert issue.key == "contract.fields.amount.type"
    assert issue.line is not None
    assert isinstance(caught.value, RpamlPipelineError)


def test_unknown_key_is_reported(tmp_path: Path) -> None:
    data = _raw()
    data["contract"]["fields"]["claimant_age"]["maximum"] = 120  # type: ignore[index]
    with pytest.raises(ProcessFileError) as caught:
        load_process(_write(tmp_path, data))
    assert "contract.fields.claimant_age.maximum: unknown key" in str(caught.value)


def test_strict_types_are_reported(tmp_path: Path) -> None:
    data = _raw()
    data["contract"]["fields"]["claim_id"]["required"] = "yes"  # type: ignore[index]
    with pytest.raises(ProcessFileError) as caught:
        load_process(_write(tmp_path, data))
    assert "contract.fields.claim_id.required: expected a valid boolean" in str(caught.value)


def test_cleaning_rule_errors_point_at_the_rule(tmp_path: Path) -> None:
    data = _raw()
    cleaning = data["cleaning"]
    assert isinstance(cleaning, list)
    index = next(i for i, r in enumerate(cleaning) if r["rule"] == "parse_date")
    del cleaning[index]["formats"]
    cleaning.append({"rule": "frobnicate", "fields": ["amount"]})
    with pytest.raises(ProcessFileError) as caught:
        load_process(_write(tmp_path, data))
    keys = [issue.key for issue in caught.value.issues]
    assert f"cleaning.{index}.formats" in keys
    assert f"cleaning.{len(cleaning) - 1}" in keys
    assert "frobnicate" in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = _raw()
    data["policy"]["costs"]["escalate"]["fraud"] = "low"  # type: ignore[index]
    data["schedules"]["collect"] = "every 15 minutes"  # type: ignore[index]
    with pytest.raises(ProcessFileError) as caught:
        load_process(_write(tmp_path, data))
    keys = {issue.key for issue in caught.value.issues}
    assert {"policy.costs.escalate.fraud", "schedules.collect"} <= keys
    assert "cron expression" in str(caught.value)


def test_references_between_sections_are_checked(tmp_path: Path) -> None:
    data = _raw()
    data["model"]["features"].append({"name": "shoe_size", "kind": "numeric"})  # type: ignore[index]
    data["transform"]["features"][3]["start"] = "claimant_name"  # type: ignore[index]
    with pytest.raises(ProcessFileError) as caught:
        load_process(_write(tmp_path, data))
    message = str(caught.value)
    assert "transform.features.3.start: expected a date field" in message
    assert "'shoe_size' is not produced by transform.features" in message


def test_bad_yaml_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ncontract:\n  fields: [a, b\nmodel: {}\n", encoding="utf-8")
    with pytest.raises(ProcessFileError) as caught:
        load_process(path)
    message = str(caught.value)
    assert str(path) in message and "invalid YAML" in message
    assert caught.value.issues[0].line is not None


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ProcessFileError, match="cannot read"):
        load_process(tmp_path / "nope.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ProcessFileError, match="expected a mapping"):
        load_process(path)


def test_missing_section_is_named(tmp_path: Path) -> None:
    data = _raw()
    del data["policy"]
    with pytest.raises(ProcessFileError) as caught:
        load_process(_write(tmp_path, data))
    assert "policy: required key is missing" in str(caught.value)


def _policy_issues(tmp_path: Path, change: object) -> dict[str, str]:
    data = _raw()
    policy = data["policy"]
    assert isinstance(policy, dict)
    change(policy)  # type: ignore[operator]
    path = _write(tmp_path, data)
    with pytest.raises(ProcessFileError) as caught:
        load_process(path)
    assert str(path) in str(caught.value)
    return {issue.key: issue.message for issue in caught.value.issues}


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        (lambda p: p["costs"].pop("reject"), "policy.costs", "missing action 'reject'"),
        (
            lambda p: p["costs"]["escalate"].pop("legitimate"),
            "policy.costs.escalate",
            "missing outcome 'legitimate'",
        ),
        (
            lambda p: p["costs"]["reject"].update(legitimate=-2500),
            "policy.costs.reject.legitimate.fixed",
            "greater than or equal to 0",
        ),
        (
            lambda p: p["costs"]["escalate"].update(fraud="150"),
            "policy.costs.escalate.fraud",
            "expected a cost: a number >= 0",
        ),
        (
            lambda p: p.update(amount_field="amount_eur"),
            "policy.amount_field",
            "numeric model feature",
        ),
        (
            lambda p: p["costs"]["approve"].update(stolen=5),
            "policy.costs.approve.stolen",
            "not an outcome the model predicts",
        ),
        (
            lambda p: p["outcomes"].update(fraud=2),
            "policy.outcomes.fraud",
            "not one the model can predict",
        ),
        (
            lambda p: p["costs"].update(ignore={"fraud": 1, "legitimate": 1}),
            "policy.costs.ignore",
            "not an action of policy.actions",
        ),
    ],
)
def test_a_broken_cost_table_is_refused_naming_the_key(
    tmp_path: Path, change: object, key: str, expected: str
) -> None:
    issues = _policy_issues(tmp_path, change)
    assert key in issues, issues
    assert expected in issues[key]


@pytest.mark.parametrize(
    ("shadow", "expected"),
    [
        ({"enable": True}, "model.shadow.enable: unknown key"),
        ({"enabled": "yes"}, "model.shadow.enabled: expected a valid boolean"),
        (True, "model.shadow: "),
    ],
    ids=["misspelt key", "not a boolean", "not a mapping"],
)
def test_a_bad_shadow_key_is_refused_naming_it(
    tmp_path: Path, shadow: object, expected: str
) -> None:
    data = _raw()
    data["model"]["shadow"] = shadow  # type: ignore[index]
    with pytest.raises(ProcessFileError) as caught:
        load_process(_write(tmp_path, data))
    assert expected in str(caught.value)


def test_shadow_mode_is_off_unless_the_file_turns_it_on(tmp_path: Path) -> None:
    assert load_process(PROCESS_FILE).model.shadow.enabled is False
    data = _raw()
    data["model"]["shadow"] = {"enabled": True}  # type: ignore[index]
    assert load_process(_write(tmp_path, data)).model.shadow.enabled is True
