"""Where the shared real-world Azure material is (read in place, never copied into the repository).

``$OPENNSG_REALWORLD`` if set, else ``shared/realworld`` beside the repository (the layout of the workplace);
tests that need it skip with a clear reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REALWORLD = Path(os.environ.get("OPENNSG_REALWORLD") or Path(__file__).resolve().parents[2] / "shared" / "realworld")

needs_realworld = pytest.mark.skipif(
    not REALWORLD.is_dir(), reason=f"the shared real-world Azure material is not at {REALWORLD} (set OPENNSG_REALWORLD)"
)
