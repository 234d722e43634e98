"""pytest fixtures for Clientele, registered through the ``pytest11`` entry point.

- ``clientele_server`` (session): a running :class:`clientele.Server`. Under pytest-xdist
  the controller process runs one server and every worker attaches to it.
- ``clientele_tenant`` (function): a fresh tenant set, the dict ``POST /_admin/tenants``
  answers (``clientele_tenant["mx"]["authorization"]``, ...), so tests sharing the server
  cannot see each other's data. Sets are made one test ahead and deleted after their test
  on a thread of the plugin's (a test waits for neither), and every set is deleted before
  the session's server stops.

Options: ``--clientele-binary PATH`` (default: the installed binary, or the
``CLIENTELE_BINARY`` environment variable) and ``--clientele-arg ARG`` (repeatable; appended
to ``clientele serve``, e.g. ``--clientele-arg=--nueve09-min-balance=100``).
When a test fails, what the server wrote to stderr during it is added to the report.
"""

from __future__ import annotations

import queue
import threading
import warnings
from typing import Any, Dict, Generator, List, Optional, Tuple

import pytest

from clientele._server import Admin, Server, ServerError

_STDERR_SECTION = "clientele server stderr"
_stderr_start = pytest.StashKey[int]()


class _TenantSets:
    """Tenant sets made one test ahead and deleted after their test, on a thread of its own,
    so that a test neither waits for its set nor for the deletion of the one before: the
    server does that work while the tests run.

    A reset (``clientele_server.admin.reset()``) deletes the set made ahead; it is noticed
    through the handle's count of resets, and a new one is made at once.
    """

    AHEAD = 1
    _MAKE = "make"

    def __init__(self, admin: Admin) -> None:
        self.admin = admin
        self.jobs: "queue.Queue[Optional[str]]" = queue.Queue()
        self.ready: "queue.Queue[Tuple[int, Any]]" = queue.Queue()
        self.thread: Optional[threading.Thread] = None
        self.failures: List[str] = []

    def take(self) -> Dict[str, Any]:
        """A fresh set: the one made ahead, when no reset came since."""
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="clientele-tenants", daemon=True)
            self.thread.start()
            for _ in range(self.AHEAD):
                self.jobs.put(self._MAKE)
        self.jobs.put(self._MAKE)
        resets, made = self.ready.get(timeout=120)
        if isinstance(made, BaseException):
            raise made
        if resets != self.admin.resets:
            return self.take()
        return made  # type: ignore[no-any-return]

    def give_back(self, set_id: str) -> None:
        """Deletes the set once its test is done, without making the next test wait."""
        self.jobs.put(set_id)

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if job == self._MAKE:
                resets = self.admin.resets
                try:
                    self.ready.put((resets, self.admin.tenants()))
                except Exception as error:  # any failure: raised in the test that takes it
                    self.ready.put((resets, error))
                continue
            try:
                self.admin.delete_tenants(job)
            except Exception as error:  # any failure: reported at the end of the session
                self.failures.append(f"{job}: {error}")

    def close(self) -> None:
        """Deletes every set given back and every one made ahead; warns of any that failed."""
        if self.thread is None:
            return
        self.jobs.put(None)
        self.thread.join(timeout=120)
        self.thread = None
        while not self.ready.empty():
            resets, made = self.ready.get()
            if isinstance(made, dict) and resets == self.admin.resets:
                try:
                    self.admin.delete_tenants(made["id"])
                except Exception as error:  # any failure: reported just below
                    self.failures.append(f"{made['id']}: {error}")
        if self.failures:
            warnings.warn(f"clientele: tenant sets not deleted: {self.failures[:5]}")


_tenant_sets = pytest.StashKey[_TenantSets]()


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
        request.config.stash[_tenant_sets] = _TenantSets(server.admin)
        try:
            yield server
        finally:
            request.config.stash[_tenant_sets].close()
        return
    server = _new_server(request.config).start()
    request.config.stash[_tenant_sets] = _TenantSets(server.admin)
    try:
        yield server
    finally:
        request.config.stash[_tenant_sets].close()
        server.stop()


@pytest.fixture
def clientele_tenant(
    request: pytest.FixtureRequest, clientele_server: Server
) -> Generator[Dict[str, Any], None, None]:
    """A fresh tenant set for this test, as ``POST /_admin/tenants`` answers it."""
    request.node.stash[_stderr_start] = clientele_server.stderr_size()
    tenant = request.config.stash[_tenant_sets].take()
    try:
        yield tenant
    finally:
        request.config.stash[_tenant_sets].give_back(tenant["id"])


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

