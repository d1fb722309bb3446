"""Cognito user pool: only users the owner adds can sign in (self sign-up off, decision D9)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from serverless_openclaw.infra import nag


class Auth(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, prefix: str, retain_data: bool
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"{prefix}-users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(7),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.LITE,
            deletion_protection=retain_data,
            removal_policy=RemovalPolicy.RETAIN if retain_data else RemovalPolicy.DESTROY,
            user_invitation=cognito.UserInvitationConfig(
                email_subject="Your OpenClaw agent",
                email_body=(
                    "You can now talk to the OpenClaw agent. User name: {username} "
                    "Temporary password: {####} (you will choose your own at first sign-in)."
                ),
            ),
        )
        nag.suppress(
            self.user_pool,
            nag.Accepted("AwsSolutions-COG3", nag.COGNITO_THREAT_PROTECTION),
            nag.Accepted("AwsSolutions-COG8", nag.COGNITO_THREAT_PROTECTION),
            nag.Accepted("AwsSolutions-COG2", nag.COGNITO_MFA),
        )
        # The SPA signs in with SRP: no client secret can be kept in a browser, and no hosted
        # UI: OAuth stays off (CDK would otherwise enable its flows with an example.com
        # callback URL).
        self.client = self.user_pool.add_client(
            "WebClient",
            user_pool_client_name=f"{prefix}-web",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            disable_o_auth=True,
            prevent_user_existence_errors=True,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            enable_token_revocation=True,
        )

    @property
    def issuer(self) -> str:
        region = Stack.of(self).region
        return f"https://cognito-idp.{region}.amazonaws.com/{self.user_pool.user_pool_id}"
