"""run.py refuses bad configuration with one clear line and never echoes key material."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("LOANBOT_", "DATABASE_"))
    }
    environment.update(LOANBOT_DATA_DIR=str(data_dir), **env)
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_malformed_master_keys_refuse_to_start_without_echoing_them(tmp_path: Path) -> None:
    secret_looking = "c2VjcmV0LWJ1dC10b28tc2hvcnQ="
    result = run(tmp_path / "data", "keys", "rotate", LOANBOT_MASTER_KEYS=f"k1:{secret_looking}")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in result.stderr
    assert secret_looking not in result.stdout + result.stderr


def test_bad_timezone_is_a_clear_error(tmp_path: Path) -> None:
    result = run(tmp_path / "data", "migrate", LOANBOT_TIMEZONE="Mars/Olympus")
    assert result.returncode == 2
    assert "LOANBOT_TIMEZONE" in result.stderr and "Traceback" not in result.stderr


def test_generated_key_is_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = run(data_dir, "keys", "rotate")
    assert first.returncode == 0, first.stderr
    key_file = data_dir / "master.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    content = key_file.read_bytes()
    second = run(data_dir, "keys", "rotate")
    assert second.returncode == 0
    assert key_file.read_bytes() == content
    assert "NO MASTER KEY CONFIGURED" in second.stderr
    assert content.decode().split(":", 1)[-1].strip() not in second.stderr
