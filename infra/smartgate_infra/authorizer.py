"""What API Gateway's Cognito user-pool authorizer does, locally: verify the ID token, hand over its claims.

The token comes in the ``Authorization`` header (``Bearer `` in front is accepted too). It must be an
RS256 JWT signed by a key of the pool's JWKS (moto serves it at ``/<pool id>/.well-known/jwks.json``),
issued by that pool (``iss``), for one of its app clients (``aud``), an ID token (``token_use``), and
not expired. The claims reach the function as strings in ``requestContext.authorizer.claims``, as API
Gateway passes them (a list, such as ``cognito:groups``, as its items joined by commas).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class Unauthorized(Exception):
    """The request is not let through (API Gateway answers 401 {"message": "Unauthorized"})."""


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CognitoAuthorizer:
    def __init__(self, endpoint_url: str, region: str, pool_id: str, client_ids: set[str]) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region
        self.pool_id = pool_id
        self.client_ids = client_ids
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._lock = threading.Lock()

    def _jwks(self) -> dict[str, rsa.RSAPublicKey]:
        with self._lock:
            if not self._keys:
                # moto routes by the signing scope of a SigV4-looking header; the content is not checked.
                scope = f"Credential=local/20240101/{self.region}/cognito-idp/aws4_request"
                request = urllib.request.Request(
                    f"{self.endpoint_url}/{self.pool_id}/.well-known/jwks.json",
                    headers={"Authorization": f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=0"},
                )
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local emulator
                    keys = json.loads(response.read())["keys"]
                for key in keys:
                    numbers = rsa.RSAPublicNumbers(
                        int.from_bytes(_b64(key["e"]), "big"), int.from_bytes(_b64(key["n"]), "big")
                    )
                    self._keys[key["kid"]] = numbers.public_key()
            return self._keys

    def claims(self, authorization: str | None) -> dict[str, str]:
        """The token's claims, as API Gateway passes them; Unauthorized when it is not a valid ID token."""
        token = (authorization or "").strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        parts = token.split(".")
        if len(parts) != 3:
            raise Unauthorized("no token")
        try:
            header = json.loads(_b64(parts[0]))
            payload = json.loads(_b64(parts[1]))
            signature = _b64(parts[2])
        except (ValueError, UnicodeDecodeError) as err:
            raise Unauthorized("malformed token") from err
        if header.get("alg") != "RS256":
            raise Unauthorized("not RS256")
        key = self._jwks().get(str(header.get("kid")))
        if key is None:
            raise Unauthorized("unknown key")
        try:
            key.verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as err:
            raise Unauthorized("bad signature") from err
        if payload.get("iss") != self.issuer or payload.get("token_use") != "id":
            raise Unauthorized("not an ID token of this pool")
        if payload.get("aud") not in self.client_ids:
            raise Unauthorized("not for a client of this pool")
        if not isinstance(payload.get("exp"), int | float) or payload["exp"] < time.time():
            raise Unauthorized("expired")
        return {k: _claim(v) for k, v in payload.items()}


def _claim(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
