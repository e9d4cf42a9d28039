"""OpenID Connect login (authorization code flow with PKCE, state and nonce) through authlib.

Stateless across API processes: the state, nonce and PKCE verifier travel in an encrypted,
short-lived cookie bound to the browser that started the login (no server-side session). The ID
token is verified against the provider's JWKS (signature, ``iss``, ``aud``, ``exp``, ``nonce``);
its ``sub`` finds or creates the portal user, and the portal then issues its own tokens.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.orm import Session

from dda.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from dda.core.settings import OidcSettings
from dda.portal.context import Portal
from dda.portal.db import RoleAssignment, User
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.repositories import users as users_repo
from dda.portal.security import NotAuthenticated
from dda.portal.services.auth import USERNAME, TokenPair, create_user, issue_tokens

STATE_TTL_S = 600
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]  # never HS*/none
_DISCOVERY_TTL_S = 3600
_discovery_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def settings_of(portal: Portal) -> OidcSettings:
    oidc = portal.settings.portal.oidc
    if oidc is None:
        raise NotFound("OpenID Connect login is not configured", hint="log in with a username and password")
    return oidc


def _fetch_json(url: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=10.0)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise Unavailable(
            "the OpenID Connect provider did not answer",
            hint="check DDA_PORTAL__OIDC__ISSUER and the provider",
        ) from exc
    if not isinstance(body, dict):
        raise Unavailable("the OpenID Connect provider answered nonsense", hint="check the discovery URL")
    return body


def discover(oidc: OidcSettings) -> dict[str, Any]:
    """The provider's metadata (cached per process for an hour: it is configuration, not state)."""
    url = oidc.discovery_url or oidc.issuer.rstrip("/") + "/.well-known/openid-configuration"
    cached = _discovery_cache.get(url)
    if cached and time.monotonic() - cached[0] < _DISCOVERY_TTL_S:
        return cached[1]
    metadata = _fetch_json(url)
    if metadata.get("issuer") != oidc.issuer:
        raise Unavailable(
            "the provider's metadata names another issuer",
            hint="DDA_PORTAL__OIDC__ISSUER must match it exactly",
        )
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(metadata.get(field), str):
            raise Unavailable(f"the provider's metadata lacks {field}", hint="check the discovery URL")
    _discovery_cache[url] = (time.monotonic(), metadata)
    return metadata


def _fernet(portal: Portal) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(portal.derived_key("oidc-login-state")))


def _client(oidc: OidcSettings, redirect_uri: str) -> Any:
    from authlib.integrations.httpx_client import OAuth2Client

    secret = oidc.client_secret.get_secret_value() if oidc.client_secret else None
    return OAuth2Client(
        client_id=oidc.client_id,
        client_secret=secret,
        scope=oidc.scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        timeout=10.0,
    )


@dataclass(frozen=True)
class LoginStart:
    authorization_url: str
    cookie: str  # encrypted state, nonce and PKCE verifier; set it HttpOnly on the browser


def start(portal: Portal, redirect_uri: str, return_to: str | None) -> LoginStart:
    oidc = settings_of(portal)
    if return_to is not None and (not return_to.startswith("/") or return_to.startswith("//")):
        raise InvalidInput("return_to must be a path of this portal", hint="e.g. /usecases")
    metadata = discover(oidc)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    with _client(oidc, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            metadata["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
        )
    payload = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "return_to": return_to,
        "uri": redirect_uri,
    }
    return LoginStart(url, _fernet(portal).encrypt(json.dumps(payload).encode()).decode())


def _read_cookie(portal: Portal, cookie: str | None, state: str) -> dict[str, Any]:
    if not cookie:
        raise NotAuthenticated("the login was not started in this browser", hint="start the login again")
    try:
        data: dict[str, Any] = json.loads(_fernet(portal).decrypt(cookie.encode(), ttl=STATE_TTL_S))
    except (InvalidToken, ValueError) as exc:
        raise NotAuthenticated("the login took too long or was tampered with", hint="start it again") from exc
    if not secrets.compare_digest(str(data.get("state", "")), state):
        raise NotAuthenticated("the login state does not match", hint="start the login again")
    return data


