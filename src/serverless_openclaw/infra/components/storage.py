"""DynamoDB tables from `adapters/aws/tables.py`, the versioned state bucket, the shared
dead-letter queue of every inbox. Inbox queues themselves are made at run time (one per
person, `adapters/aws/inbox.py`); their names share `<prefix>-inbox-` so policies can name
them all, and `destroy --no-retain-data` deletes them."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from serverless_openclaw.adapters.aws.inbox import dead_letter_queue_name, inbox_name_prefix
from serverless_openclaw.adapters.aws.tables import ALL_TABLES, Key, TableSpec
from serverless_openclaw.infra import nag
from serverless_openclaw.infra.access import QUERIED_INDEXES, TableAccess
from serverless_openclaw.ports.compute import STATE_ROOT


def _attribute(key: Key) -> dynamodb.Attribute:
    kind = dynamodb.AttributeType.STRING if key.type == "S" else dynamodb.AttributeType.NUMBER
    return dynamodb.Attribute(name=key.name, type=kind)


class Storage(Construct):
    """Everything that holds data. Names are `<prefix>-<table>` so policies can name them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        noncurrent_version_days: int,
        retain_data: bool,
        web_origins: Sequence[str],
    ) -> None:
        """`web_origins`: the web app's origin(s), the only pages whose scripts may post an
        upload form to the state bucket (its CORS rule)."""
        super().__init__(scope, construct_id)
        self.prefix = prefix
        removal = RemovalPolicy.RETAIN if retain_data else RemovalPolicy.DESTROY
        self.tables: dict[str, dynamodb.Table] = {
            spec.name: self._table(spec, removal) for spec in ALL_TABLES
        }
        self.state_bucket = s3.Bucket(
            self,
            "StateBucket",
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            removal_policy=removal,
            auto_delete_objects=not retain_data,
            # The web app uploads an attachment with a presigned POST form from its own
            # origin (a cross-origin `fetch`). Thumbnails and download links are plain
            # `<img>`/`<a>` GETs of presigned URLs, which need no CORS.
            cors=[
                s3.CorsRule(
                    id="web-app-uploads",
                    allowed_methods=[s3.HttpMethods.POST],
                    allowed_origins=list(web_origins),
                    allowed_headers=["*"],
                    max_age=3000,
                )
            ],
            lifecycle_rules=[
                # Every stored version is billed in full: keep old ones a few days only.
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                s3.LifecycleRule(
                    id="remove-expired-delete-markers", expired_object_delete_marker=True
                ),
            ],
        )
        nag.suppress(self.state_bucket, nag.Accepted("AwsSolutions-S1", nag.STATE_ACCESS_LOGS))
        self.inbox_dlq = sqs.Queue(
            self,
            "InboxDeadLetterQueue",
            queue_name=dead_letter_queue_name(prefix),
            fifo=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal,
        )
        nag.suppress(self.inbox_dlq, nag.Accepted("AwsSolutions-SQS3", nag.DLQ_IS_THE_DLQ))

    def _table(self, spec: TableSpec, removal: RemovalPolicy) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            "".join(part.capitalize() for part in spec.name.split("-")) + "Table",
            table_name=spec.physical_name(self.prefix),
            partition_key=_attribute(spec.partition),
            sort_key=_attribute(spec.sort) if spec.sort else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=spec.ttl_attribute,
            removal_policy=removal,
        )
        for index in spec.indexes:
            if index.local:
                if index.sort is None:
                    raise ValueError(f"local index {index.name} of {spec.name} needs a sort key")
                table.add_local_secondary_index(
                    index_name=index.name,
                    sort_key=_attribute(index.sort),
                    projection_type=dynamodb.ProjectionType.ALL,
                )
            else:
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=_attribute(index.partition),
                    sort_key=_attribute(index.sort) if index.sort else None,
                    projection_type=dynamodb.ProjectionType.ALL,
                )
        return table

    # --- grants ---------------------------------------------------------------------------
    def table_statements(
        self, access: TableAccess, *, leading_keys: tuple[str, ...] = ()
    ) -> list[iam.PolicyStatement]:
        """One statement per action, naming exactly the tables (and the indexes of those
        whose stores query one) the role uses it on: docs/iam.md reads the same way. With
        `leading_keys`, only rows (and index entries) whose partition key matches one of
        them (`dynamodb:LeadingKeys`)."""
        by_action: dict[str, list[str]] = {}
        for spec, actions in access.items():
            table = self.tables[spec.name]
            for action in actions:
                arns = by_action.setdefault(f"dynamodb:{action}", [])
                arns.append(table.table_arn)
                if action == "Query" and QUERIED_INDEXES.get(spec):
                    arns.append(f"{table.table_arn}/index/*")
        conditions = (
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(leading_keys)}}
            if leading_keys
            else None
        )
        return [
            iam.PolicyStatement(actions=[action], resources=arns, conditions=conditions)
            for action, arns in by_action.items()
        ]

    def grant_table_access(self, principal: iam.IGrantable, access: TableAccess) -> None:
        for statement in self.table_statements(access):
            principal.grant_principal.add_to_principal_policy(statement)

    def inbox_arn(self, user_id: str = "*") -> str:
        """The inbox of one person (`<prefix>-inbox-<user>.fifo`), or (`*`) of every
        person."""
        name = "*" if user_id == "*" else f"{user_id}.fifo"
        return Stack.of(self).format_arn(
            service="sqs",
            resource=f"{inbox_name_prefix(self.prefix)}{name}",
            arn_format=ArnFormat.NO_RESOURCE_NAME,
        )

    def state_object_arn(self, user_id: str = "*") -> str:
        """Backups of one person (`agents/<user>/...`), or (`*`) of everyone."""
        suffix = "*" if user_id == "*" else f"{user_id}/*"
        return self.state_bucket.arn_for_objects(f"{STATE_ROOT}{suffix}")

    def attachment_object_arn(self) -> str:
        """Every person's attachments (`agents/*/attachments/*`), none of their backups."""
        return self.state_bucket.arn_for_objects(f"{STATE_ROOT}*/attachments/*")

    def state_statements(self, *, user_id: str = "*") -> list[iam.PolicyStatement]:
        """Read and write a person's backup (the agent task's state sync)."""
        prefix = STATE_ROOT if user_id == "*" else f"{STATE_ROOT}{user_id}/"
        return [
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"],
                resources=[self.state_object_arn(user_id)],
            ),
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:ListBucketVersions"],
                resources=[self.state_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}},
            ),
        ]
