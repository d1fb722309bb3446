"""The web app: a private S3 bucket behind CloudFront (origin access control), strict security
headers, and `config.json` written from the other stacks' outputs at deploy time.

The REST API is served by the same distribution under `/api/*` (no caching, every header
but Host forwarded): the browser calls its own origin, so the HTTP API needs no CORS and no
other site can call it from a page. SPA routes are rewritten to `/index.html` by a
CloudFront Function on the site's behavior only, so API errors (404, 403) reach the client
unchanged."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from serverless_openclaw.infra import nag
from serverless_openclaw.infra.components.auth import Auth
from serverless_openclaw.infra.components.control_plane import ControlPlane
from serverless_openclaw.infra.components.storage import Storage
from serverless_openclaw.infra.config import DeploymentConfig

SPA_ROUTES_JS = """
function handler(event) {
  var request = event.request;
  var last = request.uri.split('/').pop();
  if (last.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}
"""
"""Paths without a file extension are the SPA's own routes: serve index.html."""


def content_security_policy(*, websocket_url: str, region: str, state_bucket: str) -> str:
    """Only our own origin (site and REST API), the WebSocket API, Cognito and the state
    bucket's regional address (attachment uploads are posted there, thumbnails shown from
    there, both through presigned URLs) may be reached; no inline script, no framing."""
    bucket = f"https://{state_bucket}.s3.{region}.amazonaws.com"
    connect = " ".join(
        [
            "'self'",
            websocket_url,
            f"https://cognito-idp.{region}.amazonaws.com",
            bucket,
        ]
    )
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob: {bucket}",
            "font-src 'self'",
            f"connect-src {connect}",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "object-src 'none'",
        ]
    )


class WebApp(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        auth: Auth,
        storage: Storage,
        control_plane: ControlPlane,
        dist_dir: Path | None,
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        self.bucket = s3.Bucket(
            self,
            "SiteBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )
        nag.suppress(self.bucket, nag.Accepted("AwsSolutions-S1", nag.WEB_ACCESS_LOGS))
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="serverless-openclaw web app security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(
                        websocket_url=control_plane.websocket_api.api_endpoint,
                        region=region,
                        state_bucket=storage.state_bucket.bucket_name,
                    ),
                    override=True,
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365),
                    include_subdomains=True,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                xss_protection=cloudfront.ResponseHeadersXSSProtection(
                    protection=True, mode_block=True, override=True
                ),
            ),
        )
        domain = config.custom_domain
        self._domain_name = domain.domain_name if domain else None
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{config.prefix} web app",
            default_root_object="index.html",
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021
            if domain
            else None,
            domain_names=[domain.domain_name] if domain else None,
            certificate=acm.Certificate.from_certificate_arn(
                self, "Certificate", domain.certificate_arn
            )
            if domain
            else None,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
                compress=True,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=cloudfront.Function(
                            self,
                            "SpaRoutes",
                            code=cloudfront.FunctionCode.from_inline(SPA_ROUTES_JS),
                            runtime=cloudfront.FunctionRuntime.JS_2_0,
                            comment="SPA routes -> /index.html",
                        ),
                        event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                    )
                ],
            ),
            additional_behaviors={
                "/api/*": cloudfront.BehaviorOptions(
                    origin=origins.HttpOrigin(
                        control_plane.http_domain,
                        protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                    ),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=(
                        cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER
                    ),
                    response_headers_policy=headers,
                )
            },
        )
        accepted = [
            nag.Accepted("AwsSolutions-CFR3", nag.CLOUDFRONT_LOGS),
            nag.Accepted("AwsSolutions-CFR1", nag.CLOUDFRONT_GEO),
            nag.Accepted("AwsSolutions-CFR2", nag.CLOUDFRONT_WAF),
        ]
        if domain is None:
            accepted.append(nag.Accepted("AwsSolutions-CFR4", nag.CLOUDFRONT_TLS))
        nag.suppress(self.distribution, *accepted)

        runtime_config = {
            "region": region,
            "userPoolId": auth.user_pool.user_pool_id,
            "userPoolClientId": auth.client.user_pool_client_id,
            "wsUrl": control_plane.websocket_url,
            # The REST API is this site's own `/api/*` (same origin, see the module doc).
            "httpUrl": self.url,
        }
        if dist_dir is not None:
            s3deploy.BucketDeployment(
                self,
                "Site",
                destination_bucket=self.bucket,
                sources=[s3deploy.Source.asset(str(dist_dir), exclude=["config.json"])],
                exclude=["config.json"],
                prune=False,
                memory_limit=256,
                distribution=self.distribution,
                distribution_paths=["/index.html"],
            )
        s3deploy.BucketDeployment(
            self,
            "RuntimeConfig",
            destination_bucket=self.bucket,
            sources=[s3deploy.Source.json_data("config.json", runtime_config)],
            prune=False,
            memory_limit=256,
            cache_control=[s3deploy.CacheControl.no_cache()],
            distribution=self.distribution,
            distribution_paths=["/config.json"],
        )
        # CDK's own BucketDeployment function is a singleton at the stack's root.
        stack = Stack.of(self)
        for child in stack.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                nag.suppress(child, *nag.cdk_provider())

    @property
    def url(self) -> str:
        if self._domain_name:
            return f"https://{self._domain_name}"
        return f"https://{self.distribution.distribution_domain_name}"
