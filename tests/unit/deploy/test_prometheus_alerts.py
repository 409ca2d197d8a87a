"""deploy/prometheus/alerts.yml: well-formed rules, each with a runbook section, over metrics
the code really exports."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.support.deploy_files import DEPLOY, PRODUCT_PACKAGES, REPO

ALERTS = DEPLOY / "prometheus" / "alerts.yml"
RUNBOOK = REPO / "docs" / "operations.md"
#: Series Prometheus itself provides.
BUILTIN = {"up"}
_METRIC = re.compile(r"\b(journeys_[a-z0-9_]+|up)\b(?=\s*[{\[)=<>!]|\s*$)")
_SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


RULES = _rules()
IDS = [rule.get("alert", "?") for rule in RULES]


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _runbook_anchors() -> set[str]:
    return {
        _anchor(line.lstrip("#"))
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("#")
    }


def test_rule_groups_parse_and_names_are_unique() -> None:
    document = yaml.safe_load(ALERTS.read_text())
    assert [group["name"] for group in document["groups"]]
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_rule_has_expr_for_severity_and_annotations(rule: dict[str, Any]) -> None:
    assert rule["alert"].startswith("Journeys")
    assert isinstance(rule["expr"], str)
    assert rule["expr"].strip()
    assert re.fullmatch(r"\d+[smhd]", rule["for"])
    assert rule["labels"]["severity"] in {"critical", "warning"}
    annotations = rule["annotations"]
    assert annotations["summary"]
    assert annotations["description"]
    assert annotations["runbook"].startswith("docs/operations.md#")


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_expression_brackets_balance(rule: dict[str, Any]) -> None:
    stack: list[str] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    in_string = False
    for char in rule["expr"]:
        if char == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif char in "([{":
            stack.append(char)
        elif char in pairs:
            assert stack, rule["expr"]
            assert stack.pop() == pairs[char], rule["expr"]
    assert not stack
    assert not in_string


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_runbook_section_exists(rule: dict[str, Any]) -> None:
    anchor = rule["annotations"]["runbook"].split("#", 1)[1]
    assert anchor == rule["alert"].lower()
    assert anchor in _runbook_anchors(), f"docs/operations.md has no heading {rule['alert']}"


def _metric_names(expr: str) -> set[str]:
    names = set()
    for name in _METRIC.findall(expr):
        for suffix in _SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        names.add(name)
    return names


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_alerts_use_metrics_the_code_exports(rule: dict[str, Any]) -> None:
    source = "\n".join(
        path.read_text() for package in PRODUCT_PACKAGES for path in (REPO / package).rglob("*.py")
    )
    missing = [
        name
        for name in _metric_names(rule["expr"])
        if name not in BUILTIN and f'"{name}' not in source
    ]
    assert missing == [], f"{rule['alert']} uses metrics no code defines"


def test_scrape_jobs_named_in_alerts_exist() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    used = set(re.findall(r'\bjob="([^"]+)"', ALERTS.read_text()))
    assert used
    assert used <= jobs
    assert "/etc/prometheus/alerts.yml" in config["rule_files"]
