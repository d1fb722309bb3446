"""`serverless-openclaw user ...` against moto's Cognito, and `deploy`'s first checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from tests.conftest import AwsEnv
from tests.infra.conftest import offline_env

from serverless_openclaw.adapters.aws.agent_roles import person_policy_names, role_name
from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.inbox import Inbox, queue_name
from serverless_openclaw.adapters.aws.provision import provision
from serverless_openclaw.adapters.aws.users import UserAdmin
from serverless_openclaw.core.errors import Conflict, NotFound


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "serverless_openclaw", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=env or dict(os.environ),
        check=False,
    )  # fmt: skip


@pytest.fixture
def pool(aws: AwsEnv) -> str:
    cognito = boto3.client("cognito-idp", region_name=aws.region)
    return cognito.create_user_pool(
        PoolName=f"{aws.prefix}-users",
        UsernameAttributes=["email"],
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
    )["UserPool"]["Id"]


def test_user_admin_adds_lists_and_removes(aws: AwsEnv, pool: str) -> None:
    admin = UserAdmin(boto3.client("cognito-idp", region_name=aws.region), pool)
    added = admin.add("ada@example.com", temporary_password="Temp-Passw0rd!x", send_invite=False)
    assert added.email == "ada@example.com"
    assert added.status == "FORCE_CHANGE_PASSWORD"
    assert [u.email for u in admin.list()] == ["ada@example.com"]
    with pytest.raises(Conflict):
        admin.add("ada@example.com", temporary_password="Temp-Passw0rd!x", send_invite=False)
    admin.remove("ada@example.com")
    assert admin.list() == []
    with pytest.raises(NotFound):
        admin.remove("ada@example.com")


def _deployed(aws: AwsEnv, pool: str) -> None:
    """What `deploy` leaves behind: the stacks whose outputs name the pool, the bucket, the
    dead-letter queue, the cluster; the tables; the per-person managed policies."""
    provision(AwsClients(aws.region), prefix=aws.prefix, state_bucket=aws.bucket)
    dead_letters = Inbox(AwsClients(aws.region).sqs(), aws.prefix).dead_letter_arn()
    outputs = {
        "auth": {"UserPoolId": pool, "UserPoolClientId": "client"},
        "storage": {"StateBucketName": aws.bucket, "InboxDeadLetterQueueArn": dead_letters},
        "compute": {"ClusterName": f"{aws.prefix}-agents", "TaskDefinitionFamily": "f"},
        "api": {"ConnectionsUrl": "https://abc.execute-api.us-east-1.amazonaws.com/prod"},
    }
    cloudformation = boto3.client("cloudformation", region_name=aws.region)
    for kind, values in outputs.items():
        template = {
            "Resources": {"Marker": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {key: {"Value": value} for key, value in values.items()},
        }
        cloudformation.create_stack(
            StackName=f"{aws.prefix}-{kind}", TemplateBody=json.dumps(template)
        )
    iam = boto3.client("iam", region_name=aws.region)
    for name in person_policy_names(aws.prefix):
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(NOTHING))


NOTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}],
}


def test_user_commands_with_the_deployments_names(aws: AwsEnv, pool: str, tmp_path: Path) -> None:
    _deployed(aws, pool)
    common = ("--prefix", aws.prefix)
    added = cli("user", "add", "grace@example.com", "--no-invite",
                "--temporary-password", "Temp-Passw0rd!x", *common, cwd=tmp_path)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added grace@example.com" in added.stdout
    listed = cli("user", "list", "--json", *common, cwd=tmp_path)
    assert [u["email"] for u in json.loads(listed.stdout)] == ["grace@example.com"]
    sub = (
        UserAdmin(boto3.client("cognito-idp", region_name=aws.region), pool)
        .get("grace@example.com")
        .sub
    )
    assert sub
    # The person's own role (with the deployment's policies) and inbox exist already.
    iam = boto3.client("iam", region_name=aws.region)
    role = role_name(aws.prefix, sub)
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert sorted(a["PolicyName"] for a in attached) == sorted(person_policy_names(aws.prefix))
    tags = iam.list_role_tags(RoleName=role)["Tags"]
    assert {"Key": "serverless-openclaw-user", "Value": sub} in tags
    sqs = boto3.client("sqs", region_name=aws.region)
    assert sqs.get_queue_url(QueueName=queue_name(aws.prefix, sub))["QueueUrl"]
    again = cli("user", "add", "grace@example.com", "--no-invite",
                "--temporary-password", "Temp-Passw0rd!x", *common, cwd=tmp_path)  # fmt: skip
    assert again.returncode == 1 and "already exists" in again.stderr
    removed = cli("user", "remove", "grace@example.com", *common, cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert "kept" in removed.stdout
    assert json.loads(cli("user", "list", "--json", *common, cwd=tmp_path).stdout) == []
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=role)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=queue_name(aws.prefix, sub))


def test_user_commands_say_when_nothing_is_deployed(aws: AwsEnv, tmp_path: Path) -> None:
    result = cli("user", "list", "--prefix", f"{aws.prefix}-none", cwd=tmp_path)
    assert result.returncode == 1
    assert "is not deployed" in result.stderr and "serverless-openclaw deploy" in result.stderr


def test_deploy_without_credentials_explains_what_to_do(tmp_path: Path) -> None:
    result = cli("deploy", "--agent-image", "example/agent:1", cwd=tmp_path,
                 env=offline_env(tmp_path))  # fmt: skip
    assert result.returncode == 1
    assert "No AWS credentials found" in result.stderr
    assert "aws sso login" in result.stderr
    assert not (tmp_path / ".serverless-openclaw").exists()  # nothing synthesized or deployed


def test_deploy_rejects_an_impossible_task_size(tmp_path: Path) -> None:
    result = cli("synth", "--task-cpu", "1024", "--task-memory", "512", cwd=tmp_path,
                 env=offline_env(tmp_path))  # fmt: skip
    assert result.returncode == 1
    assert "Fargate has no 1024 CPU units / 512 MiB size" in result.stderr


def test_logs_prints_the_agent_log_group(aws: AwsEnv, tmp_path: Path) -> None:
    logs = boto3.client("logs", region_name=aws.region)
    group = f"/{aws.prefix}/agent"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="agent/agent/task1")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="agent/agent/task1",
        logEvents=[
            {"timestamp": now - 2000, "message": "restored state from S3"},
            {"timestamp": now - 1000, "message": "gateway ready"},
        ],
    )
    result = cli("logs", "agent", "--since", "5m", "--prefix", aws.prefix, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("restored state from S3" in line for line in lines)
    order = [line for line in lines if "restored" in line or "gateway ready" in line]
    assert ["restored" in order[0], "gateway ready" in order[1]] == [True, True]
    missing = cli("logs", "watchdog", "--prefix", aws.prefix, cwd=tmp_path)
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_status_shows_stacks_urls_and_running_tasks(aws: AwsEnv, tmp_path: Path) -> None:
    cloudformation = boto3.client("cloudformation", region_name=aws.region)
    cluster = f"{aws.prefix}-agents"
    boto3.client("ecs", region_name=aws.region).create_cluster(clusterName=cluster)
    for kind, outputs in {
        "auth": {"UserPoolId": "us-east-1_example"},
        "compute": {"ClusterName": cluster},
        "web": {"WebUrl": "https://d111.cloudfront.net"},
    }.items():
        template = {
            "Resources": {"Marker": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        cloudformation.create_stack(
            StackName=f"{aws.prefix}-{kind}", TemplateBody=json.dumps(template)
        )
    result = cli(
        "status", "--prefix", aws.prefix, cwd=tmp_path, env={**os.environ, "COLUMNS": "200"}
    )
    assert result.returncode == 0, result.stderr
    assert f"{aws.prefix}-web" in result.stdout and "CREATE_COMPLETE" in result.stdout
    assert f"{aws.prefix}-api" in result.stdout and "not deployed" in result.stdout
    assert "WebUrl: https://d111.cloudfront.net" in result.stdout
    assert "running agent tasks: 0" in result.stdout
