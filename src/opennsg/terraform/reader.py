"""Terraform inputs -> model resources with their origins, handed to the one input loader (``opennsg.arm``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opennsg.arm.loader import ExternalInput, load_external, read_json
from opennsg.model.codes import Code
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.servicetags import ServiceTags
from opennsg.model.topology import Topology
from opennsg.terraform import azurerm
from opennsg.terraform.detect import PLACEHOLDER_SUBSCRIPTION, is_terraform_document
from opennsg.terraform.module import Inputs, Instance, evaluate_root
from opennsg.terraform.origin import TfOrigin
from opennsg.terraform.plan import PlanReader, is_plan


@dataclass(frozen=True)
class TerraformInputs:
    """The deployment context of Terraform inputs: ``--subscription``, ``--var NAME=VALUE``, ``--var-file``."""

    subscription: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    var_files: tuple[Path, ...] = ()


def _title(instance: Instance) -> str:
    _resource_type, _, rest = instance.address.rpartition(instance.type + ".")
    name = rest.split("[", 1)[0]
    title = f"resource {json.dumps(instance.type)} {json.dumps(name)}"
    return title if instance.address == f"{instance.type}.{name}" else f"{title} ({instance.address})"


def _collect(sources: list[azurerm.Source], problems: list[ArmError], external: ExternalInput) -> None:
    built = azurerm.build([s for s in sources if s.type in azurerm.SUPPORTED_TYPES])
    for issue in built.issues:
        origin = issue.origin
        problems.append(ArmError(issue.code, f"{origin.where}: {origin.title}: {issue.message}", origin.where))
    external.resources.extend(built.resources)
    external.children.extend(built.children)
    external.rule_origins.update(built.rule_origins)
    external.deployment_statuses.extend(built.deployment_statuses)


def read_module(directory: Path, files: Sequence[Path], inputs: TerraformInputs, external: ExternalInput) -> str:
    """Evaluate one root module into ``external``; returns the subscription its ids use."""
    given = Inputs(inputs.variables, inputs.var_files, inputs.subscription)
    instances, problems, subscription = evaluate_root(directory, files, given, PLACEHOLDER_SUBSCRIPTION)
    for problem in problems:
        external.problems.append(ArmError(problem.code, problem.text, problem.where))
    sources = [azurerm.Source(i.type, i.address, i.values, TfOrigin(i.file, i.line, _title(i))) for i in instances]
    _collect(sources, external.problems, external)
    return subscription


def _text(label: str) -> str:
    try:
        return Path(label).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return ""


def read_document(label: str, data: Any, inputs: TerraformInputs, which: str, external: ExternalInput) -> str:
    """One plan or state document into ``external`` (``which``: ``planned`` or ``prior``)."""
    version = data.get("format_version") if isinstance(data, Mapping) else None
    if isinstance(version, str) and not version.startswith("1."):
        message = f"{label}: format_version {version} is not supported (Terraform's JSON output format 1.x is)."
        external.problems.append(ArmError(Code.TERRAFORM_INVALID_PLAN, message, label))
        return PLACEHOLDER_SUBSCRIPTION
    directory = Path(label).parent if Path(label).is_file() else None
    reader = PlanReader(data, label, _text(label), inputs.subscription, PLACEHOLDER_SUBSCRIPTION, directory=directory)
    sources, subscription = reader.read(which)
    _collect(sources, external.problems, external)
    return subscription


def read_terraform(
    modules: Sequence[tuple[Path, Sequence[Path]]],
    documents: Sequence[tuple[str, Any]],
    inputs: TerraformInputs | None = None,
) -> ExternalInput:
    """Every Terraform input of one load: root modules (directory, ``.tf`` files) and plan/state documents."""
    given = inputs or TerraformInputs()
    external = ExternalInput()
    for directory, files in modules:
        external.subscriptions.add(read_module(directory, files, given, external))
    for label, data in documents:
        external.subscriptions.add(read_document(label, data, given, "planned", external))
    return external


def load_plan(
    path: str | Path, subscription: str | None = None, service_tags: ServiceTags | None = None
) -> tuple[Topology, Topology]:
    """A plan's (prior, planned) topologies, each validated as ``validate`` would; every problem of both at once."""
    label = str(path)
    problems: list[ArmError] = []
    data = read_json(Path(path), problems)
    if data is not None and not (is_terraform_document(data) and is_plan(data)):
        message = f"{label} is not a Terraform plan (terraform show -json PLANFILE: planned_values, resource_changes)."
        problems.append(ArmError(Code.TERRAFORM_INVALID_PLAN, message, label))
    if problems:
        raise OpenNsgError(problems)
    inputs = TerraformInputs(subscription=subscription)
    results: list[Topology] = []
    for which in ("prior", "planned"):
        external = ExternalInput()
        read_document(label, data, inputs, which, external)
        try:
            results.append(load_external(external, service_tags))
        except OpenNsgError as exc:
            problems.extend(exc.errors)
    if problems:
        raise OpenNsgError(problems)
    prior, planned = results
    return prior, planned


__all__ = ["TerraformInputs", "load_plan", "read_terraform"]
