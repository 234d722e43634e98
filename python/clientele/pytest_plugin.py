"""pytest fixtures for Clientele, registered through the ``pytest11`` entry point.

- ``clientele_server`` (session): a running :class:`clientele.Server`. Under pytest-xdist
  the controller process runs one server and every worker attaches to it.
- ``clientele_tenant`` (function): a fresh tenant set, the dict ``POST /_admin/tenants``
  answers (``clientele_tenant["mx"]["authorization"]``, ...), so tests sharing the server
  cannot see each other's data. It is deleted after the test on a thread of its own (a test
  does not wait for it), and every set is deleted before the session's server stops.

Options: ``--clientele-binary PATH`` (default: the installed binary, or the
``CLIENTELE_BINARY`` environment variable) and ``--clientele-arg ARG`` (repeatable; appended
to ``clientele serve``, e.g. ``--clientele-arg=--nueve09-min-balance=100``).
When a test fails, what the server wrote to stderr during it is added to the report.
"""

from __future__ import annotations

import queue
import threading
import warnings
from typing import Any, Dict, Generator, List, Optional

import pytest

from clientele._server import Admin, Server, ServerError

_STDERR_SECTION = "clientele server stderr"
_stderr_start = pytest.StashKey[int]()


class _Deleter:
    """Deletes finished tests' tenant sets on a thread of its own, in the order given."""

    def __init__(self, admin: Admin) -> None:
        self.admin = admin
        self.queue: "queue.Queue[Optional[str]]" = queue.Queue()
        self.thread: Optional[threading.Thread] = None
        self.failures: List[str] = []

    def delete(self, set_id: str) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="clientele-tenants", daemon=True)
            self.thread.start()
        self.queue.put(set_id)

    def _run(self) -> None:
        while True:
            set_id = self.queue.get()
            if set_id is None:
                return
            try:
                self.admin.delete_tenants(set_id)
            except Exception as error:  # any failure: reported at the end of the session
                self.failures.append(f"{set_id}: {error}")

    def close(self) -> None:
        """Waits until every set given is deleted; warns of any that could not be."""
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join(timeout=120)
            self.thread = None
        if self.failures:
            warnings.warn(f"clientele: tenant sets not deleted: {self.failures[:5]}")


_deleter = pytest.StashKey[_Deleter]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("clientele", "Clientele mock server")
    group.addoption(
        "--clientele-binary",
        metavar="PATH",
        default=None,
        help="the clientele binary to run (default: $CLIENTELE_BINARY, then the installed one)",
    )
    group.addoption(
        "--clientele-arg",
        metavar="ARG",
        action="append",
        default=[],
        help="an argument appended to `clientele serve` (repeatable), "
        "e.g. --clientele-arg=--demo",
    )


def _new_server(config: pytest.Config) -> Server:
    return Server(
        binary=config.getoption("clientele_binary"),
        args=list(config.getoption("clientele_arg")),
    )


class _Controller:
    """Under pytest-xdist: the controller's one server, started when workers are set up."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.server: Optional[Server] = None
        self.error: Optional[str] = None

    def workerinput(self) -> Dict[str, Any]:
        if self.server is None and self.error is None:
            try:
                self.server = _new_server(self.config).start()
            except ServerError as error:
                self.error = str(error)
        if self.server is None:
            return {"clientele_error": self.error}
        return {
            "clientele_url": self.server.url,
            "clientele_admin_token": self.server.admin_token,
            "clientele_stderr": str(self.server.stderr_path),
        }

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput.update(self.workerinput())

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def pytest_configure(config: pytest.Config) -> None:
    # The xdist controller (it has worker nodes to configure) owns the shared server.
    is_worker = hasattr(config, "workerinput")
    uses_xdist = config.pluginmanager.hasplugin("xdist") and bool(
        getattr(config.option, "numprocesses", None)
        or getattr(config.option, "tx", None)
    )
    if uses_xdist and not is_worker:
        config.pluginmanager.register(_Controller(config), "clientele-controller")


@pytest.fixture(scope="session")
def clientele_server(request: pytest.FixtureRequest) -> Generator[Server, None, None]:
    """A running Clientele server shared by the session (by every xdist worker too)."""
    workerinput: Optional[Dict[str, Any]] = getattr(request.config, "workerinput", None)
    if workerinput is not None and (
        "clientele_url" in workerinput or "clientele_error" in workerinput
    ):
        if workerinput.get("clientele_error"):
            raise ServerError(workerinput["clientele_error"])
        server = Server.attach(
            workerinput["clientele_url"],
            workerinput["clientele_admin_token"],
            workerinput.get("clientele_stderr"),
        )
        request.config.stash[_deleter] = _Deleter(server.admin)
        try:
            yield server
        finally:
            request.config.stash[_deleter].close()
        return
    server = _new_server(request.config).start()
    request.config.stash[_deleter] = _Deleter(server.admin)
    try:
        yield server
    finally:
        request.config.stash[_deleter].close()
        server.stop()


@pytest.fixture
def clientele_tenant(
    request: pytest.FixtureRequest, clientele_server: Server
) -> Generator[Dict[str, Any], None, None]:
    """A fresh tenant set for this test, as ``POST /_admin/tenants`` answers it."""
    request.node.stash[_stderr_start] = clientele_server.stderr_size()
    tenant = clientele_server.admin.tenants()
    try:
        yield tenant
    finally:
        request.config.stash[_deleter].delete(tenant["id"])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed:
        return
    since = item.stash.get(_stderr_start, None)
    server: Optional[Server] = None
    fixtures: Dict[str, Any] = getattr(item, "funcargs", {})
    candidate = fixtures.get("clientele_server")
    if isinstance(candidate, Server):
        server = candidate
    if server is None or since is None:
        return
    text = server.stderr(since)
    if text:
        report.sections.append((_STDERR_SECTION, text[-20000:]))

