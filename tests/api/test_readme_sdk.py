"""The README's Azure SDK script, run exactly as written (from the README's own code block) against a real server
over TLS: a user who copies it gets the answers it shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.api.conftest import TOKEN, RunningServer

README = Path(__file__).resolve().parents[2] / "README.md"


def _sdk_script() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("Pointing the Azure SDK at it") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "the README lost its SDK script"
    return match.group(1)


def test_the_readme_sdk_script_runs_and_prints_what_it_says(
    tmp_path: Path, start_server: Callable[..., RunningServer]
) -> None:
    script = _sdk_script()
    server = start_server(str(tmp_path / "opennsg.db"))
    env = {**os.environ, "OPENNSG_TOKEN": TOKEN, "OPENNSG_URL": server.url, "OPENNSG_CERT": str(server.certificate)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    expected = [line.removeprefix("# ") for line in script.splitlines() if re.match(r"# \d+ (Allow|Deny) ", line)]
    assert done.stdout.splitlines() == expected
    assert expected == ["443 Allow securityRules/allow-https", "22 Deny defaultSecurityRules/DenyAllInBound"]
