"""Optional dependencies: imported when a feature needs them, with the install line when they are missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from opennsg.model.errors import ArmError, OpenNsgError

#: What each extra of pyproject.toml enables (the README lists the same).
EXTRAS = {
    "fast": "the numba-compiled batch classifier",
    "plot": "flow-log charts (flowlogs stats --png)",
    "spark": "replay and batch verification on Spark (--engine spark)",
}


def require(module: str, extra: str, feature: str) -> ModuleType:
    """``module`` imported, or an ``OpenNsgError`` (exit 2 in the CLI) saying which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise OpenNsgError(
            [
                ArmError(
                    "MissingOptionalDependency",
                    f"{feature} needs the optional package '{module.split('.')[0]}': pip install 'opennsg[{extra}]'",
                )
            ]
        ) from None
