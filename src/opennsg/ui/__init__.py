"""The web UI: topology, rules, verify, reachability, diff and flow logs, served by ``opennsg serve`` at ``/ui/``
and, read-only over files, by ``opennsg ui PATH...``.

Pages are rendered on the server (Jinja2) with hand-written CSS and JS shipped in this package, so the UI installs
with pip alone; see docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from opennsg.ui.routes import mount
from opennsg.ui.source import FileSource, StoreSource
from opennsg.ui.viewer import create_file_app

__all__ = ["FileSource", "StoreSource", "create_file_app", "mount"]
