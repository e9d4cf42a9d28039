"""Portal authentication costs: password login (argon2id, 64 MiB, t=3) and a request with a
verified access token, through the real app (FastAPI TestClient, SQLite in a temporary folder).

    .venv/bin/python bench/bench_portal_auth.py [--logins 20] [--requests 300]

Prints p50/p99 of each and their ratio. The login is meant to be slow (it is the brute-force
cost); a token-verified request should be two to three orders of magnitude cheaper. The times
depend on what else the machine is doing; run it on an otherwise idle box.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

PASSWORD = "Correct-Horse-9-battery"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=20)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from dda.core.settings import Settings
    from dda.portal.app import create_app
    from dda.portal.services import auth as auth_service

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), env="test")
        with TestClient(create_app(settings, configure_logs=False)) as client:
            portal = client.app.state.portal  # type: ignore[attr-defined]
            with portal.session() as session:
                auth_service.create_user(session, "bench", PASSWORD)
            logins: list[float] = []
            token = ""
            for _ in range(args.logins):
                start = time.perf_counter()
                response = client.post("/api/v1/auth/login", json={"username": "bench", "password": PASSWORD})
                logins.append(time.perf_counter() - start)
                assert response.status_code == 200, response.text
                token = response.json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            requests: list[float] = []
            for _ in range(args.requests):
                start = time.perf_counter()
                response = client.get("/api/v1/auth/me", headers=headers)
                requests.append(time.perf_counter() - start)
                assert response.status_code == 200
    login_p50, me_p50 = statistics.median(logins), statistics.median(requests)
    for name, values in (("login (argon2id)     ", logins), ("token-verified GET me", requests)):
        p50, p99 = statistics.median(values) * 1000, _percentile(values, 0.99) * 1000
        print(f"{name} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms")
    print(f"login / request p50 ratio: {login_p50 / me_p50:.0f}x")


if __name__ == "__main__":
    main()
