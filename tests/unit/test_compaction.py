"""Compaction, pure parts and sealing: what a compacted window keeps, how a compaction item
reaches the provider, and blobs that are opaque, tamper-proof and rotatable."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tether.config import load_settings
from tether.core.compaction import (
    SUMMARY_PREFIX,
    compaction_item,
    estimated_tokens,
    kept_items,
    transcript,
)
from tether.core.history import expand_compactions
from tether.core.items import Item, function_call, normalize_input, output_message
from tether.errors import ConfigError, InvalidRequest
from tether.sealing import KEY_FILE_SUFFIX, Sealer, decode_key, load_sealer, new_key_text

PURPOSE = b"test"


def conversation() -> list[Item]:
    return [
        *normalize_input("We launch on Tuesday."),
        output_message("msg_a", "Noted: Tuesday."),
        function_call("fc_1", "call_1", "calendar", '{"day": "tue"}'),
        *normalize_input([{"type": "function_call_output", "call_id": "call_1", "output": "ok"}]),
        *normalize_input([{"role": "developer", "content": "Be brief."}]),
        *normalize_input("Notify support first."),
    ]


def test_a_compacted_window_keeps_every_user_message_in_order() -> None:
    kept = kept_items(conversation())

    assert [item["content"][0]["text"] for item in kept] == [
        "We launch on Tuesday.",
        "Notify support first.",
    ]


def test_the_transcript_shows_every_item_to_the_summarizing_model() -> None:
    text = transcript(conversation(), "Answer in French.")

    assert text.splitlines()[0] == "system: Answer in French."
    for part in ("user: We launch", "assistant: Noted", "calendar(", "tool result [call_1]: ok"):
        assert part in text
    assert estimated_tokens(conversation()) == len(transcript(conversation(), None)) // 4


def opener(blob: str) -> str | None:
    return {"good": "They agreed on Tuesday."}.get(blob)


def test_a_compaction_item_reaches_the_provider_as_its_summary() -> None:
    history = [*normalize_input("hi"), compaction_item("cmp_1", "good"), *normalize_input("go")]

    expanded = expand_compactions(history, opener, 0)

    assert [item["type"] for item in expanded] == ["message"] * 3
    summary = expanded[1]
    assert summary["role"] == "developer"
    assert summary["content"][0]["text"] == SUMMARY_PREFIX + "They agreed on Tuesday."
    assert history[1] == compaction_item("cmp_1", "good")  # what is stored stays as sent


def test_a_blob_that_does_not_open_names_the_input_item() -> None:
    chain = normalize_input("earlier")
    history = [*chain, *normalize_input("hi"), compaction_item("cmp_1", "forged")]

    with pytest.raises(InvalidRequest) as caught:
        expand_compactions(history, opener, len(chain))

    assert caught.value.param == "input[1].encrypted_content"
    assert caught.value.code == "invalid_encrypted_content"


def test_a_stored_blob_that_no_longer_opens_names_the_chain() -> None:
    history = [compaction_item("cmp_1", "rotated-away"), *normalize_input("hi")]

    with pytest.raises(InvalidRequest) as caught:
        expand_compactions(history, opener, 1)

    assert caught.value.param == "previous_response_id"


def key() -> bytes:
    return decode_key(new_key_text())


def test_a_sealed_blob_opens_and_hides_its_plaintext() -> None:
    sealer = Sealer([key()])

    blob = sealer.seal(b"the launch is on Tuesday", PURPOSE)

    assert sealer.open(blob, PURPOSE) == b"the launch is on Tuesday"
    assert b"Tuesday" not in base64.urlsafe_b64decode(blob)
    assert sealer.seal(b"same", PURPOSE) != sealer.seal(b"same", PURPOSE)  # fresh nonces


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_any_flipped_byte_is_refused(position: int) -> None:
    sealer = Sealer([key()])
    raw = bytearray(base64.urlsafe_b64decode(sealer.seal(b"summary", PURPOSE)))

    raw[position] ^= 0x01

    assert sealer.open(base64.urlsafe_b64encode(bytes(raw)).decode(), PURPOSE) is None


@pytest.mark.parametrize("blob", ["", "not base64 at all!", "AAAA", "é"])
def test_garbage_is_refused_not_raised(blob: str) -> None:
    assert Sealer([key()]).open(blob, PURPOSE) is None


def test_a_blob_made_for_another_purpose_is_refused() -> None:
    sealer = Sealer([key()])

    assert sealer.open(sealer.seal(b"x", b"other"), PURPOSE) is None


def test_rotation_seals_with_the_first_key_and_opens_with_any() -> None:
    old, new = key(), key()
    before = Sealer([old]).seal(b"old summary", PURPOSE)
    rotated = Sealer([new, old])

    after = rotated.seal(b"new summary", PURPOSE)

    assert rotated.open(before, PURPOSE) == b"old summary"
    assert Sealer([new]).open(after, PURPOSE) == b"new summary"
    assert Sealer([old]).open(after, PURPOSE) is None


@pytest.mark.parametrize("text", ["c2hvcnQ=", "not base64!", "", "é" * 44])
def test_a_key_must_be_32_bytes_of_base64(text: str) -> None:
    with pytest.raises(ValueError, match="openssl rand -base64 32"):
        decode_key(text)


def test_a_key_may_be_base64url() -> None:
    urlsafe = base64.urlsafe_b64encode(bytes([0xFB]) * 32).decode()

    assert decode_key(urlsafe) == bytes([0xFB]) * 32


def test_a_corrupt_key_file_stops_start_up_naming_it(tmp_path: Path) -> None:
    (tmp_path / f"tether.db{KEY_FILE_SUFFIX}").write_text("garbage\n")

    with pytest.raises(ConfigError) as caught:
        load_sealer([], f"sqlite:///{tmp_path}/tether.db")

    assert caught.value.key == f"{tmp_path}/tether.db{KEY_FILE_SUFFIX}"


def test_the_embedded_default_keeps_its_key_beside_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/tether.db"
    first = load_sealer([], url)
    assert first is not None
    blob = first.seal(b"kept", PURPOSE)

    again = load_sealer([], url)  # a restart

    assert again is not None
    assert again.open(blob, PURPOSE) == b"kept"
    key_file = tmp_path / f"tether.db{KEY_FILE_SUFFIX}"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [key_file.name]  # no drafts left


def test_a_shared_database_needs_a_configured_key() -> None:
    assert load_sealer([], "postgresql://db/tether") is None
    memory = load_sealer([], "sqlite:///:memory:")
    assert memory is not None


def config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "tether.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_keys_and_the_prompt_come_from_the_config_file(tmp_path: Path) -> None:
    first, second = new_key_text(), new_key_text()
    path = config_file(
        tmp_path,
        "model_list:\n"
        "  - model_name: echo\n"
        "    litellm_params: {model: echo/echo, compaction_prompt: Summarize tersely.}\n"
        "general_settings:\n"
        f"  encryption_keys: [{first}, os.environ/OLD_KEY]\n",
    )

    settings = load_settings(path, {"OLD_KEY": second})

    assert [key.get_secret_value() for key in settings.encryption_keys] == [first, second]
    assert settings.models[0].compaction_prompt == "Summarize tersely."
    assert first not in repr(settings)


def test_keys_come_from_the_environment_comma_separated() -> None:
    first, second = new_key_text(), new_key_text()

    settings = load_settings(None, {"TETHER_ENCRYPTION_KEYS": f"{first}, {second}"})

    assert [key.get_secret_value() for key in settings.encryption_keys] == [first, second]
    assert settings.models[0].compaction_prompt is None


def test_a_bad_key_stops_start_up_naming_its_place(tmp_path: Path) -> None:
    path = config_file(
        tmp_path, f"general_settings:\n  encryption_keys: [{new_key_text()}, hunter2]\n"
    )

    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})

    assert caught.value.key == "general_settings.encryption_keys[1]"
    assert "openssl rand -base64 32" in caught.value.reason
    assert "hunter2" not in caught.value.message
