"""Clientele for Python test suites.

The wheel puts the ``clientele`` binary on ``PATH`` and ships this package:
:class:`Server` runs it on a free port with a temporary database, and the pytest plugin
(:mod:`clientele.pytest_plugin`, registered automatically) gives tests the
``clientele_server`` and ``clientele_tenant`` fixtures.
"""

from clientele._server import (
    Admin,
    AdminError,
    Response,
    Server,
    ServerError,
    find_binary,
)

__all__ = ["Admin", "AdminError", "Response", "Server", "ServerError", "find_binary"]
