"""Hostile model uploads: traversal, links, bombs, junk, wrong weights -> 4xx with a clear error;
bodies over the cap -> 413 while streaming. Nothing is registered or stored for any of them."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from dda.portal.permissions import Role
from tests.portal.conftest import PortalHarness
from tests.portal.registry_helpers import shared_tiny_artifact


def tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def regular(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


CONFIG = json.dumps(
    {
        "model_type": "classification",
        "backbone": "mobilenet_v2",
        "input_size": [32, 32],
        "class_names": ["normal", "anomaly"],
        "threshold": 0.5,
        "mean": [0, 0, 0],
        "std": [1, 1, 1],
    }
).encode()


@pytest.fixture
def usecase(make_portal) -> tuple[PortalHarness, str, dict[str, str]]:  # type: ignore[no-untyped-def]
    portal: PortalHarness = make_portal(None, max_model_upload_mb=1)
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    usecase_id = portal.create_usecase(admin, "hostile")
    portal.make_user("dana", role=Role.DATA_SCIENTIST, usecase_id=usecase_id)
    return portal, usecase_id, portal.login("dana")


def upload(portal: PortalHarness, usecase_id: str, headers: dict[str, str], body: bytes):  # type: ignore[no-untyped-def]
    return portal.client.post(
        f"/api/v1/usecases/{usecase_id}/models/upload", params={"name": "evil"}, content=body, headers=headers
    )


HOSTILE = {
    "traversal": (tar_gz([regular("../escape.txt", b"x"), regular("config.json", CONFIG)]), "traversal"),
    "absolute": (tar_gz([regular("/etc/cron.d/x", b"x")]), "absolute"),
    "symlink-out": (tar_gz([regular("config.json", CONFIG), link("weights.pt", "/etc/passwd")]), "link"),
    "symlink-in": (tar_gz([regular("config.json", CONFIG), link("weights.pt", "config.json")]), "link"),
    "hardlink": (
        tar_gz([regular("config.json", CONFIG), link("weights.pt", "config.json", tarfile.LNKTYPE)]),
        "link",
    ),
    "bomb": (tar_gz([regular("weights.pt", b"\0" * (8 << 20)), regular("config.json", CONFIG)]), "limit"),
    "junk": (b"this is not an archive at all" * 10, "archive"),
    "no-weights": (tar_gz([regular("config.json", CONFIG)]), "weights.pt"),
    "bad-json": (tar_gz([regular("config.json", b"{not json"), regular("weights.pt", b"x")]), "JSON"),
    "bad-weights": (
        tar_gz([regular("config.json", CONFIG), regular("weights.pt", b"PK\x03\x04?")]),
        "weights",
    ),
}


def test_hostile_archives_are_refused_with_a_clear_4xx(
    usecase: tuple[PortalHarness, str, dict[str, str]],
) -> None:
    portal, usecase_id, dana = usecase
    for case, (body, expected) in HOSTILE.items():
        response = upload(portal, usecase_id, dana, body)
        assert 400 <= response.status_code < 500 and response.status_code != 413, (case, response.text)
        detail = response.json()["detail"]
        assert expected.lower() in detail.lower(), (case, detail)
        assert "/tmp" not in response.text and str(Path.home()) not in response.text, (case, detail)
    assert portal.client.get(f"/api/v1/usecases/{usecase_id}/models", headers=dana).json()["items"] == []


def test_bodies_over_the_cap_are_refused_413(usecase: tuple[PortalHarness, str, dict[str, str]]) -> None:
    portal, usecase_id, dana = usecase
    response = upload(portal, usecase_id, dana, b"\0" * ((1 << 20) + 1))
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(3):  # no Content-Length: the cap is enforced while streaming
            yield b"\0" * (600 << 10)

    streamed = portal.client.post(
        f"/api/v1/usecases/{usecase_id}/models/upload",
        params={"name": "evil"},
        content=chunks(),
        headers=dana,
    )
    assert streamed.status_code == 413


@pytest.mark.slow
def test_weights_that_do_not_fit_the_config_are_named(make_portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    portal: PortalHarness = make_portal(None)
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    usecase_id = portal.create_usecase(admin, "mismatch")
    artifact = shared_tiny_artifact()
    with tarfile.open(artifact) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isreg()}  # type: ignore[union-attr]
    config = json.loads(files["config.json"])
    config["backbone"] = "resnet18"
    files["config.json"] = json.dumps(config).encode()
    body = tar_gz([regular(name, data) for name, data in files.items()])
    response = upload(portal, usecase_id, admin, body)
    assert response.status_code == 422 and "do not fit" in response.json()["detail"], response.text
