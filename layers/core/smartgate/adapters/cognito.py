"""The user pool (Cognito): signing in with a password, and creating a company's users in their group."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

import boto3


class SignInRefused(Exception):
    """Wrong credentials, or a step the user must take first; ``field`` names the request field."""

    def __init__(self, field: str, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Tokens:
    id_token: str
    refresh_token: str | None
    expires_in: int


def temporary_password() -> str:
    """16 characters meeting the pool's policy (upper, lower, digit), to be changed at first sign-in."""
    pool = string.ascii_letters + string.digits
    while True:
        word = "".join(secrets.choice(pool) for _ in range(16))
        if any(c.isupper() for c in word) and any(c.islower() for c in word) and any(c.isdigit() for c in word):
            return word


class CognitoUsers:
    def __init__(self, pool_id: str, client_id: str, region: str, client: Any = None) -> None:
        self.pool_id = pool_id
        self.client_id = client_id
        self.idp = client or boto3.client("cognito-idp", region_name=region)

    def sign_in(self, username: str, password: str, new_password: str | None = None) -> Tokens:
        errors = self.idp.exceptions
        try:
            answer = self.idp.initiate_auth(
                ClientId=self.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
            if answer.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
                if not new_password:
                    raise SignInRefused(
                        "new_password",
                        "this account has a temporary password: choose a new one "
                        "(at least 12 characters, upper and lower case, a digit)",
                        409,
                    )
                answer = self.idp.respond_to_auth_challenge(
                    ClientId=self.client_id,
                    ChallengeName="NEW_PASSWORD_REQUIRED",
                    Session=answer["Session"],
                    ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": new_password},
                )
        except (errors.NotAuthorizedException, errors.UserNotFoundException) as err:
            raise SignInRefused("password", "the user name or the password is wrong") from err
        except errors.InvalidPasswordException as err:
            raise SignInRefused("new_password", str(err.response["Error"].get("Message", "too weak")), 422) from err
        result = answer.get("AuthenticationResult")
        if not result:
            raise SignInRefused(
                "username", f"sign-in needs a step this API does not serve ({answer.get('ChallengeName')})", 409
            )
        return Tokens(result["IdToken"], result.get("RefreshToken"), int(result.get("ExpiresIn", 3600)))

    def create_user(self, username: str, company_id: str, group: str, locale: str) -> str | None:
        """A new user of the company with a temporary password (returned); None when the name is taken."""
        return self._create(username, {"company_id": company_id, "locale": locale}, [group])

    def create_officer(self, username: str, role: str, gates: str, locale: str) -> str | None:
        """A new officer (groups ``officers`` and the role) serving ``gates``; None when the name is taken."""
        return self._create(username, {"gates": gates, "locale": locale}, ["officers", role])

    def set_locale(self, username: str, locale: str) -> None:
        self.idp.admin_update_user_attributes(
            UserPoolId=self.pool_id, Username=username, UserAttributes=[{"Name": "custom:locale", "Value": locale}]
        )

    def _create(self, username: str, attributes: dict[str, str], groups: list[str]) -> str | None:
        password = temporary_password()
        try:
            self.idp.admin_create_user(
                UserPoolId=self.pool_id,
                Username=username,
                TemporaryPassword=password,
                MessageAction="SUPPRESS",
                UserAttributes=[{"Name": f"custom:{k}", "Value": v} for k, v in attributes.items()],
            )
        except self.idp.exceptions.UsernameExistsException:
            return None
        for group in groups:
            self.idp.admin_add_user_to_group(UserPoolId=self.pool_id, Username=username, GroupName=group)
        return password
