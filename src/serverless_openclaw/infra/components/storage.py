"""DynamoDB tables from `aws/tables.py`, the versioned state bucket, the inbox dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from serverless_openclaw.adapters.aws.tables import ALL_TABLES, Key, TableSpec
from serverless_openclaw.infra import nag

READ_WRITE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)
STATE_PREFIX = "agents/"


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
    ) -> None:
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
            queue_name=f"{prefix}-inbox-dlq.fifo",
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
    def table_resources(self) -> list[str]:
        arns: list[str] = []
        for table in self.tables.values():
            arns += [table.table_arn, f"{table.table_arn}/index/*"]
        return arns

    def grant_tables(self, principal: iam.IGrantable) -> iam.Grant:
        return iam.Grant.add_to_principal(
            grantee=principal,
            actions=list(READ_WRITE_ACTIONS),
            resource_arns=self.table_resources(),
        )

    def inbox_arn_pattern(self, region: str, account: str) -> str:
        return f"arn:aws:sqs:{region}:{account}:{self.prefix}-inbox-*"

    def state_object_arn(self) -> str:
        return self.state_bucket.arn_for_objects(f"{STATE_PREFIX}*")

    def grant_state(self, principal: iam.IGrantable, *, write: bool) -> None:
        actions = ["s3:GetObject", "s3:GetObjectVersion"]
        if write:
            actions += ["s3:PutObject", "s3:DeleteObject"]
        iam.Grant.add_to_principal(
            grantee=principal, actions=actions, resource_arns=[self.state_object_arn()]
        )
        principal.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:ListBucketVersions"],
                resources=[self.state_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [STATE_PREFIX, f"{STATE_PREFIX}*"]}},
            )
        )
