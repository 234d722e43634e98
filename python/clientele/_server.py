"""Run the ``clientele`` binary as a test fixture and talk to its admin API.

Only the standard library is used: :mod:`subprocess` to run the server and
:mod:`urllib.request` to call it.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence, Type, Union

__all__ = [
    "Admin",
    "AdminError",
    "Response",
    "Server",
    "ServerError",
    "find_binary",
]

READY_PREFIX = "listening on "
BINARY_NAME = "clientele.exe" if sys.platform == "win32" else "clientele"


class ServerError(RuntimeError):
    """The server could not be started, or stopped unexpectedly."""


class AdminError(RuntimeError):
    """An admin call answered with a status other than 2xx."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} /_admin{path} answered {status}: {body}")
        self.method = method
        self.path = path
        self.status = status
        self.body = body


def find_binary(explicit: Optional[Union[str, "os.PathLike[str]"]] = None) -> str:
    """The ``clientele`` executable to run.

    In order: ``explicit``; the ``CLIENTELE_BINARY`` environment variable; the one
    installed next to this package (the wheel puts it in the interpreter's scripts
    folder, which is on ``PATH`` only when the virtual environment is activated);
    ``clientele`` on ``PATH``.
    """
    if explicit:
        return os.fspath(explicit)
    from_env = os.environ.get("CLIENTELE_BINARY")
    if from_env:
        return from_env
    for scheme_path in _scripts_dirs():
        candidate = Path(scheme_path) / BINARY_NAME
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which("clientele")
    if on_path:
        return on_path
    raise ServerError(
        "the clientele binary was not found: install the clientele wheel, put the binary "
        "on PATH, or set CLIENTELE_BINARY (pytest: --clientele-binary)"
    )


def _scripts_dirs() -> List[str]:
    dirs = [sysconfig.get_path("scripts")]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():
        dirs.append(sysconfig.get_path("scripts", user_scheme))
    return [d for d in dirs if d]


class Response:
    """A finished HTTP exchange: status, headers and body."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers: Dict[str, str] = {k.lower(): v for k, v in headers.items()}
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.text[:200]!r}>"


def _request(
    url: str,
    method: str,
    headers: Optional[Mapping[str, str]] = None,
    body: Union[bytes, str, None] = None,
    timeout: float = 30.0,
) -> Response:
    data = body.encode("utf-8") if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with _opener().open(req, timeout=timeout) as reply:
            return Response(reply.status, dict(reply.headers.items()), reply.read())
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, dict(error.headers.items()), error.read())


_OPENER: Optional[urllib.request.OpenerDirector] = None


def _opener() -> urllib.request.OpenerDirector:
    """One opener for every call (building one per call cost more than the call): no proxy,
    as the server is on loopback whatever http_proxy says, and no redirects followed."""
    global _OPENER
    if _OPENER is None:
        _OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    return _OPENER


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers to look at (a dashboard login, a link), not to follow."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _KeptAlive(threading.local):
    """Each thread's own kept-alive connection to one server."""

    connection: Optional[http.client.HTTPConnection] = None


