"""Stateless API processes: two `dda portal serve` share one PostgreSQL, one S3 API server and one
Redis; a client drives them alternately (login on one, the token on the other, refresh on the
other, throttling shared)."""

from __future__ import annotations

import subprocess
import uuid
from contextlib import ExitStack
from pathlib import Path

import boto3
import pytest

from dda.client import PortalClient, PortalError
from tests.portal.conftest import PASSWORD
from tests.portal.portal_process import dda_command, portal_env, running_portal
from tests.portal.test_auth_throttle import redis_url  # noqa: F401 - fixture

pytestmark = pytest.mark.slow


def test_two_api_processes_share_all_state(
    tmp_path: Path,
    postgres_database_url: str,
    moto_server: str,
    s3_bucket_name: str,
    redis_url: str,  # noqa: F811
) -> None:
    env_common = {
        "DDA_SECRET_KEY": "scale-out-test-" + uuid.uuid4().hex + uuid.uuid4().hex,
        "DDA_PORTAL__DATABASE_URL": postgres_database_url,
        "DDA_PORTAL__OBJECT_STORE_URL": f"s3://{s3_bucket_name}/portal",
        "DDA_PORTAL__REDIS_URL": redis_url,
        "DDA_PORTAL__REDIS_KEY_PREFIX": f"dda-test-{uuid.uuid4().hex}:",
        "DDA_S3__ENDPOINT_URL": moto_server,
        "DDA_S3__ACCESS_KEY_ID": "testing",
        "DDA_S3__SECRET_ACCESS_KEY": "testing",
        "DDA_S3__ADDRESSING_STYLE": "path",
    }
    env_a = portal_env(tmp_path / "a", **env_common)
    env_b = portal_env(tmp_path / "b", **env_common)  # another host: nothing on disk is shared
    made = subprocess.run(
        dda_command("portal", "create-admin", "root"),
        env={**env_a, "DDA_ADMIN_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    with ExitStack() as stack:
        url_a = stack.enter_context(running_portal(env_a, tmp_path / "a.log"))
        url_b = stack.enter_context(running_portal(env_b, tmp_path / "b.log"))
        a, b = stack.enter_context(PortalClient(url_a)), stack.enter_context(PortalClient(url_b))

        tokens = a.auth.login("root", PASSWORD)  # login on A
        b.http.set_tokens(tokens.access_token, tokens.refresh_token)
        assert b.auth.me().username == "root"  # the token works on B
        usecase = b.usecases.create("shared", description="made on B")
        assert usecase.onboarding_status == "ready", usecase.onboarding_error
        assert a.usecases.get(usecase.id).description == "made on B"  # read on A
        keys = boto3.client(
            "s3",
            endpoint_url=moto_server,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        ).list_objects_v2(Bucket=s3_bucket_name, Prefix=f"portal/usecases/{usecase.id}/")
        assert keys.get("KeyCount", 0) > 0  # the layout landed in the shared S3 API server

        rotated = b.auth.refresh()  # refresh on B with the pair A issued
        a.http.set_tokens(rotated.access_token, rotated.refresh_token)
        assert a.auth.me().username == "root"
        # The pair A issued was rotated on B: replaying it on A revokes the family everywhere.
        replay = PortalClient(url_a, refresh_token=tokens.refresh_token)
        with pytest.raises(PortalError) as caught:
            replay.auth.refresh()
        replay.close()
        assert caught.value.status == 401
        with pytest.raises(PortalError):
            b.auth.refresh()  # B holds the newest token of that family: dead too

        # Throttling is shared: failures on A lock the account on B.
        root = a.auth.login("root", PASSWORD)
        a.users.create("dana", PASSWORD)
        a.http.set_tokens(root.access_token, None)
        for _ in range(3):
            with pytest.raises(PortalError) as failed:
                a.auth.login("dana", "Wrong-Password-1")
            assert failed.value.status == 401
        with pytest.raises(PortalError) as locked:
            b.auth.login("dana", PASSWORD)
        assert locked.value.status == 429 and (locked.value.retry_after or 0) >= 1
        # Logout everywhere on B ends the session A uses.
        b.http.set_tokens(root.access_token, root.refresh_token)
        b.auth.logout(everywhere=True)
        with pytest.raises(PortalError) as ended:
            a.auth.me()
        assert ended.value.status == 401
