"""What every result file records about the code that made it."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def code_version() -> dict:
    """The git commit of the tree and whether its tracked files had changes (call it
    before the run: the tree may change while a long run goes on)."""

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "changed": bool(git("status", "--short", "--untracked-files=no")),
    }
