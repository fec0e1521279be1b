"""Lint findings as SARIF 2.1.0, the format code-scanning services read (GitHub, Azure DevOps, GitLab).

Each result points at the rule (or NSG) in the input file: the artifact URI is relative to the working
directory (forward slashes) and ``region.startLine`` is the line where the resource's JSON object begins.
Findings that name no written resource (e.g. a NIC without NSGs) carry a logical location only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opennsg import __version__
from opennsg.analysis.lint import RULES, Finding
from opennsg.analysis.locate import Locator

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"


def _uri(path: Path, base: Path) -> str:
    try:
        relative = os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive (Windows)
        return path.resolve().as_uri()
    return Path(relative).as_posix()


def to_sarif(findings: Sequence[Finding], locator: Locator, base: Path | None = None) -> dict[str, Any]:
    """One SARIF log with one run of OpenNSG's lint."""
    base = base or Path.cwd()
    rule_ids = list(RULES)
    results: list[dict[str, Any]] = []
    artifacts: dict[str, int] = {}
    for finding in findings:
        result: dict[str, Any] = {
            "ruleId": finding.rule_id,
            "ruleIndex": rule_ids.index(finding.rule_id),
            "level": finding.level,
            "message": {"text": finding.message},
            "locations": [],
            "properties": {"resource": finding.resource, "nics": list(finding.nics)},
        }
        where = locator.find(finding.resource)
        location: dict[str, Any] = {
            "logicalLocations": [{"fullyQualifiedName": finding.resource, "kind": "resource"}],
        }
        if where is not None:
            uri = _uri(where.path, base)
            index = artifacts.setdefault(uri, len(artifacts))
            location["physicalLocation"] = {
                "artifactLocation": {"uri": uri, "index": index},
                "region": {"startLine": where.line},
            }
        result["locations"].append(location)
        related = []
        for i, other in enumerate(finding.related_resources):
            at = locator.find(other)
            item: dict[str, Any] = {"id": i, "message": {"text": other}}
            if at is not None:
                item["physicalLocation"] = {
                    "artifactLocation": {"uri": _uri(at.path, base)},
                    "region": {"startLine": at.line},
                }
            related.append(item)
        if related:
            result["relatedLocations"] = related
        if finding.witness is not None:
            result["properties"]["witness"] = finding.witness.to_json()
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "OpenNSG",
                        "version": __version__,
                        "rules": [
                            {
                                "id": rule.id,
                                "name": "".join(part.capitalize() for part in rule.id.split("-")),
                                "shortDescription": {"text": rule.title},
                                "fullDescription": {"text": rule.help},
                                "defaultConfiguration": {"level": rule.level},
                            }
                            for rule in RULES.values()
                        ],
                    }
                },
                "artifacts": [{"location": {"uri": uri}} for uri in artifacts],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
