"""Master keys: parsing LOANBOT_MASTER_KEYS, the generated development key file, key ids."""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

import pytest

from settings import Secret, Settings
from storage.keyring import (
    Keyring,
    KeyringError,
    MasterKey,
    UnknownKeyError,
    generate_key_entry,
    load_keyring,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
B64_A = base64.b64encode(KEY_A).decode()
B64_B = base64.b64encode(KEY_B).decode()


def settings_for(data_dir: Path, master_keys: str | None = None) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'loanbot.db'}",
        master_keys=Secret(master_keys) if master_keys is not None else None,
    )


def test_parse_reads_every_key_and_the_first_is_primary() -> None:
    keyring = Keyring.parse(f"k2:{B64_B}, k1:{B64_A}")
    assert keyring.primary == MasterKey("k2", KEY_B)
    assert keyring.ids == ("k2", "k1")
    assert keyring.get("k1").key == KEY_A


def test_parse_accepts_url_safe_base64_without_padding() -> None:
    url_safe = base64.urlsafe_b64encode(KEY_B).decode().rstrip("=")
    assert Keyring.parse(f"k1:{url_safe}").primary.key == KEY_B


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "names no key"),
        (" , ", "names no key"),
        (B64_A, "entry 1 is malformed"),
        (f"k1:{B64_A},{B64_B}", "entry 2 is malformed"),
        ("k1:", "entry 1 is malformed"),
        (f":{B64_A}", "entry 1 is malformed"),
        (f"bad id:{B64_A}", "invalid key id"),
        (f"k1:{B64_A[:-4]}!!!!", "not valid base64"),
        (f"k1:{base64.b64encode(KEY_A[:16]).decode()}", "must decode to 32 bytes, got 16"),
        (f"k1:{B64_A},k1:{B64_B}", "'k1' appears twice"),
    ],
)
def test_parse_refuses_malformed_keys_without_echoing_them(spec: str, message: str) -> None:
    with pytest.raises(KeyringError, match=message) as raised:
        Keyring.parse(spec)
    text = str(raised.value)
    for secret in (B64_A, B64_B, B64_A[:-4], base64.b64encode(KEY_A[:16]).decode()):
        assert secret not in text


def test_an_unknown_key_id_is_a_keyring_error_naming_it() -> None:
    keyring = Keyring.parse(f"k1:{B64_A}")
    with pytest.raises(UnknownKeyError, match="master key 'k9' is not configured"):
        keyring.get("k9")
    assert issubclass(UnknownKeyError, KeyringError)


def test_key_bytes_never_appear_in_reprs() -> None:
    keyring = Keyring.parse(f"k1:{B64_A}")
    for text in (repr(keyring), repr(keyring.primary), str(keyring.primary)):
        assert B64_A not in text and repr(KEY_A) not in text
    assert "k1" in repr(keyring)


def test_generated_entries_parse_and_differ() -> None:
    first, second = generate_key_entry(), generate_key_entry()
    assert first != second
    keyring = Keyring.parse(f"{first},{second}")
    assert keyring.primary.key_id.startswith("k") and len(keyring.primary.key) == 32


def test_load_keyring_uses_the_environment_when_set(data_dir: Path) -> None:
    keyring = load_keyring(settings_for(data_dir, f"prod1:{B64_A}"))
    assert keyring.primary == MasterKey("prod1", KEY_A)
    assert not (data_dir / "master.key").exists()


def test_a_malformed_environment_stops_start_up(data_dir: Path) -> None:
    with pytest.raises(KeyringError, match="LOANBOT_MASTER_KEYS entry 1 is malformed"):
        load_keyring(settings_for(data_dir, "garbage"))
    assert not (data_dir / "master.key").exists()


def test_without_keys_a_dev_key_file_is_created_once_and_reused_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "not-yet-created"
    caplog.set_level(logging.WARNING, logger="storage.keyring")

    first = load_keyring(settings_for(data_dir))
    key_file = data_dir / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [name for name in os.listdir(data_dir) if name != "master.key"] == []
    second = load_keyring(settings_for(data_dir))

    assert second.primary == first.primary
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    for record in warnings:
        message = record.getMessage()
        assert "LOANBOT_MASTER_KEYS" in message and str(key_file) in message
        assert base64.b64encode(first.primary.key).decode() not in message


def test_a_key_file_others_can_read_is_refused(data_dir: Path) -> None:
    load_keyring(settings_for(data_dir))
    (data_dir / "master.key").chmod(0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        load_keyring(settings_for(data_dir))


def test_a_corrupt_key_file_is_refused_without_echoing_it(data_dir: Path) -> None:
    key_file = data_dir / "master.key"
    key_file.write_text("dev1:c2hvcnQ=\n")
    key_file.chmod(0o600)
    with pytest.raises(KeyringError, match="corrupt") as raised:
        load_keyring(settings_for(data_dir))
    assert "c2hvcnQ" not in str(raised.value)
