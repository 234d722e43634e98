"""One end-to-end story per flavour, driven only by the plugin's fixtures.

CI runs this file with ``-n 2`` (pytest-xdist): both workers share one server, each test
gets its own tenant set, and the counts asserted below hold only if no test sees another's
data. Every story runs a few times so that the two workers overlap.
"""

from __future__ import annotations

from typing import Any, Dict

import pytest

import clientele

REPEAT = range(3)
MX_ACCEPT = "application/vnd.mx.provisioning.v1+json"


def unique(tenant: Dict[str, Any]) -> str:
    """A suffix no other test's tenant set has (names are unique server-wide)."""
    return str(tenant["id"]).replace("set-", "")


def test_three_lines(clientele_server: clientele.Server, clientele_tenant: Dict[str, Any]) -> None:
    auth = {"Authorization": clientele_tenant["makeleaps"]["authorization"]}
    reply = clientele_server.post("/makeleaps/user/oauth2/token/", headers=auth, form={"grant_type": "client_credentials"})
    assert reply.status == 200 and reply.json()["access_token"], reply


@pytest.mark.parametrize("round_", REPEAT)
def test_mx_invite_mails_a_link_that_opens_the_registration(
    clientele_server: clientele.Server, clientele_tenant: Dict[str, Any], round_: int
) -> None:
    mx = clientele_tenant["mx"]
    email = f"john.{unique(clientele_tenant)}@example.com"
    body = {"client": {"company_name": "MX", "email": email, "first_name": "John", "last_name": "Foo"}}
    headers = {"Authorization": mx["authorization"], "Accept": MX_ACCEPT}
    created = clientele_server.post("/mx/clients", headers=headers, json=body)
    assert created.status == 200, created

    # Read back: the journal shows the call under this test's processor only.
    mine = [
        entry
        for entry in clientele_server.admin.requests(flavour="mx", path="/mx/clients")
        if entry["tenant"] == mx["processor_id"]
    ]
    assert [(e["method"], e["status"]) for e in mine] == [("POST", 200)]

    # The invitation mail, and its link.
    mails = clientele_server.wait_until(lambda: clientele_server.admin.mail(to=email))
    assert len(mails) == 1 and mails[0]["text"].startswith("Hello John,"), mails
    links = clientele_server.admin.links(to=email)
    assert len(links) == 1 and links[0].startswith(f"{clientele_server.url}/mx/dashboard/register/")
    page = clientele_server.get(links[0])
    assert page.status == 200, page
    assert "text/html" in page.headers["content-type"]


@pytest.mark.parametrize("round_", REPEAT)
def test_shieldconex_client_created_and_read_back(
    clientele_server: clientele.Server, clientele_tenant: Dict[str, Any], round_: int
) -> None:
    sc = clientele_tenant["shieldconex"]
    tag = unique(clientele_tenant)
    auth = {"Authorization": sc["authorization"]}
    body = {
        "name": f"Client {tag}",
        "isActive": True,
        "directPartner": sc["partner"],
        "contact": {"firstName": "Ana", "lastName": "Lopez", "email": f"ana.{tag}@example.com",
                    "userName": f"ana.{tag}@example.com", "phone": "+14155550123"},
    }
    created = clientele_server.post("/shieldconex/api/v1/clients", headers=auth, json=body)
    assert created.status == 200, created
    client_id = created.json()["id"]

    detail = clientele_server.get(f"/shieldconex/api/v1/clients/{client_id}", headers=auth)
    assert detail.status == 200, detail
    assert detail.json()["name"] == f"Client {tag}"
    assert detail.json()["directPartner"]["id"] == sc["partner"]["id"]

    listed = clientele_server.get(
        f"/shieldconex/api/v1/clients?partner={sc['partner']['id']}", headers=auth
    )
    assert listed.status == 200, listed
    assert [c["id"] for c in listed.json()["data"]] == [client_id], "only this test's client"


def nueve09_login(server: clientele.Server, api_key: str, password: str) -> clientele.Response:
    reply = server.post(
        "/nueve09/auth/login", json={"api_client": {"api_key": api_key, "password": password}}
    )
    assert reply.status == 200, reply
    return reply


