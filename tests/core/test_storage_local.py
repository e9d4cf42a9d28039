"""What only the folder store does: paths, atomic replacement, folder clean-up, symlink guard."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from dda.core.errors import Conflict, InvalidInput, Unavailable
from dda.core.storage import LocalObjectStore
from dda.core.storage.keys import RESERVED_SEGMENT


def test_keys_are_files_under_the_root(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    store.put_bytes("a/b/c.txt", b"hello")
    assert (tmp_path / "objects" / "a" / "b" / "c.txt").read_bytes() == b"hello"
    assert store.url == (tmp_path / "objects").as_uri()


def test_root_is_created_lazily_or_on_request(tmp_path: Path) -> None:
    lazy = LocalObjectStore(tmp_path / "lazy")
    assert lazy.list() == []
    assert not (tmp_path / "lazy").exists(), "reading must not create the folder"
    LocalObjectStore(tmp_path / "eager", create=True)
    assert (tmp_path / "eager").is_dir()


def test_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInput, match="not a folder"):
        LocalObjectStore(tmp_path / "file")


def test_root_that_cannot_be_created_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(Unavailable, match="cannot create") as info:
        LocalObjectStore(tmp_path / "file" / "objects", create=True)
    assert info.value.hint


def test_key_cannot_be_both_object_and_folder(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.put_bytes("a", b"object")
    with pytest.raises(Conflict, match="'a' is already an object"):
        store.put_bytes("a/b", b"x")
    store.put_bytes("c/d", b"x")
    with pytest.raises(Conflict, match="other objects live under"):
        store.put_bytes("c", b"x")
    assert store.list() == ["a", "c/d"]


def test_delete_prunes_emptied_folders_but_keeps_the_root(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    store = LocalObjectStore(root)
    store.put_bytes("x/y/z.bin", b"1")
    store.put_bytes("x/keep.bin", b"2")
    store.delete("x/y/z.bin")
    assert not (root / "x" / "y").exists()
    assert (root / "x" / "keep.bin").exists()
    store.delete("x/keep.bin")
    assert sorted(p.name for p in root.iterdir()) == [RESERVED_SEGMENT]
    store.put_bytes("x", b"now a plain object")  # the pruned folder no longer blocks the key
    assert store.get_bytes("x") == b"now a plain object"


def test_writes_leave_no_staging_files(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    for index in range(5):
        store.put_bytes(f"k{index}", b"x" * 1000)
    assert list((tmp_path / RESERVED_SEGMENT).iterdir()) == []
    assert store.list() == [f"k{index}" for index in range(5)]


def test_readers_never_see_a_partial_object(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    versions = [bytes([value]) * 512 * 1024 for value in range(4)]
    store.put_bytes("model.bin", versions[0])
    stop = threading.Event()
    seen: list[bytes] = []

    def read_continuously() -> None:
        while not stop.is_set():
            seen.append(store.get_bytes("model.bin"))

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for round_ in range(40):
            store.put_bytes("model.bin", versions[round_ % len(versions)])
    finally:
        stop.set()
        reader.join()
    assert seen
    assert all(data in versions for data in seen)


def test_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    root = tmp_path / "objects"
    root.mkdir()
    os.symlink(outside, root / "escape")
    store = LocalObjectStore(root)
    with pytest.raises(InvalidInput, match="symbolic link"):
        store.get_bytes("escape/secret.txt")
    with pytest.raises(InvalidInput, match="symbolic link"):
        store.put_bytes("escape/planted.txt", b"x")
    assert not (outside / "planted.txt").exists()


def test_name_too_long_for_the_file_system_is_invalid_input(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    with pytest.raises(InvalidInput, match="too long for the file system"):
        store.put_bytes("n" * 300, b"x")
    assert store.list() == []


def test_presigned_url_is_the_file_uri(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "with space")
    store.put_bytes("a b/c.txt", b"x")
    url = store.presigned_url("a b/c.txt")
    assert url == (tmp_path / "with space" / "a b" / "c.txt").as_uri()
    assert "%20" in url
