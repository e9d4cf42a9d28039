"""Safe archive extraction: one test per refusal, a happy path per format, deterministic packing."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import warnings
import zipfile
from pathlib import Path

import pytest

from dda.core.errors import Conflict, InvalidInput, NotFound
from dda.core.safe_archive import (
    create_tar_gz,
    detect_archive_format,
    extract_archive,
)

MiB = 1024 * 1024
Member = tuple[tarfile.TarInfo, bytes | None]


# --------------------------------------------------------------------------- builders


def _member(
    name: str, data: bytes = b"", *, kind: bytes = tarfile.REGTYPE, linkname: str = "", mode: int = 0o644
) -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = mode
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        return info, data
    return info, None


def _dir(name: str) -> Member:
    return _member(name, kind=tarfile.DIRTYPE, mode=0o755)


def _symlink(name: str, target: str) -> Member:
    return _member(name, kind=tarfile.SYMTYPE, linkname=target)


def _hardlink(name: str, target: str) -> Member:
    return _member(name, kind=tarfile.LNKTYPE, linkname=target)


def _write_tar(path: Path, members: list[Member], *, gz: bool = False) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    payload = gzip.compress(buffer.getvalue()) if gz else buffer.getvalue()
    path.write_bytes(payload)
    return path


def _zip_info(name: str, unix_mode: int | None = None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    if unix_mode is not None:
        info.create_system = 3
        info.external_attr = unix_mode << 16
    return info


def _write_zip(path: Path, entries: list[tuple[zipfile.ZipInfo, bytes]]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name" is what one test wants
        with zipfile.ZipFile(path, "w") as zf:
            for info, data in entries:
                zf.writestr(info, data)
    return path


def _tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    """Where archives go; its parent exists so that the tree snapshots compare like with like."""
    (tmp_path / "out").mkdir()
    return tmp_path / "out" / "dest"


def _refused(archive: Path, dest: Path, match: str, **limits: int) -> InvalidInput:
    """Extraction is refused, and nothing anywhere under tmp changed (no dest, no staging left)."""
    root = archive.parent.parent
    before = _tree(root)
    with pytest.raises(InvalidInput, match=match) as info:
        extract_archive(archive, dest, **limits)
    assert _tree(root) == before
    assert not dest.exists()
    return info.value


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    return folder


# --------------------------------------------------------------------------- happy paths


def test_tar_happy_path_with_folders_links_and_modes(src: Path, dest: Path) -> None:
    archive = _write_tar(
        src / "model.tar",
        [
            _dir("./"),
            _dir("weights"),
            _member("weights/model.onnx", b"onnx-bytes"),
            _member("run.sh", b"#!/bin/sh\n", mode=0o4755),  # set-uid must not survive
            _member("deep/nested/implicit.txt", b"parents made on demand"),
            _symlink("latest.onnx", "weights/model.onnx"),
            _symlink("weights/up.txt", "../run.sh"),
            _hardlink("weights/copy.onnx", "weights/model.onnx"),
        ],
    )
    created = extract_archive(archive, dest)
    assert [p.relative_to(dest).as_posix() for p in created] == [
        "weights/model.onnx",
        "run.sh",
        "deep/nested/implicit.txt",
        "latest.onnx",
        "weights/up.txt",
        "weights/copy.onnx",
    ]
    assert (dest / "weights" / "model.onnx").read_bytes() == b"onnx-bytes"
    assert (dest / "latest.onnx").is_symlink() and (dest / "latest.onnx").read_bytes() == b"onnx-bytes"
    assert (dest / "weights" / "up.txt").read_bytes() == b"#!/bin/sh\n"
    assert os.stat(dest / "weights" / "copy.onnx").st_ino == os.stat(dest / "weights" / "model.onnx").st_ino
    assert stat.S_IMODE(os.stat(dest / "run.sh").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(dest / "weights" / "model.onnx").st_mode) == 0o644
    assert not any(p.name.startswith(".dest.extract-") for p in dest.parent.iterdir())


def test_tar_gz_happy_path_detected_by_content_not_extension(src: Path, dest: Path) -> None:
    archive = _write_tar(
        src / "misleading.zip", [_member("a.txt", b"alpha"), _member("b/c.txt", b"gamma")], gz=True
    )
    assert detect_archive_format(archive.read_bytes()[:600]) == "tar.gz"
    extract_archive(archive, dest)
    assert (dest / "a.txt").read_text() == "alpha" and (dest / "b" / "c.txt").read_text() == "gamma"


def test_zip_happy_path_with_folders_symlink_and_exec_bit(src: Path, dest: Path) -> None:
    archive = _write_zip(
        src / "data.tar",  # the extension lies; the magic bytes decide
        [
            (_zip_info("images/"), b""),
            (_zip_info("images/a.jpg"), b"jpeg" * 1000),
            (_zip_info("tool", 0o100755), b"#!/bin/sh\n"),
            (_zip_info("labels/train.json"), b"{}"),
            (_zip_info("current", stat.S_IFLNK | 0o777), b"labels/train.json"),
        ],
    )
    created = extract_archive(archive, dest)
    assert len(created) == 4
    assert (dest / "images" / "a.jpg").read_bytes() == b"jpeg" * 1000
    assert stat.S_IMODE(os.stat(dest / "tool").st_mode) == 0o755
    assert os.readlink(dest / "current") == "labels/train.json"


def test_extracts_into_an_existing_empty_folder(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    extract_archive(_write_tar(src / "a.tar", [_member("x", b"1")]), dest)
    assert (dest / "x").read_bytes() == b"1"


# --------------------------------------------------------------------------- path rules


@pytest.mark.parametrize("name", ["/etc/cron.d/evil", "C:/Windows/evil.dll"])
def test_absolute_paths_are_refused(name: str, src: Path, dest: Path) -> None:
    error = _refused(
        _write_tar(src / "a.tar", [_member("ok.txt", b"fine"), _member(name, b"x")]), dest, "absolute"
    )
    assert name in error.message
    _refused(_write_zip(src / "a.zip", [(_zip_info(name), b"x")]), dest, "absolute")


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "a/b/../../../evil", ".."])
def test_dot_dot_traversal_is_refused(name: str, src: Path, dest: Path) -> None:
    _refused(_write_tar(src / "a.tar", [_member(name, b"x")]), dest, r"'\.\.' in path")
    _refused(_write_zip(src / "a.zip", [(_zip_info(name), b"x")]), dest, r"'\.\.' in path")


def test_backslash_and_nul_names_are_refused(src: Path, dest: Path) -> None:
    _refused(_write_zip(src / "a.zip", [(_zip_info("..\\..\\evil.bat"), b"x")]), dest, "backslash")
    _refused(_write_tar(src / "a.tar", [_member("dir\\file", b"x")]), dest, "backslash")


# --------------------------------------------------------------------------- links


@pytest.mark.parametrize("target", ["/etc/passwd", "../outside", "a/../../outside", "C:/x"])
def test_symlinks_pointing_outside_are_refused(target: str, src: Path, dest: Path) -> None:
    _refused(_write_tar(src / "a.tar", [_dir("a"), _symlink("link", target)]), dest, "symlink to")
    nested = target if target.startswith(("/", "C:")) else f"../{target}"  # one level deeper
    _refused(_write_tar(src / "b.tar", [_dir("a"), _symlink("a/link", nested)]), dest, "symlink to")
    _refused(
        _write_zip(src / "a.zip", [(_zip_info("link", stat.S_IFLNK | 0o777), target.encode())]),
        dest,
        "symlink",
    )


def test_symlink_escaping_through_another_symlink_is_refused(src: Path, dest: Path) -> None:
    # 'here' -> '.' is harmless, and 'esc' -> 'here/../secret' looks like 'secret' lexically,
    # but with 'here' in place it resolves to the parent of the destination.
    members = [_symlink("here", "."), _symlink("esc", "here/../secret")]
    _refused(_write_tar(src / "a.tar", members), dest, "resolves outside the destination")
    members = [_symlink("esc", "here/../secret"), _symlink("here", ".")]  # order must not matter
    _refused(_write_tar(src / "b.tar", members), dest, "resolves outside the destination")


def test_writing_through_a_symlink_is_refused(src: Path, dest: Path) -> None:
    members = [_dir("real"), _symlink("alias", "real"), _member("alias/file.txt", b"x")]
    _refused(_write_tar(src / "a.tar", members), dest, "through the symlink alias")
    zipped = [
        (_zip_info("real/"), b""),
        (_zip_info("alias", stat.S_IFLNK | 0o777), b"real"),
        (_zip_info("alias/file.txt"), b"x"),
    ]
    _refused(_write_zip(src / "a.zip", zipped), dest, "through the symlink alias")


@pytest.mark.parametrize(
    ("target", "match"),
    [("/etc/shadow", "absolute"), ("../outside", r"'\.\.'"), ("never-extracted.txt", "not a regular file")],
)
def test_hardlinks_outside_or_to_unknown_files_are_refused(
    target: str, match: str, src: Path, dest: Path
) -> None:
    members = [_member("ok.txt", b"fine"), _hardlink("h", target)]
    _refused(_write_tar(src / "a.tar", members), dest, match)


def test_hardlink_to_a_symlink_is_refused(src: Path, dest: Path) -> None:
    members = [_symlink("s", "x"), _hardlink("h", "s")]
    _refused(_write_tar(src / "a.tar", members), dest, "not a regular file")


# --------------------------------------------------------------------------- special files


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_tar_device_files_and_fifos_are_refused(kind: bytes, src: Path, dest: Path) -> None:
    _refused(
        _write_tar(src / "a.tar", [_member("ok", b"1"), _member("dev/sda", kind=kind)]), dest, "device file"
    )


@pytest.mark.parametrize("file_type", [stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK])
def test_zip_device_files_and_fifos_are_refused(file_type: int, src: Path, dest: Path) -> None:
    _refused(_write_zip(src / "a.zip", [(_zip_info("dev", file_type | 0o644), b"")]), dest, "device file")


# --------------------------------------------------------------------------- limits


def test_too_many_entries_are_refused(src: Path, dest: Path) -> None:
    members = [_member(f"f{i:02}.txt", b"x") for i in range(11)]
    error = _refused(_write_tar(src / "a.tar", members), dest, "more than 10 entries", max_entries=10)
    assert "f10.txt" in error.message
    extract_archive(_write_tar(src / "ok.tar", members[:10]), dest, max_entries=10)
    zipped = [(_zip_info(f"f{i:02}.txt"), b"x") for i in range(11)]
    _refused(_write_zip(src / "a.zip", zipped), dest.with_name("z"), "more than 10", max_entries=10)


def test_gzip_bomb_is_stopped_by_counting_bytes(src: Path, dest: Path) -> None:
    archive = _write_tar(src / "bomb.tar.gz", [_member("zeros.bin", bytes(16 * MiB))], gz=True)
    assert archive.stat().st_size < 64 * 1024
    error = _refused(archive, dest, "unpacks to more than 1,048,576 bytes", max_total_bytes=MiB)
    assert "zeros.bin" in error.message and error.hint and "decompression bomb" in error.hint


def test_total_bytes_are_summed_across_files(src: Path, dest: Path) -> None:
    members = [_member(f"part{i}", bytes(400 * 1024)) for i in range(3)]
    _refused(_write_tar(src / "a.tar", members), dest, "part2.*unpacks to more than", max_total_bytes=MiB)


def test_zip_declaring_too_much_content_fails_early(src: Path, dest: Path) -> None:
    zipped = [(_zip_info(f"z{i}"), bytes(600 * 1024)) for i in range(2)]
    _refused(_write_zip(src / "a.zip", zipped), dest, "declares more than", max_total_bytes=MiB)


def test_zip_whose_header_understates_the_size_is_refused(src: Path, dest: Path) -> None:
    archive = _write_zip(src / "liar.zip", [(_zip_info("big.bin"), bytes(4 * MiB))])
    raw = bytearray(archive.read_bytes())
    real = (4 * MiB).to_bytes(4, "little")
    claimed = (1000).to_bytes(4, "little")
    assert raw.count(real) == 2  # uncompressed size in the local and the central header
    archive.write_bytes(bytes(raw.replace(real, claimed)))
    # zipfile stops at the claimed size, so the content fails its CRC; nothing is published.
    _refused(archive, dest, "corrupt", max_total_bytes=MiB)


def test_per_file_limit(src: Path, dest: Path) -> None:
    members = [_member("small", bytes(100)), _member("large", bytes(5000))]
    _refused(_write_tar(src / "a.tar", members), dest, "'large'.*per-file limit", max_file_bytes=4096)
    zipped = [(_zip_info("large"), bytes(5000))]
    _refused(_write_zip(src / "a.zip", zipped), dest, "per-file limit", max_file_bytes=4096)


def test_oversized_pax_record_is_refused_before_it_is_read(src: Path, dest: Path) -> None:
    info, data = _member("normal.txt", b"x")
    info.pax_headers = {"comment": "A" * (2 * MiB)}
    _refused(_write_tar(src / "a.tar.gz", [(info, data)], gz=True), dest, "metadata record")


# --------------------------------------------------------------------------- duplicates and clashes


@pytest.mark.parametrize("names", [("a.txt", "a.txt"), ("a.txt", "./a.txt"), ("d/x", "d//x"), ("sub", "sub")])
def test_duplicate_entries_are_refused(names: tuple[str, str], src: Path, dest: Path) -> None:
    members = [_member(names[0], b"first"), _member(names[1], b"second")]
    _refused(_write_tar(src / "a.tar", members), dest, "duplicate entry")
    _refused(_write_zip(src / "a.zip", [(_zip_info(n), b"x") for n in names]), dest, "duplicate entry")


def test_file_below_a_file_is_refused(src: Path, dest: Path) -> None:
    _refused(_write_tar(src / "a.tar", [_member("a", b"1"), _member("a/b", b"2")]), dest, "not a folder")


# --------------------------------------------------------------------------- bad archives


def test_unknown_and_unsupported_formats_are_refused(src: Path, dest: Path) -> None:
    (src / "notes.tar.gz").write_text("just text, whatever the name says")
    _refused(src / "notes.tar.gz", dest, "not a tar, tar.gz or zip archive")
    (src / "empty.zip").write_bytes(b"")
    _refused(src / "empty.zip", dest, "the file is empty")
    with tarfile.open(src / "x.tar.bz2", "w:bz2") as tar:
        tar.addfile(_member("a", b"1")[0], io.BytesIO(b"1"))
    _refused(src / "x.tar.bz2", dest, "bzip2")


def test_truncated_archives_are_refused(src: Path, dest: Path) -> None:
    good = _write_tar(src / "a.tar.gz", [_member("a.bin", os.urandom(100_000))], gz=True)
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])
    _refused(good, dest, "corrupt or truncated")
    zipped = _write_zip(src / "a.zip", [(_zip_info("a.bin"), os.urandom(100_000))])
    data = zipped.read_bytes()
    zipped.write_bytes(data[: len(data) // 2])
    _refused(zipped, dest, "corrupt or truncated")


def test_gzip_that_is_not_a_tar_is_refused(src: Path, dest: Path) -> None:
    (src / "x.gz").write_bytes(gzip.compress(b"plain text " * 100))
    _refused(src / "x.gz", dest, "corrupt or truncated")


def test_encrypted_zip_entries_are_refused(src: Path, dest: Path) -> None:
    archive = _write_zip(src / "a.zip", [(_zip_info("secret.txt"), b"data")])
    raw = bytearray(archive.read_bytes())
    local, central = raw.find(b"PK\x03\x04"), raw.find(b"PK\x01\x02")
    raw[local + 6] |= 0x1  # general-purpose flag bit 0: encrypted (zipfile cannot write it)
    raw[central + 8] |= 0x1
    archive.write_bytes(bytes(raw))
    _refused(archive, dest, "encrypted")


# --------------------------------------------------------------------------- destination


def test_non_empty_destination_is_left_alone(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(Conflict, match="not empty"):
        extract_archive(_write_tar(src / "a.tar", [_member("x", b"1")]), dest)
    assert _tree(dest) == {"keep.txt"}


def test_refusal_leaves_an_empty_destination_empty(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    members = [_member("first.txt", b"written to staging"), _member("../evil", b"x")]
    with pytest.raises(InvalidInput):
        extract_archive(_write_tar(src / "a.tar", members), dest)
    assert dest.is_dir() and _tree(dest) == set()
    assert _tree(dest.parent) == {"dest"}


def test_missing_archive_is_not_found(tmp_path: Path, dest: Path) -> None:
    with pytest.raises(NotFound):
        extract_archive(tmp_path / "nope.tar", dest)


# --------------------------------------------------------------------------- packing


def _sample_tree(root: Path) -> Path:
    (root / "weights").mkdir(parents=True)
    (root / "weights" / "model.onnx").write_bytes(b"\x08\x01" * 500)
    (root / "empty").mkdir()
    (root / "config.json").write_text('{"threshold": 0.5}')
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o750)
    return root


def test_create_tar_gz_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    tree = _sample_tree(tmp_path / "pkg")
    first = create_tar_gz(tree, tmp_path / "one.tar.gz")
    os.utime(tree / "config.json", (1_000_000, 1_000_000))
    (tree / "config.json").chmod(0o600)
    second = create_tar_gz(tree, tmp_path / "two.tar.gz")
    assert first.read_bytes() == second.read_bytes()

    with tarfile.open(first) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["config.json", "empty", "run.sh", "weights", "weights/model.onnx"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    modes = {m.name: m.mode for m in members}
    assert modes == {
        "config.json": 0o644,
        "empty": 0o755,
        "run.sh": 0o755,
        "weights": 0o755,
        "weights/model.onnx": 0o644,
    }

    out = tmp_path / "unpacked"
    extract_archive(first, out)
    assert (out / "weights" / "model.onnx").read_bytes() == b"\x08\x01" * 500
    assert (out / "empty").is_dir()


def test_create_tar_gz_changes_when_content_changes(tmp_path: Path) -> None:
    tree = _sample_tree(tmp_path / "pkg")
    before = create_tar_gz(tree, tmp_path / "a.tar.gz").read_bytes()
    (tree / "config.json").write_text('{"threshold": 0.6}')
    assert create_tar_gz(tree, tmp_path / "b.tar.gz").read_bytes() != before


def test_create_tar_gz_refuses_symlinks_and_self_inclusion(tmp_path: Path) -> None:
    tree = _sample_tree(tmp_path / "pkg")
    with pytest.raises(InvalidInput, match="inside the folder it packs"):
        create_tar_gz(tree, tree / "self.tar.gz")
    (tree / "link").symlink_to("config.json")
    with pytest.raises(InvalidInput, match="symlink"):
        create_tar_gz(tree, tmp_path / "x.tar.gz")
    assert not (tmp_path / "x.tar.gz").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_create_tar_gz_missing_source(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        create_tar_gz(tmp_path / "nope", tmp_path / "x.tar.gz")
