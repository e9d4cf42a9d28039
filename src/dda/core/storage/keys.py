"""Object keys: the one place that decides which keys (and list prefixes) are acceptable.

A key is a relative, slash-separated path such as ``datasets/cookies/img-001.jpg``. Every store
validates keys here before use, so a key that is safe for S3 is also safe as a path under a local
folder: no way to climb out of the store's root, no characters that mean something else on some
file system, and a length that S3 accepts.
"""

from __future__ import annotations

import re

from dda.core.errors import InvalidInput

MAX_KEY_BYTES = 1024  # S3's own limit on a key's UTF-8 length
# The local store stages partial writes under this folder; no key may live there.
RESERVED_SEGMENT = ".dda-tmp"

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:$")
_KEY_HINT = "use a relative key of '/'-separated names, e.g. 'datasets/cookies/img-001.jpg'"


def validate_key(key: object) -> str:
    """Return ``key`` unchanged when it is a safe object key; raise :class:`InvalidInput` otherwise."""
    if not isinstance(key, str):
        raise InvalidInput(f"object key must be a string, got {type(key).__name__}", hint=_KEY_HINT)
    if not key:
        raise InvalidInput("object key is empty", hint=_KEY_HINT)
    _check_characters(key, what="object key")
    if key.endswith("/"):
        raise InvalidInput(
            f"object key {key!r} ends with '/', which names a folder, not an object",
            hint="drop the trailing '/' or add a file name after it",
        )
    _check_segments(key.split("/"), key, what="object key")
    return key


def validate_prefix(prefix: object) -> str:
    """Validate a listing prefix: like a key, but it may be empty, end with '/' or end mid-name."""
    if not isinstance(prefix, str):
        raise InvalidInput(f"prefix must be a string, got {type(prefix).__name__}", hint=_KEY_HINT)
    if not prefix:
        return prefix
    _check_characters(prefix, what="prefix")
    segments = prefix.split("/")
    if segments[-1] == "":  # a trailing '/' is fine for a prefix
        segments = segments[:-1]
    _check_segments(segments, prefix, what="prefix")
    return prefix


def join_key(*parts: str) -> str:
    """Join key parts with single slashes, skipping empty parts."""
    return "/".join(part.strip("/") for part in parts if part.strip("/"))


def _check_characters(value: str, *, what: str) -> None:
    if len(value.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidInput(
            f"{what} is {len(value.encode('utf-8'))} bytes long; the limit is {MAX_KEY_BYTES} bytes",
            hint="use shorter folder and file names",
        )
    if "\\" in value:
        raise InvalidInput(
            f"{what} {value!r} contains a backslash",
            hint="separate folders with '/', not '\\'",
        )
    match = _CONTROL_CHARS.search(value)
    if match:
        raise InvalidInput(
            f"{what} {value!r} contains the control character {match.group()!r}",
            hint="remove NUL, newline, tab and other control characters from the name",
        )
    if value.startswith("/"):
        raise InvalidInput(
            f"{what} {value!r} is an absolute path",
            hint=f"drop the leading '/': {value.lstrip('/')!r}",
        )


def _check_segments(segments: list[str], value: str, *, what: str) -> None:
    if segments and _DRIVE_LETTER.match(segments[0]):
        raise InvalidInput(
            f"{what} {value!r} starts with a drive letter, which makes it an absolute path",
            hint="use a relative key without 'C:'-style prefixes",
        )
    for segment in segments:
        if segment in ("", ".", ".."):
            shown = "an empty name ('//')" if segment == "" else f"a {segment!r} segment"
            raise InvalidInput(
                f"{what} {value!r} contains {shown}",
                hint="give every folder a real name; '.', '..' and '//' are not allowed in keys",
            )
    if segments and segments[0] == RESERVED_SEGMENT:
        raise InvalidInput(
            f"{what} {value!r} is inside the reserved folder {RESERVED_SEGMENT!r}",
            hint=f"choose a top-level folder other than {RESERVED_SEGMENT!r}",
        )
