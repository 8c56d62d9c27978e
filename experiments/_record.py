"""What every result file records about the code that made it."""

from __future__ import annotations

import json
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


def write(out: Path, configuration: dict, version: dict, key: str, result) -> None:
    """Write a result file: the configuration, the code version and the result under
    ``key``."""
    record = {"configuration": configuration, "code_version": version, key: result}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out}")
