"""A create and a read in every flavour, through the clients openapi-python-client generated
from the served documents, used as generated (no edits): `python create_and_read.py BASE_URL`
with the packages client_mx, client_shieldconex, client_nueve09 and client_makeleaps on the
path. `.ci/run` runs it against a `--demo` server after `mypy --strict` has checked it against
the generated types. Any failure raises; "4 passed, 0 failed" is printed at the end."""

import base64
import sys
import uuid
from typing import Protocol, TypeVar
from uuid import UUID

import client_makeleaps
import client_mx
import client_nueve09
import client_shieldconex
from client_makeleaps.api.authentication import issue_token
from client_makeleaps.api.clients import create_client as makeleaps_create
from client_makeleaps.api.clients import get_client as makeleaps_get
from client_makeleaps.models import (
    ClientCreate as MakeLeapsClientCreate,
)
from client_makeleaps.models import (
    CreateClientResponse201,
    GetClientResponse200,
    NewContact,
    NewContactContactType,
    TokenRequest,
    TokenResponse,
)
from client_mx.api.clients import create_client as mx_create
from client_mx.api.document import get_open_api_document as mx_document
from client_mx.models import CreateClientRequest, CreateClientRequestClient, OpenApiDocument
from client_nueve09.api.authentication import log_in
from client_nueve09.api.clients import create_subclient, get_subclient
from client_nueve09.models import (
    CreateSubclientRequest,
    CreateSubclientResponse,
    LoginRequest,
    LoginRequestApiClient,
    LoginResponse,
    SubclientResponse,
)
from client_shieldconex.api.clients import create_client as shieldconex_create
from client_shieldconex.api.clients import get_client as shieldconex_get
from client_shieldconex.models import (
    ClientCreate,
    ClientDetails,
    ClientIdResult,
    ReferenceType0,
    UserReference,
)


def basic(user: str, secret: str) -> str:
    """The token part of a Basic `Authorization` header."""
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


class Answer(Protocol):
    """What every generated package's `Response` has (each package has its own class)."""

    @property
    def status_code(self) -> int: ...
    @property
    def content(self) -> bytes: ...
    @property
    def parsed(self) -> object: ...


T = TypeVar("T")


def parsed(answer: Answer, kind: type[T], what: str) -> T:
    """The answer's body as the generated model `kind` (the success), or a failure."""
    if not isinstance(answer.parsed, kind):
        raise AssertionError(f"{what}: {answer.status_code} {answer.content!r}")
    return answer.parsed


def mx(base: str) -> None:
    # The demo processor. No Accept is passed: the generated call sends the declared default.
    client = client_mx.AuthenticatedClient(
        base_url=f"{base}/mx", token=basic("PROCESSOR-1234", "API-KEY-4567"), prefix="Basic"
    )
    email = f"py-{uuid.uuid4().hex[:12]}@example.com"
    body = CreateClientRequest(
        client=CreateClientRequestClient(
            company_name="Generated Co", email=email, first_name="Py", last_name="Thon"
        )
    )
    created = mx_create.sync_detailed(client=client, body=body)
    check(created.status_code == 200, f"MX create: {created.status_code} {created.content!r}")
    # MX's API has no read of a client (the vendor publishes only the create); the read is
    # the document's own operation, through the same generated client.
    parsed(mx_document.sync_detailed(client=client), OpenApiDocument, "MX read")


def shieldconex(base: str) -> None:
    # The demo's Partner Supervisor of partner 792; the contact is that user (id 2666).
    client = client_shieldconex.AuthenticatedClient(
        base_url=f"{base}/shieldconex",
        token=basic("waterford@example.com", "waterford123"),
        prefix="Basic",
    )
    name = f"Py Client {uuid.uuid4().hex[:12]}"
    body = ClientCreate(
        name=name, direct_partner=ReferenceType0(id=792), contact=UserReference(id=2666)
    )
    created = parsed(
        shieldconex_create.sync_detailed(client=client, body=body),
        ClientIdResult,
        "ShieldConex create",
    )
    # The id goes from the create's answer to the read as it is: both are `int`.
    read = parsed(
        shieldconex_get.sync_detailed(created.id, client=client), ClientDetails, "ShieldConex read"
    )
    check(read.name == name, "ShieldConex read: another client")
    check(read.is_active, "ShieldConex: isActive left out is true")


