"""Load a process file: YAML -> :class:`ProcessDefinition`, with errors a person can fix.

Every problem is reported as ``<file>: line N: <dotted.key.path>: <what was expected>``;
YAML syntax errors carry the line and column of the parser's complaint, validation errors
the line of the offending key (found by composing the YAML node tree).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from rpaml_pipeline.canonical import sha256_hex
from rpaml_pipeline.errors import ProcessFileError, ProcessIssue
from rpaml_pipeline.process.decision_spec import policy_issues
from rpaml_pipeline.process.definition import (
    DaysBetween,
    ParseBoolRule,
    ParseDateRule,
    ParseIntRule,
    ParseMoneyRule,
    ParseNumberRule,
    ProcessDefinition,
)

# The discriminator keys of tagged unions: pydantic puts the tag value into the error
# location (``cleaning.3.parse_date.formats``), which is not a key a user wrote.
_TAG_KEYS = ("rule", "op", "kind")


def load_process(path: Path | str) -> ProcessDefinition:
    """Read, validate and cross-check the process file at ``path``.

    Raises :class:`ProcessFileError` naming the file, each key path and what was expected.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProcessFileError(path, [ProcessIssue("", f"cannot read the file ({exc})")]) from exc
    return parse_process(text, path)


def parse_process(text: str, path: Path | str = "<string>") -> ProcessDefinition:
    """Validate process YAML ``text``; ``path`` is only used in error messages."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ProcessFileError(path, [_yaml_issue(exc)]) from exc
    if not isinstance(data, dict):
        found = type(data).__name__ if data is not None else "an empty file"
        issue = ProcessIssue("", f"expected a mapping of sections (name, contract...), got {found}")
        raise ProcessFileError(path, [issue])
    try:
        definition = ProcessDefinition.model_validate(data)
    except ValidationError as exc:
        issues = [_pydantic_issue(error, data, root) for error in exc.errors()]
        raise ProcessFileError(path, issues) from exc
    problems = reference_issues(definition)
    if problems:
        located = [
            ProcessIssue(p.key, p.message, _line_of(root, p.key.split("."))) for p in problems
        ]
        raise ProcessFileError(path, located)
    return definition


def process_hash(definition: ProcessDefinition) -> str:
    """SHA-256 of the canonical JSON of the whole definition (the configuration hash)."""
    return sha256_hex(definition.model_dump(mode="json"))


def reference_issues(definition: ProcessDefinition) -> list[ProcessIssue]:
    """Cross-section checks: every name one section uses must exist where it points."""
    issues: list[ProcessIssue] = []
    fields = definition.contract.fields
    for index, key in enumerate(definition.contract.natural_key):
        if key not in fields:
            issues.append(
                ProcessIssue(f"contract.natural_key.{index}", f"{key!r} is not a contract field")
            )
        elif not fields[key].required:
            issues.append(
                ProcessIssue(
                    f"contract.fields.{key}.required",
                    "expected true: a natural key field must be required",
                )
            )
    parse_types: dict[type, tuple[str, ...]] = {
        ParseMoneyRule: ("money", "number"),
        ParseDateRule: ("date",),
        ParseIntRule: ("integer",),
        ParseNumberRule: ("number", "money"),
        ParseBoolRule: ("boolean",),
    }
    for index, rule in enumerate(definition.cleaning):
        for position, name in enumerate(rule.fields):
            key = f"cleaning.{index}.fields.{position}"
            if name == "*":
                continue
            if name not in fields:
                issues.append(ProcessIssue(key, f"{name!r} is not a contract field"))
                continue
            expected = parse_types.get(type(rule))
            if expected is not None and fields[name].type not in expected:
                issues.append(
                    ProcessIssue(
                        key,
                        f"rule {rule.rule!r} parses {'/'.join(expected)} fields, "
                        f"but {name!r} is of type {fields[name].type!r}",
                    )
                )
    produced: set[str] = set()
    for index, derivation in enumerate(definition.transform.features):
        base = f"transform.features.{index}"
        if isinstance(derivation, DaysBetween):
            for side in ("start", "end"):
                name = getattr(derivation, side)
                if name not in fields:
                    issues.append(
                        ProcessIssue(f"{base}.{side}", f"{name!r} is not a contract field")
                    )
                elif fields[name].type != "date":
                    issues.append(
                        ProcessIssue(
                            f"{base}.{side}",
                            f"expected a date field, {name!r} is {fields[name].type!r}",
                        )
                    )
        elif derivation.source not in fields:
            issues.append(
                ProcessIssue(f"{base}.source", f"{derivation.source!r} is not a contract field")
            )
        if derivation.name in produced:
            issues.append(
                ProcessIssue(f"{base}.name", f"feature {derivation.name!r} is defined twice")
            )
        produced.add(derivation.name)
    if definition.labeling is not None and definition.labeling.field not in fields:
        issues.append(
            ProcessIssue("labeling.field", f"{definition.labeling.field!r} is not a contract field")
        )
    if definition.enrichment is not None:
        for index, name in enumerate(definition.enrichment.fields):
            if name not in fields:
                issues.append(
                    ProcessIssue(f"enrichment.fields.{index}", f"{name!r} is not a contract field")
                )
    for index, feature in enumerate(definition.model.features):
        if feature.name not in produced:
            issues.append(
                ProcessIssue(
                    f"model.features.{index}.name",
                    f"{feature.name!r} is not produced by transform.features "
                    f"(produced: {', '.join(sorted(produced))})",
                )
            )
    labels = set(definition.labeling.labels.values()) if definition.labeling else None
    numeric = {f.name for f in definition.model.features if f.kind == "numeric"}
    issues.extend(policy_issues(definition.policy, labels, numeric))
    issues.extend(_maturity_issues(definition, fields))
    return issues


def _maturity_issues(
    definition: ProcessDefinition, fields: Mapping[str, Any]
) -> list[ProcessIssue]:
    """Label maturity names contract date fields and policy actions."""
    maturity = definition.model.retrain.maturity
    if maturity is None:
        return []
    issues: list[ProcessIssue] = []
    for key in ("entered_on", "observed_on"):
        name = getattr(maturity, key)
        kind = getattr(fields.get(name), "type", None)
        if kind != "date":
            issues.append(
                ProcessIssue(
                    f"model.retrain.maturity.{key}",
                    f"{name!r} is not a date field of the contract"
                    + ("" if kind is None else f" (it is {kind})"),
                )
            )
    for action, days in maturity.days.items():
        key = f"model.retrain.maturity.days.{action}"
        if action not in definition.policy.actions:
            issues.append(
                ProcessIssue(
                    key,
                    f"{action!r} is not an action of policy.actions "
                    f"({', '.join(definition.policy.actions)})",
                )
            )
        if days < 0:
            issues.append(ProcessIssue(key, f"expected a number of days >= 0 (got {days})"))
    return issues


def _yaml_issue(exc: yaml.YAMLError) -> ProcessIssue:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    if mark is not None:
        message += f" at column {mark.column + 1}"
        return ProcessIssue("", message, mark.line + 1)
    return ProcessIssue("", message)


def _pydantic_issue(error: ErrorDetails, data: Any, root: yaml.Node | None) -> ProcessIssue:
    parts = _user_path(error["loc"], data)
    key = ".".join(str(part) for part in parts)
    return ProcessIssue(key, _expectation(error), _line_of(root, [str(p) for p in parts]))


def _user_path(loc: Sequence[int | str], data: Any) -> list[int | str]:
    """Drop the parts of a pydantic location that are not keys the user wrote."""
    parts: list[int | str] = []
    node: Any = data
    for part in loc:
        if isinstance(node, Mapping):
            if part in node:
                parts.append(part)
                node = node[part]
                continue
            if any(node.get(tag) == part for tag in _TAG_KEYS):
                continue  # the union tag, not a key
            if isinstance(part, str) and ("[" in part or "-" in part):
                continue  # validator names such as "function-after[...]"
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            parts.append(part)
            node = node[part]
            continue
        if isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue
        parts.append(part)
        node = None
    return parts


def _expectation(error: ErrorDetails) -> str:
    kind = error["type"]
    message = error["msg"]
    given = error.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key (not part of the process file format; check the spelling)"
    if kind == "union_tag_invalid":
        return message.replace("Input tag", "rule/op").replace("found using", "in")
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if message.startswith("Input should be "):
        message = "expected " + message.removeprefix("Input should be ")
    elif message.startswith("String should "):
        message = "expected a string that should " + message.removeprefix("String should ")
    if given is not None and not isinstance(given, dict | list):
        message += f" (got {given!r})"
    return message


def _line_of(root: yaml.Node | None, parts: Sequence[str]) -> int | None:
    """1-based line of the deepest existing node along ``parts``."""
    node = root
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in parts:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                    child = value_node
                    line = key_node.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and part.isdigit():
            index = int(part)
            if index < len(node.value):
                child = node.value[index]
                line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line
