"""``python -m opennsg``: the same command as ``opennsg``."""

from opennsg.cli.main import app

app(prog_name="opennsg")
