"""The plugin's tenant sets, in a pytest run of their own (pytester): a set made ahead of
its test is replaced when a test resets the server."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

INNER = '''
MX_ACCEPT = "application/vnd.mx.provisioning.v1+json"


def create(server, tenant):
    body = {"client": {"company_name": "P", "email": f"p{tenant['id']}@example.com",
                       "first_name": "P", "last_name": "Q"}}
    return server.post("/mx/clients", json=body, headers={
        "Authorization": tenant["mx"]["authorization"], "Accept": MX_ACCEPT}).status


def test_a(clientele_server, clientele_tenant):
    assert create(clientele_server, clientele_tenant) == 200


def test_b_resets(clientele_server, clientele_tenant):
    import time

    time.sleep(0.3)  # the next test's set is made ahead by now, and the reset deletes it
    clientele_server.admin.reset()


def test_c_after_the_reset(clientele_server, clientele_tenant):
    assert create(clientele_server, clientele_tenant) == 200
'''


def test_a_reset_does_not_leave_the_next_test_a_deleted_set(
    pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    pytester.makepyfile(test_inner=INNER)
    args = ["-p", "no:cacheprovider"]
    # Registered by the wheel's entry point in CI; by -p when the suite is run from a tree.
    if not request.config.pluginmanager.has_plugin("clientele"):
        args += ["-p", "clientele.pytest_plugin"]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=3)
