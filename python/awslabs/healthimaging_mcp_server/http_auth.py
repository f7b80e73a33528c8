"""The streamable-HTTP front door: who may call the tools (deletes included) over the network.

Two ways to authenticate, one of which is required on any address other than loopback:

- a shared bearer token (``HEALTHIMAGING_MCP_AUTH_TOKEN`` or ``--auth-token-file``), compared
  in constant time;
- OAuth 2.1 as the MCP authorization spec describes it: this server is a resource server, it
  publishes its Protected Resource Metadata (RFC 9728) naming the authorization server, and
  checks each access token with that server's token introspection endpoint (RFC 7662): the
  token must be active and issued for this server's URL (its audience).

``--allow-unauthenticated`` opens a non-loopback address without either, for a trusted network.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx2
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

log = logging.getLogger(__name__)

TOKEN_ENV = "HEALTHIMAGING_MCP_AUTH_TOKEN"
INTROSPECTION_CLIENT_ID_ENV = "HEALTHIMAGING_MCP_INTROSPECTION_CLIENT_ID"
INTROSPECTION_CLIENT_SECRET_ENV = "HEALTHIMAGING_MCP_INTROSPECTION_CLIENT_SECRET"
MIN_TOKEN_LENGTH = 16

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class AuthConfigError(ValueError):
    """The authentication settings are incomplete or unsafe; the server must not start."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BearerTokenGate:
    """ASGI middleware: HTTP requests pass only with ``Authorization: Bearer <the token>``."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], token: str) -> None:
        self._app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan events carry no credentials
            await self._app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization" and value[:7].lower() == b"bearer ":
                given = value[7:].strip()
        if given and hmac.compare_digest(given, self._token):
            await self._app(scope, receive, send)
            return
        error = "invalid_token" if given else "invalid_request"
        body = json.dumps({"error": error, "error_description": "a valid bearer token is required"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", f'Bearer error="{error}"'.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class IntrospectionTokenVerifier:
    """The SDK's `TokenVerifier`, asking the authorization server about each token (RFC 7662)."""

    def __init__(
        self,
        introspection_url: str,
        *,
        issuer_url: str,
        resource_url: str,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        self._url = introspection_url
        self._issuer = issuer_url.rstrip("/")
        self._resource = resource_url
        self._auth = (client_id, client_secret or "") if client_id else None

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            async with httpx2.AsyncClient(timeout=10.0) as http:
                response = await http.post(self._url, data={"token": token}, auth=self._auth)
            claims = response.json() if response.status_code == 200 else {}
        except (httpx2.HTTPError, ValueError) as e:
            log.warning("token introspection failed: %s", type(e).__name__)
            return None
        if not isinstance(claims, dict) or claims.get("active") is not True:
            return None
        issuer = claims.get("iss")
        if issuer is not None and str(issuer).rstrip("/") != self._issuer:
            return None
        audiences = claims.get("aud", [])
        audiences = [audiences] if isinstance(audiences, str) else list(audiences)
        # The SDK compares `resource` with this server's URL (validate_token_resource).
        resource = next((a for a in audiences if str(a).rstrip("/") == self._resource.rstrip("/")), None)
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id", "")),
            scopes=str(claims.get("scope", "")).split(),
            expires_at=claims["exp"] if isinstance(claims.get("exp"), int) else None,
            resource=str(resource or (audiences[0] if audiences else "")) or None,
            subject=str(claims["sub"]) if claims.get("sub") is not None else None,
            claims={"iss": issuer} if issuer is not None else None,
        )


@dataclass(frozen=True)
class FrontDoor:
    """How the HTTP transport authenticates callers: at most one of `token` and `oauth`."""

    token: str | None = None
    oauth: tuple[AuthSettings, IntrospectionTokenVerifier] | None = None
    allow_unauthenticated: bool = False

    @property
    def authenticated(self) -> bool:
        return self.token is not None or self.oauth is not None

    def server_settings(self) -> dict[str, Any]:
        """Keyword arguments for the MCP server (OAuth is wired in by the SDK)."""
        if self.oauth is None:
            return {}
        settings, verifier = self.oauth
        return {"auth": settings, "token_verifier": verifier}

    def wrap(self, app: Any) -> Any:
        return BearerTokenGate(app, self.token) if self.token is not None else app

    def is_open(self, host: str) -> bool:
        """Reachable from the network without authentication."""
        return not self.authenticated and not is_loopback(host)

    def check(self, host: str) -> None:
        """Refuses a network address without authentication, unless explicitly allowed."""
        if self.is_open(host) and not self.allow_unauthenticated:
            raise AuthConfigError(
                f"refusing to serve on {host} without authentication: anyone reaching the port could "
                f"call every tool, deletes included, with this server's AWS credentials. Set {TOKEN_ENV} "
                "or --auth-token-file, or --auth-issuer-url/--auth-resource-url/--auth-introspection-url "
                "for OAuth; or pass --allow-unauthenticated on a trusted network."
            )

    def warn_if_open(self, host: str) -> None:
        if self.is_open(host):
            log.warning(
                "serving on %s WITHOUT authentication (--allow-unauthenticated): anyone reaching the port "
                "can call every tool, deletes included",
                host,
            )


def front_door(
    *,
    token_file: str | None,
    issuer_url: str | None,
    resource_url: str | None,
    introspection_url: str | None,
    required_scopes: list[str] | None,
    allow_unauthenticated: bool,
    environ: MutableMapping[str, str] = os.environ,
) -> FrontDoor:
    """The front door the command line and environment ask for (AuthConfigError if inconsistent)."""
    token = environ.get(TOKEN_ENV) or None
    if token_file:
        if token:
            raise AuthConfigError(f"give the bearer token once: {TOKEN_ENV} or --auth-token-file, not both")
        try:
            with open(token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as e:
            raise AuthConfigError(f"cannot read --auth-token-file: {e.strerror}") from None
    if token is not None:
        token = token.strip()
        if len(token) < MIN_TOKEN_LENGTH:
            raise AuthConfigError(f"the bearer token must be at least {MIN_TOKEN_LENGTH} characters")
    oauth_args = {
        "--auth-issuer-url": issuer_url,
        "--auth-resource-url": resource_url,
        "--auth-introspection-url": introspection_url,
    }
    oauth = None
    if any(oauth_args.values()):
        missing = [flag for flag, value in oauth_args.items() if not value]
        if missing:
            raise AuthConfigError(f"OAuth needs {', '.join(oauth_args)} together; missing {', '.join(missing)}")
        if token is not None:
            raise AuthConfigError("choose one authentication: a bearer token or OAuth, not both")
        assert issuer_url and resource_url and introspection_url
        settings = AuthSettings(
            issuer_url=issuer_url,  # type: ignore[arg-type]
            resource_server_url=resource_url,  # type: ignore[arg-type]
            required_scopes=required_scopes or None,
            validate_token_resource=True,
        )
        verifier = IntrospectionTokenVerifier(
            introspection_url,
            issuer_url=issuer_url,
            resource_url=resource_url,
            client_id=environ.get(INTROSPECTION_CLIENT_ID_ENV),
            client_secret=environ.get(INTROSPECTION_CLIENT_SECRET_ENV),
        )
        oauth = (settings, verifier)
    return FrontDoor(token=token, oauth=oauth, allow_unauthenticated=allow_unauthenticated)