def _id_token_claims(
    oidc: OidcSettings, metadata: dict[str, Any], id_token: str, nonce: str
) -> dict[str, Any]:
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    published = _fetch_json(metadata["jwks_uri"])
    try:
        keys = KeySet.import_key_set(published)  # type: ignore[arg-type]
        token = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
        registry = jwt.JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "value": oidc.issuer},
            aud={"essential": True, "value": oidc.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        registry.validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise NotAuthenticated(
            "the provider's ID token is not valid", hint="try again or ask an admin"
        ) from exc
    claims: dict[str, Any] = dict(token.claims)
    return claims


def finish(
    session: Session, portal: Portal, *, code: str, state: str, cookie: str | None
) -> tuple[TokenPair, str | None]:
    """Exchange the code (with the PKCE verifier), verify the ID token, find/create the user,
    issue portal tokens. Returns the pair and where the browser wanted to go."""
    oidc = settings_of(portal)
    data = _read_cookie(portal, cookie, state)
    metadata = discover(oidc)
    try:
        with _client(oidc, data["uri"]) as client:
            token = client.fetch_token(
                metadata["token_endpoint"],
                code=code,
                code_verifier=data["verifier"],
                redirect_uri=data["uri"],
            )
    except Exception as exc:  # authlib raises OAuthError, httpx its own: either way the code is no good
        raise NotAuthenticated("the provider refused the login code", hint="start the login again") from exc
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise NotAuthenticated("the provider sent no ID token", hint="the 'openid' scope is needed")
    claims = _id_token_claims(oidc, metadata, id_token, data["nonce"])
    user = _user_for(session, oidc, claims)
    return issue_tokens(session, portal, user), data.get("return_to")


def _is_admin(oidc: OidcSettings, claims: dict[str, Any]) -> bool | None:
    if not oidc.admin_claim:
        return None
    value = claims.get(oidc.admin_claim)
    if isinstance(value, list):
        return oidc.admin_value in value
    return value is True or value == oidc.admin_value


def _user_for(session: Session, oidc: OidcSettings, claims: dict[str, Any]) -> User:
    subject = str(claims["sub"])[:255]
    user = users_repo.by_oidc_subject(session, subject)
    if user is None:
        user = _link_or_create(session, oidc, claims, subject)
    if user.disabled:
        raise NotAuthenticated("this portal user is disabled", hint="ask a PortalAdmin")
    admin = _is_admin(oidc, claims)
    if admin is not None:
        user.is_portal_admin = admin
    email = claims.get("email")
    if isinstance(email, str) and len(email) <= 254:
        user.email = email
    return user


def _link_or_create(session: Session, oidc: OidcSettings, claims: dict[str, Any], subject: str) -> User:
    name = str(claims.get(oidc.username_claim) or "").strip().lower()
    if not USERNAME.fullmatch(name):
        raise InvalidInput(
            f"the provider's {oidc.username_claim!r} claim is not a usable username",
            hint="set DDA_PORTAL__OIDC__USERNAME_CLAIM to a claim with plain login names",
        )
    existing = users_repo.by_username(session, name)
    if existing is not None:
        # Only an account made for OIDC (no password, not linked yet) is linked by name; a local
        # account is never taken over by whoever the provider calls the same.
        if existing.password_hash is None and existing.oidc_subject is None:
            existing.oidc_subject = subject
            return existing
        raise Conflict(
            f"a portal user named {name!r} exists and is not linked to this login",
            hint="a PortalAdmin can link it by setting its OpenID Connect subject",
        )
    user = create_user(session, name, None, oidc_subject=subject, display_name=_display_name(claims))
    if oidc.default_usecase:
        usecase = usecases_repo.by_name(session, oidc.default_usecase)
        if usecase is not None:
            session.add(RoleAssignment(user_id=user.id, usecase_id=usecase.id, role=oidc.default_role))
    return user


def _display_name(claims: dict[str, Any]) -> str | None:
    name = claims.get("name")
    return name[:128] if isinstance(name, str) else None
