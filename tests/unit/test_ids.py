"""Identifiers: their shape, and that none repeats, across buffer refills and forks."""

from __future__ import annotations

import os

from tether.core import ids


def test_response_ids_carry_their_session_and_validate() -> None:
    session = ids.new_session_tag()
    response_id = ids.new_response_id(session)
    assert ids.is_response_id(response_id)
    assert ids.session_of(response_id) == session
    assert ids.session_of("resp_" + "g" * 64) is None


def test_ids_never_repeat_across_many_buffer_refills() -> None:
    # 4 KiB of entropy serves ~250 ids of 16 bytes: 20,000 ids span ~80 refills.
    made = [ids.new_response_id(ids.new_session_tag()) for _ in range(10_000)]
    made += [ids.new_item_id("msg_") for _ in range(10_000)]
    assert len(set(made)) == len(made)
    assert all(len(i) == 4 + 48 for i in made[10_000:])


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    ids.new_item_id("msg_")  # the parent's buffer now holds unused bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, " ".join(ids.new_item_id("msg_") for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent = [ids.new_item_id("msg_") for _ in range(5)]
    assert len(child) == 5
    assert not set(child) & set(parent)