class Admin:
    """The admin API (``/_admin``) of a running server.

    Calls go over one kept-alive connection per thread: a tenant set per test is two admin
    calls, and a new connection for each cost more than the server's work.
    """

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._kept = _KeptAlive()
        #: How many resets this handle made: tenant sets made before one are gone.
        self.resets = 0

    def _exchange(self, method: str, path: str, headers: Dict[str, str], data: Optional[str]) -> Response:
        parts = urllib.parse.urlsplit(self.url)
        target = f"{parts.path}/_admin{path}"
        body = data.encode("utf-8") if data is not None else None
        for attempt in (1, 2):
            reused = self._kept.connection is not None
            if self._kept.connection is None:
                kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
                self._kept.connection = kind(parts.netloc, timeout=30)
            connection = self._kept.connection
            try:
                connection.request(method, target, body=body, headers=headers)
                reply = connection.getresponse()
                content = reply.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                self._kept.connection = None
                # A kept-alive connection the server closed while idle: once more, on a new one.
                if reused and attempt == 1:
                    continue
                raise
            except BaseException:
                connection.close()
                self._kept.connection = None
                raise
            if reply.will_close:
                connection.close()
                self._kept.connection = None
            return Response(reply.status, dict(reply.getheaders()), content)
        raise AssertionError("unreachable: the second attempt returns or raises")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """``METHOD /_admin{path}`` with a JSON body; the decoded JSON answer.

        Raises :class:`AdminError` unless the answer is 2xx.
        """
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        reply = self._exchange(method, path, headers, data)
        if not 200 <= reply.status < 300:
            raise AdminError(method, path, reply.status, reply.text)
        return reply.json() if reply.body else None

    def reset(self) -> None:
        """Forget every tenant, client, mail and token (``POST /_admin/reset``)."""
        self.resets += 1
        self.call("POST", "/reset")

    def seed(self, document: Mapping[str, Any]) -> Dict[str, Any]:
        """Load tenants from a seed document (``POST /_admin/seed``)."""
        return self.call("POST", "/seed", document)  # type: ignore[no-any-return]

    def tenants(self) -> Dict[str, Any]:
        """A fresh isolated tenant set, one tenant per flavour (``POST /_admin/tenants``).

        The answer has the set's ``id`` and, per flavour, what a test needs to call it:
        ``mx.authorization``, ``shieldconex.partner.id``, ``nueve09.api_key``,
        ``makeleaps.client_id`` and so on.
        """
        return self.call("POST", "/tenants")  # type: ignore[no-any-return]

    def delete_tenants(self, set_id: str) -> None:
        """Remove a tenant set and everything its tenants created."""
        self.call("DELETE", f"/tenants/{urllib.parse.quote(set_id, safe='')}")

    def mail(self, to: Optional[str] = None) -> List[Dict[str, Any]]:
        """Mails sent (newest last), optionally only those to one address."""
        query = f"?{urllib.parse.urlencode({'to': to})}" if to else ""
        return self.call("GET", f"/mail{query}")["messages"]  # type: ignore[no-any-return]

    def links(self, to: Optional[str] = None) -> List[str]:
        """Every link in those mails, in order."""
        return [link for mail in self.mail(to) for link in mail.get("links", [])]

    def fail_mail(self, count: int) -> None:
        """Make the next ``count`` mail deliveries fail."""
        self.call("POST", "/mail/failures", {"count": count})

    def requests(
        self,
        flavour: Optional[str] = None,
        path: Optional[str] = None,
        since: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """The request journal (oldest first), optionally filtered."""
        params = {k: v for k, v in (("flavour", flavour), ("path", path), ("since", since)) if v}
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return self.call("GET", f"/requests{query}")["requests"]  # type: ignore[no-any-return]

    def conformance(
        self,
        tenant: Optional[str] = None,
        flavour: Optional[str] = None,
        since: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """Deviations from the vendors' contracts, one summary per rule (``code``, ``rule``,
        ``source``, ``count``, ``refused``, first and last example). End a test with
        ``assert server.admin.conformance(tenant=...) == []`` to know that the real vendor
        would have accepted every request it made."""
        params = {
            k: v for k, v in (("tenant", tenant), ("flavour", flavour), ("since", since)) if v
        }
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return self.call("GET", f"/conformance{query}")["rules"]  # type: ignore[no-any-return]

    def clear_requests(self) -> None:
        self.call("DELETE", "/requests")

    def fault(self, **rule: Any) -> Dict[str, Any]:
        """Add a fault rule: ``fault(flavour="mx", path="/clients", status=503, times=1)``.

        Keys: ``flavour``, ``method``, ``path`` (``*`` matches any run of characters),
        ``status``, ``body``, ``delay_ms``, ``drop``, ``times``. Answers the rule with its ``id``.
        """
        return self.call("POST", "/faults", rule)  # type: ignore[no-any-return]

    def faults(self) -> List[Dict[str, Any]]:
        return self.call("GET", "/faults")["faults"]  # type: ignore[no-any-return]

    def clear_faults(self, fault_id: Optional[int] = None) -> None:
        """Remove one fault rule, or all of them."""
        self.call("DELETE", "/faults" if fault_id is None else f"/faults/{fault_id}")

    def clock(self) -> Dict[str, Any]:
        """The server's clock: ``{"now": ISO-8601, "offset_ms": N}``."""
        return self.call("GET", "/clock")  # type: ignore[no-any-return]

    def advance_clock(self, by: str) -> Dict[str, Any]:
        """Move the server's clock forward: ``advance_clock("8d")`` (s, m, h or d)."""
        return self.call("POST", "/clock", {"advance": by})  # type: ignore[no-any-return]

    def set_clock(self, at: str) -> Dict[str, Any]:
        """Set the server's clock: ``set_clock("2030-01-01T00:00:00Z")``."""
        return self.call("POST", "/clock", {"set": at})  # type: ignore[no-any-return]

    def reset_clock(self) -> Dict[str, Any]:
        """Back to real time."""
        return self.call("DELETE", "/clock")  # type: ignore[no-any-return]


def _marks_deployment(args: Sequence[str], env: Mapping[str, str]) -> bool:
    """Whether ``args`` or ``env`` give what makes the binary refuse fast hashing."""
    options: Dict[str, str] = {}
    if env.get("CLIENTELE_TLS_CERT"):
        options["--tls-cert"] = env["CLIENTELE_TLS_CERT"]
    if env.get("CLIENTELE_PUBLIC_URL"):
        options["--public-url"] = env["CLIENTELE_PUBLIC_URL"]
    for i, arg in enumerate(args):
        name, equals, value = arg.partition("=")
        if name in ("--tls-cert", "--public-url"):
            following = args[i + 1] if i + 1 < len(args) else ""
            options[name] = value if equals else following
    return "--tls-cert" in options or options.get("--public-url", "").strip().lower().startswith(
        "https:"
    )


class Server:
    """A ``clientele serve`` process on a free loopback port with a temporary database.

    Use it as a context manager::

        with clientele.Server() as server:
            tenant = server.admin.tenants()
            reply = server.post("/mx/clients", json={...},
                                headers={"Authorization": tenant["mx"]["authorization"]})

    The server's stderr goes to a file (``stderr_path``; ``stderr()`` reads it), never to
    a pipe, so a chatty server cannot stall. ``args`` are appended to the command line
    (``["--demo"]``, ``["--nueve09-min-balance", "100"]``); a repeated option takes its
    last value.

    Chosen passwords are hashed at argon2id's least cost (``--fast-password-hashing``), so
    that password-bearing calls cost microseconds, not tens of milliseconds. The binary
    refuses that mode with ``--tls-cert`` or an https ``--public-url``: with those in
    ``args`` (or in the environment) it is left off. ``fast_password_hashing=False`` leaves
    it off always.
    """

    def __init__(
        self,
        binary: Optional[Union[str, "os.PathLike[str]"]] = None,
        args: Sequence[str] = (),
        admin_token: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        startup_timeout: float = 30.0,
        workdir: Optional[Union[str, "os.PathLike[str]"]] = None,
        fast_password_hashing: Optional[bool] = None,
    ) -> None:
        self.binary = binary
        self.args = list(args)
        self.fast_password_hashing = fast_password_hashing
        self.admin_token = admin_token or secrets.token_hex(24)
        self.env = dict(env) if env is not None else None
        self.startup_timeout = startup_timeout
        self._workdir_given = workdir
        self._tmp: Optional[tempfile.TemporaryDirectory[str]] = None
        self.workdir: Optional[Path] = None
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._stderr_file: Optional[IO[bytes]] = None
        self.stderr_path: Optional[Path] = None
        self._url: Optional[str] = None
        #: The exit code once :meth:`stop` has stopped the process.
        self.returncode: Optional[int] = None
        self._admin: Optional[Admin] = None

    @classmethod
    def attach(cls, url: str, admin_token: str, stderr_path: Optional[str] = None) -> "Server":
        """A handle on a server that another process runs (pytest-xdist workers use it)."""
        server = cls(admin_token=admin_token)
        server._url = url.rstrip("/")
        server.stderr_path = Path(stderr_path) if stderr_path else None
        return server

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> "Server":
        if self._url is not None:
            raise ServerError("the server is already started")
        binary = find_binary(self.binary)
        if self._workdir_given is not None:
            self.workdir = Path(self._workdir_given)
            self.workdir.mkdir(parents=True, exist_ok=True)
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="clientele-")
            self.workdir = Path(self._tmp.name)
        self.stderr_path = self.workdir / "stderr.log"
        self._stderr_file = open(self.stderr_path, "wb")
        command = [
            binary,
            "serve",
            # OPTION=VALUE: a value that starts with "-" must not be read as an option.
            "--listen=127.0.0.1:0",
            f"--db={self.workdir / 'clientele.db'}",
            f"--mail=mbox:{self.workdir / 'clientele.mbox'}",
            f"--admin-token={self.admin_token}",
        ]
        env = dict(os.environ if self.env is None else self.env)
        fast = self.fast_password_hashing
        if fast is None:
            fast = not _marks_deployment(self.args, env)
        if fast:
            command.append("--fast-password-hashing")
        command.extend(self.args)
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._stderr_file,
                env=env,
            )
        except OSError as error:
            self._cleanup()
            raise ServerError(f"cannot run {binary}: {error}") from error
        try:
            self._url = self._await_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _await_ready(self) -> str:
        process = self._process
        assert process is not None and process.stdout is not None
        stdout = process.stdout
        first_line: List[bytes] = []
        got_line = threading.Event()

        def read_stdout() -> None:
            # The readiness line, then keep draining so the pipe never fills.
            for n, line in enumerate(iter(stdout.readline, b"")):
                if n == 0:
                    first_line.append(line)
                    got_line.set()
            got_line.set()

        threading.Thread(target=read_stdout, name="clientele-stdout", daemon=True).start()
        if not got_line.wait(self.startup_timeout):
            raise ServerError(
                f"clientele printed no readiness line within {self.startup_timeout:g} s"
                + self._stderr_tail()
            )
        line = first_line[0].decode("utf-8", errors="replace").strip() if first_line else ""
        if not line.startswith(READY_PREFIX):
            if not line:  # stdout closed: the process is exiting
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            raise ServerError(
                f"clientele did not start (exit code {process.poll()}, stdout {line!r})"
                + self._stderr_tail()
            )
        return line[len(READY_PREFIX) :].rstrip("/")

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """Stops the server (SIGTERM, then SIGKILL after ``timeout``); its exit code."""
        code: Optional[int] = None
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            code = self.returncode = process.returncode
            self._url = None
            if process.stdout is not None:
                process.stdout.close()
        self._cleanup()
        return code

    def _cleanup(self) -> None:
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "Server":
        return self if self._url is not None else self.start()

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if exc is not None and self.stderr_path is not None and self._tmp is not None:
            sys.stderr.write(f"clientele server stderr:\n{self.stderr()}\n")
        self.stop()

    # -- state ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        if self._url is None:
            raise ServerError("the server is not started")
        return self._url

    @property
    def admin(self) -> Admin:
        """The admin API: one handle per server, so that its kept-alive connections and its
        count of resets are shared by everyone who uses it."""
        if self._admin is None or self._admin.url != self.url.rstrip("/"):
            self._admin = Admin(self.url, self.admin_token)
        return self._admin

    @property
    def pid(self) -> Optional[int]:
        return self._process.pid if self._process is not None else None

    def running(self) -> bool:
        """True while the process this object started is alive (attached: while reachable)."""
        if self._process is not None:
            return self._process.poll() is None
        return self._url is not None

    def stderr(self, since: int = 0) -> str:
        """What the server wrote to stderr, from byte offset ``since``."""
        if self.stderr_path is None:
            return ""
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def stderr_size(self) -> int:
        try:
            return self.stderr_path.stat().st_size if self.stderr_path else 0
        except OSError:
            return 0

    def _stderr_tail(self, limit: int = 4000) -> str:
        text = self.stderr()
        return f"\n--- clientele stderr ---\n{text[-limit:]}" if text else ""

    # -- plain HTTP ----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        json: Any = None,
        form: Optional[Mapping[str, str]] = None,
        body: Union[bytes, str, None] = None,
        timeout: float = 30.0,
    ) -> Response:
        """``METHOD url+path``; redirects are returned, not followed; any status is returned.

        ``json=`` sends a JSON body, ``form=`` a URL-encoded one, ``body=`` raw bytes.
        """
        all_headers = dict(headers or {})
        if json is not None:
            all_headers.setdefault("Content-Type", "application/json")
            body = _json_dumps(json)
        elif form is not None:
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            body = urllib.parse.urlencode(form)
        target = path if path.startswith(("http://", "https://")) else f"{self.url}{path}"
        return _request(target, method, all_headers, body, timeout)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)

    def wait_until(self, predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
        """Polls ``predicate()`` until it returns something truthy (mail is sent in the
        background); that value, or :class:`TimeoutError`."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout:g} s")
            time.sleep(interval)


def _json_dumps(value: Any) -> str:
    return json.dumps(value)