@pytest.mark.parametrize("round_", REPEAT)
def test_nueve09_funding_a_sub_client_moves_the_balance(
    clientele_server: clientele.Server, clientele_tenant: Dict[str, Any], round_: int
) -> None:
    n09 = clientele_tenant["nueve09"]
    login = nueve09_login(clientele_server, n09["api_key"], n09["password"])
    assert login.json()["data"]["client"]["available"] == n09["available"] == 100000
    token = login.headers["authorization"]

    sub = {
        "name": "Noentiendo", "alias": "NOENT", "email": "noent@example.com", "available": 1000,
        "phone": "5555555555", "mobile_phone": "6666666666", "rfc": "AAMM9001010A1",
        "street": "Av. Siempre", "ext_street_number": "1234", "int_street_number": "Apt.4",
        "suburb": "Nápoles", "township": "Benito Juarez", "city": "CDMX", "state": "CDMX",
        "postal_code": "55555", "contact_name": "Juan", "contact_second_name": "Alberto",
        "contact_surname": "Perea", "contact_second_surname": "Perez",
        "contact_email": "juan@example.com", "contact_telephone_country_code": 52,
        "contact_telephone": "5555555555", "contact_mobile_phone_country_code": 52,
        "contact_mobile_phone": "6666666666", "legal_representative_name": "Iman",
        "legal_representative_second_name": "Hora", "legal_representative_surname": "Martinez",
        "legal_representative_second_surname": "Martinez",
        "legal_representative_email": "iman@example.com",
        "legal_representative_telephone_country_code": 52,
        "legal_representative_telephone": "5555555555",
        "legal_representative_mobile_phone_country_code": 52,
        "legal_representative_mobile_phone": "6666666666",
        "api_key_name": "SUB_CLIENT_ACCESS", "api_key_description": "Subclient Api Key",
        "api_key_password": "12345",
    }
    created = clientele_server.post("/nueve09/clients", headers={"Authorization": token}, json=sub)
    assert created.status == 200, created
    sub_client = created.json()["data"]["subclient"]
    assert sub_client["available"] == 1000

    # The balance, as the account's own login shows it: debited once, by this test only.
    again = nueve09_login(clientele_server, n09["api_key"], n09["password"])
    assert again.json()["data"]["client"]["available"] == 99000

    listed = clientele_server.get("/nueve09/clients", headers={"Authorization": token})
    assert listed.status == 200, listed
    assert "NOENT" in listed.text


@pytest.mark.parametrize("round_", REPEAT)
def test_makeleaps_token_then_client_created_and_read_back(
    clientele_server: clientele.Server, clientele_tenant: Dict[str, Any], round_: int
) -> None:
    ml = clientele_tenant["makeleaps"]
    token_reply = clientele_server.post(
        "/makeleaps/user/oauth2/token/",
        headers={"Authorization": ml["authorization"]},
        form={"grant_type": "client_credentials"},
    )
    assert token_reply.status == 200, token_reply
    token = token_reply.json()
    assert token["token_type"].lower() == "bearer" and token["access_token"]
    bearer = {"Authorization": f"Bearer {token['access_token']}"}

    partner = ml["partner_mid"]
    body = {
        "client_external_id": "CLIENT-1",
        "contacts": [{"contact_type": "organization", "name": "Example Co", "addresses": [], "email": None}],
    }
    created = clientele_server.post(f"/makeleaps/api/partner/{partner}/client/", headers=bearer, json=body)
    assert created.status == 201, created
    client = created.json()["response"]
    assert created.headers["location"] == client["url"]

    read = clientele_server.get(client["url"], headers=bearer)
    assert read.status == 200, read
    assert read.json()["response"]["display_name"] == "Example Co"

    listed = clientele_server.get(f"/makeleaps/api/partner/{partner}/client/", headers=bearer)
    assert listed.status == 200, listed
    assert [c["mid"] for c in listed.json()["response"]] == [client["mid"]]


def test_another_tenants_credentials_do_not_reach_this_tenants_data(
    clientele_server: clientele.Server, clientele_tenant: Dict[str, Any]
) -> None:
    other = clientele_server.admin.tenants()
    try:
        token = clientele_server.post(
            "/makeleaps/user/oauth2/token/",
            headers={"Authorization": other["makeleaps"]["authorization"]},
            form={"grant_type": "client_credentials"},
        ).json()["access_token"]
        mine = clientele_tenant["makeleaps"]["partner_mid"]
        reply = clientele_server.get(
            f"/makeleaps/api/partner/{mine}/client/", headers={"Authorization": f"Bearer {token}"}
        )
        assert reply.status == 404, reply
    finally:
        clientele_server.admin.delete_tenants(other["id"])
    with pytest.raises(clientele.AdminError) as gone:
        clientele_server.admin.delete_tenants(other["id"])
    assert gone.value.status == 404


def test_the_conformance_report_names_what_the_vendor_would_refuse(
    clientele_server: clientele.Server, clientele_tenant: Dict[str, Any]
) -> None:
    mx = clientele_tenant["mx"]
    tenant = mx["processor_id"]
    email = f"c.{unique(clientele_tenant)}@example.com"
    body = {"client": {"company_name": "MX", "email": email, "first_name": "C", "last_name": "D"}}
    ok = clientele_server.post(
        "/mx/clients", headers={"Authorization": mx["authorization"], "Accept": MX_ACCEPT}, json=body
    )
    assert ok.status == 200, ok
    assert clientele_server.admin.conformance(tenant=tenant) == []

    # Without MX's versioned Accept header the vendor answers 406, and so does Clientele.
    refused = clientele_server.post("/mx/clients", headers={"Authorization": mx["authorization"]}, json=body)
    assert refused.status == 406, refused
    rules = clientele_server.admin.conformance(tenant=tenant)
    assert [(r["code"], r["count"], r["refused"]) for r in rules] == [("mx.accept", 1, 1)], rules
