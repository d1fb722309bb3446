"""Create the shared resources from `aws/tables.py` (tables with their indexes and TTL, the
versioned state bucket) in whatever `AWS_ENDPOINT_URL` points at. Used by the tests and the
local dev stack; production gets the same resources from the CDK stacks. Idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.tables import ALL_TABLES, TableSpec
from serverless_openclaw.core.errors import StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client


def _key_schema(partition: str, sort: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition, "KeyType": "HASH"}]
    if sort:
        schema.append({"AttributeName": sort, "KeyType": "RANGE"})
    return schema


def table_definition(spec: TableSpec, prefix: str) -> dict[str, Any]:
    """CreateTable arguments for `spec` (on-demand, all indexes projecting everything)."""
    attributes = {spec.partition.name: spec.partition.type}
    if spec.sort:
        attributes[spec.sort.name] = spec.sort.type
    gsis: list[dict[str, Any]] = []
    lsis: list[dict[str, Any]] = []
    for index in spec.indexes:
        attributes[index.partition.name] = index.partition.type
        if index.sort:
            attributes[index.sort.name] = index.sort.type
        definition = {
            "IndexName": index.name,
            "KeySchema": _key_schema(index.partition.name, index.sort.name if index.sort else None),
            "Projection": {"ProjectionType": "ALL"},
        }
        (lsis if index.local else gsis).append(definition)
    args: dict[str, Any] = {
        "TableName": spec.physical_name(prefix),
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind} for name, kind in attributes.items()
        ],
        "KeySchema": _key_schema(spec.partition.name, spec.sort.name if spec.sort else None),
    }
    if gsis:
        args["GlobalSecondaryIndexes"] = gsis
    if lsis:
        args["LocalSecondaryIndexes"] = lsis
    return args


def create_tables(
    client: DynamoDBClient, prefix: str, specs: Iterable[TableSpec] = ALL_TABLES
) -> list[str]:
    """Create the missing tables; returns the names of those created."""
    created: list[str] = []
    try:
        existing = set(_all_table_names(client))
        for spec in specs:
            name = spec.physical_name(prefix)
            if name in existing:
                continue
            try:
                client.create_table(**table_definition(spec, prefix))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                    raise
                continue
            client.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
            if spec.ttl_attribute:
                client.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
                )
            created.append(name)
    except (ClientError, BotoCoreError) as exc:
        raise StorageUnavailable(f"could not create tables: {exc}") from exc
    return created


def _all_table_names(client: DynamoDBClient) -> list[str]:
    names: list[str] = []
    for page in client.get_paginator("list_tables").paginate():
        names.extend(page.get("TableNames", []))
    return names


def create_state_bucket(client: S3Client, bucket: str, region: str) -> None:
    """The versioned bucket agents back their state up to (decision D4)."""
    try:
        try:
            if region == "us-east-1":
                client.create_bucket(Bucket=bucket)
            else:
                client.create_bucket(
                    Bucket=bucket,
                    CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    except (ClientError, BotoCoreError) as exc:
        raise StorageUnavailable(f"could not create bucket {bucket}: {exc}") from exc


def provision(clients: AwsClients, *, prefix: str, state_bucket: str) -> list[str]:
    """Everything the control plane and agents need; returns the tables created."""
    created = create_tables(clients.dynamodb(), prefix)
    create_state_bucket(clients.s3(), state_bucket, clients.region)
    return created
