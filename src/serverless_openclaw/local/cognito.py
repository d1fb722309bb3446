"""The local Cognito user pool (on the embedded moto): self sign-up off, as in production."""

from __future__ import annotations

import secrets
import string
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient


def create_pool(client: CognitoIdentityProviderClient, prefix: str) -> tuple[str, str]:
    """(pool id, web client id). Locally the client also allows USER_PASSWORD_AUTH so that
    scripts and tests can sign in without SRP; the deployed client allows SRP only."""
    pool = client.create_user_pool(
        PoolName=f"{prefix}-users",
        # People sign in with their email, as in the deployed pool (and moto's SRP needs it).
        UsernameAttributes=["email"],
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 12,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": False,
            }
        },
    )["UserPool"]["Id"]
    app = client.create_user_pool_client(
        UserPoolId=pool,
        ClientName=f"{prefix}-web",
        GenerateSecret=False,
        ExplicitAuthFlows=[
            "ALLOW_USER_SRP_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
            "ALLOW_USER_PASSWORD_AUTH",
        ],
    )["UserPoolClient"]["ClientId"]
    return pool, app


def generate_password() -> str:
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(14))
    return f"{core}Aa7"


def add_user(
    client: CognitoIdentityProviderClient, pool_id: str, username: str, password: str
) -> str:
    """Create a confirmed user with a permanent password; returns its `sub` (our user id)."""
    client.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        MessageAction="SUPPRESS",
        TemporaryPassword=password,
        UserAttributes=[
            {"Name": "email", "Value": username},
            {"Name": "email_verified", "Value": "true"},
        ],
    )
    client.admin_set_user_password(
        UserPoolId=pool_id, Username=username, Password=password, Permanent=True
    )
    attributes = client.admin_get_user(UserPoolId=pool_id, Username=username)["UserAttributes"]
    return next(a["Value"] for a in attributes if a["Name"] == "sub")


def user_count(client: CognitoIdentityProviderClient, pool_id: str) -> int:
    return len(client.list_users(UserPoolId=pool_id, Limit=60).get("Users", []))


def sign_in(
    client: CognitoIdentityProviderClient, client_id: str, username: str, password: str
) -> dict[str, str]:
    """USER_PASSWORD_AUTH sign-in (local pool only): IdToken, AccessToken, RefreshToken."""
    answer = client.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    result = answer["AuthenticationResult"]
    return {
        "IdToken": result["IdToken"],
        "AccessToken": result["AccessToken"],
        "RefreshToken": result.get("RefreshToken", ""),
    }