def nueve09(base: str) -> None:
    # The demo account logs in; its token comes back in the Authorization header.
    anonymous = client_nueve09.Client(base_url=f"{base}/nueve09")
    login = log_in.sync_detailed(
        client=anonymous,
        body=LoginRequest(api_client=LoginRequestApiClient(api_key="api_key", password="password")),
    )
    parsed(login, LoginResponse, "Nueve09 login")
    scheme, _, token = login.headers["Authorization"].partition(" ")
    check(scheme == "Bearer", "Nueve09 login: a Bearer token")
    client = client_nueve09.AuthenticatedClient(base_url=f"{base}/nueve09", token=token)
    # Alias, RFC and API-key name are unique per account.
    tag = uuid.uuid4().hex[:6].upper()
    body = CreateSubclientRequest(
        name=f"Generated {tag}",
        alias=f"PY{tag}",
        email="py@example.com",
        available=10,
        phone="5555555555",
        mobile_phone="6666666666",
        rfc=f"PYTH{tag}A1",
        street="Av. Siempre",
        ext_street_number="1234",
        suburb="Napoles",
        township="Benito Juarez",
        city="CDMX",
        state="CDMX",
        postal_code="55555",
        contact_name="Juan",
        contact_surname="Perea",
        contact_email="juan@example.com",
        contact_telephone_country_code="52",
        contact_telephone="5555555555",
        contact_mobile_phone_country_code="52",
        contact_mobile_phone="6666666666",
        api_key_name=f"PY_KEY_{tag}",
        api_key_password="12345",
    )
    created = parsed(
        create_subclient.sync_detailed(client=client, body=body),
        CreateSubclientResponse,
        "Nueve09 create",
    )
    # The id goes from the create's answer to the read as it is: both are `UUID`.
    subclient_id: UUID = created.data.subclient.id
    read = parsed(
        get_subclient.sync_detailed(subclient_id, client=client), SubclientResponse, "Nueve09 read"
    )
    check(read.data.subclient.alias == f"PY{tag}", "Nueve09 read: another sub-client")


def makeleaps(base: str) -> None:
    # The demo API application gets a token; the demo partner's mid is all zeros.
    application = client_makeleaps.AuthenticatedClient(
        base_url=f"{base}/makeleaps",
        token=basic("demo-client-id", "demo-client-secret"),
        prefix="Basic",
    )
    issued = parsed(
        issue_token.sync_detailed(
            client=application, body=TokenRequest(grant_type="client_credentials")
        ),
        TokenResponse,
        "MakeLeaps token",
    )
    client = client_makeleaps.AuthenticatedClient(
        base_url=f"{base}/makeleaps", token=issued.access_token
    )
    partner = "0000000000000000000"
    external_id = f"py-{uuid.uuid4().hex[:12]}"
    body = MakeLeapsClientCreate(
        contacts=[NewContact(contact_type=NewContactContactType.ORGANIZATION, name="Generated KK")],
        client_external_id=external_id,
    )
    created = parsed(
        makeleaps_create.sync_detailed(partner, client=client, body=body),
        CreateClientResponse201,
        "MakeLeaps create",
    )
    # The envelope's `response` is required: the mid is there without a check for UNSET.
    read = parsed(
        makeleaps_get.sync_detailed(partner, created.response.mid, client=client),
        GetClientResponse200,
        "MakeLeaps read",
    )
    check(read.response.client_external_id == external_id, "MakeLeaps read: another client")


def main() -> None:
    base = sys.argv[1].rstrip("/")
    passed, failed = 0, 0
    for name, run in [
        ("mx", mx),
        ("shieldconex", shieldconex),
        ("nueve09", nueve09),
        ("makeleaps", makeleaps),
    ]:
        try:
            run(base)
            passed += 1
            print(f"{name}: created and read")
        except Exception as e:  # every flavour is tried, then the run fails
            failed += 1
            print(f"{name}: FAILED: {e!r}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
