"""Telling Terraform inputs from ARM ones, cheaply (no HCL parser imported): used by the one input loader."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Subscription of ids Terraform cannot know (no ``--subscription``, no literal provider ``subscription_id``):
#: the same placeholder ARM templates get, so references between Terraform and template inputs agree.
PLACEHOLDER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


def placeholder_note() -> str:
    return (
        f"Terraform ids use the placeholder subscription {PLACEHOLDER_SUBSCRIPTION} (no --subscription, no literal "
        "subscription_id in the azurerm provider block); give --subscription ID for real ids."
    )


def _is_hcl(path: Path) -> bool:
    """A Terraform configuration file: ``.tf`` (and ``.tf.json``, which is reported as not supported)."""
    return path.is_file() and path.name.casefold().endswith((".tf", ".tf.json"))


def is_variables_file(path: Path) -> bool:
    """A ``.tfvars`` / ``.tfvars.json`` file given as a path: it applies to the modules as ``--var-file`` does."""
    return path.is_file() and path.name.casefold().endswith((".tfvars", ".tfvars.json"))


def terraform_files(path: Path) -> list[Path] | None:
    """The ``.tf`` files a path stands for (a ``.tf`` file, or a directory holding some), else None.

    A directory holding ``.tf`` files is one Terraform module: its JSON files are not read unless named as their
    own path (CI directories often hold a module and its ``plan.json``)."""
    if _is_hcl(path):
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if _is_hcl(p))
        return files or None
    return None


def is_terraform_document(data: Any) -> bool:
    """``terraform show -json`` output (plan or state, ``format_version`` 1.x) or a raw ``.tfstate`` (version 4)."""
    if not isinstance(data, Mapping):
        return False
    version = data.get("format_version")
    if isinstance(version, str) and any(
        key in data for key in ("planned_values", "resource_changes", "prior_state", "values", "terraform_version")
    ):
        return True
    return (
        isinstance(data.get("version"), int) and "terraform_version" in data and isinstance(data.get("resources"), list)
    )


__all__ = [
    "PLACEHOLDER_SUBSCRIPTION",
    "is_terraform_document",
    "is_variables_file",
    "placeholder_note",
    "terraform_files",
]
