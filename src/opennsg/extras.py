"""Optional dependencies: imported when a feature needs them, with the install line when they are missing."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.validation.codes import Code

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
                    Code.MISSING_OPTIONAL_DEPENDENCY,
                    f"{feature} needs the optional package '{module.split('.')[0]}': pip install 'opennsg[{extra}]'",
                )
            ]
        ) from None


class _RefusePandas:
    """An import finder that makes ``import pandas`` fail (it is installed, but this process does not want it)."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name == "pandas":
            raise ModuleNotFoundError("pandas is not used by this command", name="pandas")


def pyarrow_without_pandas() -> None:
    """Keep pyarrow from importing pandas, for a command that hands pyarrow no pandas object.

    pyarrow looks for pandas on its first array (0.4–0.9 CPU-s and ~45 MB when pandas is installed, as it often is
    beside pyspark) and remembers what it found: refused once, it works without it, and an explicit conversion
    (``to_pandas``) still imports pandas. Called by CLI commands only: a library caller's process is its own.
    """
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    sys.meta_path.insert(0, _RefusePandas)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(_RefusePandas)


@contextmanager
def pandas_refused() -> Iterator[None]:
    """``import pandas`` fails inside: for a command that hands pyarrow no pandas object and may not need pyarrow
    at all (a replay of compact files); if pyarrow looks for pandas meanwhile it is refused once and works without
    it, as with ``pyarrow_without_pandas``, but nothing is imported beforehand to make sure."""
    if "pandas" in sys.modules or _RefusePandas in sys.meta_path:
        yield
        return
    sys.meta_path.insert(0, _RefusePandas)
    try:
        yield
    finally:
        sys.meta_path.remove(_RefusePandas)


def refuse_pandas() -> None:
    """Make ``import pandas`` fail for the rest of this process: for a long-running command that never hands pyarrow
    a pandas object (``opennsg serve``), whose first compiled policy would otherwise import pandas through pyarrow
    (``pyarrow_without_pandas``) while a client waits for its verdict. Costs nothing until pyarrow is used."""
    if "pandas" not in sys.modules and _RefusePandas not in sys.meta_path:
        sys.meta_path.insert(0, _RefusePandas)
