"""The Terraform edge: ``.tf`` modules, plan and state JSON in (the same model ``Topology`` ARM input gives).

``opennsg.arm.load_paths`` routes Terraform inputs here (by extension and content), so every command reads them
mixed freely with ARM files. ``load_plan(path)`` gives a plan's (prior, planned) topologies for ``diff --plan``;
``export_module(topology, directory)`` writes an equivalent azurerm module.
"""

from typing import TYPE_CHECKING, Any

from opennsg.terraform.detect import PLACEHOLDER_SUBSCRIPTION, is_terraform_document, terraform_files

if TYPE_CHECKING:
    from opennsg.terraform.reader import TerraformInputs, load_plan, read_terraform

_READER = ("TerraformInputs", "load_plan", "read_terraform")


def __getattr__(name: str) -> Any:
    """The reader (HCL parser, azurerm mapping: ~0.1 s of imports) loads on first use; ARM-only commands skip it."""
    if name in _READER:
        from opennsg.terraform import reader

        return getattr(reader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PLACEHOLDER_SUBSCRIPTION",
    "TerraformInputs",
    "is_terraform_document",
    "load_plan",
    "read_terraform",
    "terraform_files",
]
