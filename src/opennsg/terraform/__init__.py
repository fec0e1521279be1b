"""The Terraform edge: ``.tf`` modules, plan and state JSON in (the same model ``Topology`` ARM input gives).

``opennsg.arm.load_paths`` routes Terraform inputs here (by extension and content), so every command reads them
mixed freely with ARM files. ``load_plan(path)`` gives a plan's (prior, planned) topologies for ``diff --plan``;
``export_module(topology, directory)`` writes an equivalent azurerm module.
"""

from opennsg.terraform.detect import PLACEHOLDER_SUBSCRIPTION, is_terraform_document, terraform_files
from opennsg.terraform.reader import TerraformInputs, load_plan, read_terraform

__all__ = [
    "PLACEHOLDER_SUBSCRIPTION",
    "TerraformInputs",
    "is_terraform_document",
    "load_plan",
    "read_terraform",
    "terraform_files",
]
