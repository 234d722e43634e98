"""`clientele.Server` on its own: a private server per test, for what a shared one must not
do (faults and clock changes reach every tenant) and for the start and stop contract."""

from __future__ import annotations

import pytest

import clientele


def test_a_private_server_with_faults_clock_and_journal() -> None:
    with clientele.Server(args=["--demo"]) as server:
        assert server.get("/healthz").json()["status"] == "ok"
        tenant = server.admin.tenants()
        headers = {"Authorization": tenant["mx"]["authorization"],
                   "Accept": "application/vnd.mx.provisioning.v1+json"}
        body = {"client": {"company_name": "MX", "email": "a@example.com",
                           "first_name": "A", "last_name": "B"}}

        rule = server.admin.fault(flavour="mx", method="POST", path="/clients", status=503, times=1)
        assert server.admin.faults() == [rule]
        assert server.post("/mx/clients", headers=headers, json=body).status == 503
        assert server.post("/mx/clients", headers=headers, json=body).status == 200
        assert server.admin.faults() == []

        assert [e["status"] for e in server.admin.requests(flavour="mx")] == [503, 200]

        moved = server.admin.advance_clock("8d")
        assert moved["offset_ms"] == 8 * 86_400_000
        assert server.admin.reset_clock()["offset_ms"] == 0

        with pytest.raises(clientele.AdminError) as error:
            server.admin.advance_clock("soon")
        assert error.value.status == 400

        server.admin.reset()
        assert server.admin.mail() == []
        assert "POST /mx/clients 503" in server.stderr()
    assert server.returncode == 0, "SIGTERM is a clean shutdown"
    assert not server.running()


def test_a_server_that_cannot_start_says_why() -> None:
    with pytest.raises(clientele.ServerError) as error:
        clientele.Server(args=["--link-ttl", "forever"]).start()
    assert "link-ttl" in str(error.value), "the server's stderr is in the error"


FAST_NOTICE = "--fast-password-hashing: chosen passwords are stored"


def test_a_test_server_hashes_chosen_passwords_fast_unless_it_looks_deployed() -> None:
    with clientele.Server(args=["--demo"]) as server:
        assert FAST_NOTICE in server.stderr()
    # An https public URL marks a deployment, which the binary refuses fast hashing with:
    # the server starts at the standard cost instead of failing.
    with clientele.Server(args=["--public-url=https://onboarding.example.com"]) as server:
        assert FAST_NOTICE not in server.stderr()
    with clientele.Server(fast_password_hashing=False) as server:
        assert FAST_NOTICE not in server.stderr()
    with pytest.raises(clientele.ServerError) as error:
        clientele.Server(
            args=["--public-url", "https://onboarding.example.com"], fast_password_hashing=True
        ).start()
    assert "cannot be used with an https --public-url" in str(error.value)


def test_admin_calls_survive_the_server_closing_an_idle_connection() -> None:
    import time

    with clientele.Server(args=["--demo", "--idle-timeout=1s"]) as server:
        first = server.admin.tenants()
        time.sleep(1.5)  # past the idle timeout: the kept-alive connection is closed
        second = server.admin.tenants()
        assert first["id"] != second["id"]
        server.admin.delete_tenants(first["id"])
        server.admin.delete_tenants(second["id"])
