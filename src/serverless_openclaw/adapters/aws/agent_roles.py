"""One IAM role per person for their agent task (decision D13).

ECS hands a task the credentials of its task role, whatever the task does with them: a role
shared by every person's task would give each container rights over everyone's data, and
only the environment variables of RunTask would keep a task to its own person. So each
person gets a role of their own, made when they are added (`serverless-openclaw user add`,
as the operator) and named from a hash of their user id (`<prefix>-user-<24 hex>`: at most
32 + 6 + 24 = 62 characters of IAM's 64; the id itself is 36). The role carries the tag
`serverless-openclaw-user = <user id>`, and the policies attached to it grant access only
where a resource or a `dynamodb:LeadingKeys` condition names `${aws:PrincipalTag/
serverless-openclaw-user}` (infra/access.py): one synthesized policy serves every person,
and evaluates, for each role, to that person's data alone.

The control plane passes the role in RunTask (`overrides.taskRoleArn`, adapters/aws/
compute.py); its own policy may pass only roles named `<prefix>-user-*`, only to ECS tasks.
Nothing the control plane or the agent runs may create, change or tag a role.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from serverless_openclaw.adapters.aws.errors import converted
from serverless_openclaw.core.errors import Conflict, NotFound

PERSON_TAG: Final = "serverless-openclaw-user"
"""The tag on a person's role naming their user id (IAM's `aws:PrincipalTag/<this>`)."""
PERSON: Final = "${aws:PrincipalTag/" + PERSON_TAG + "}"
"""The policy variable a person's role resolves to their user id."""
ROLE_INFIX: Final = "-user-"
HASH_CHARS: Final = 24
ROLE_NAME_MAX: Final = 64
ECS_TASKS: Final = "ecs-tasks.amazonaws.com"


def person_policy_names(prefix: str) -> tuple[str, str]:
    """The managed policies every person's role gets: the Compute stack's (their data) and
    the Api stack's (@connections)."""
    return f"{prefix}-agent-person", f"{prefix}-agent-connections"


def person_policy_arns(prefix: str, *, account: str, partition: str = "aws") -> tuple[str, ...]:
    return tuple(
        f"arn:{partition}:iam::{account}:policy/{name}" for name in person_policy_names(prefix)
    )


def user_hash(user_id: str) -> str:
    """What names a person's role: not the id itself (too long for IAM, and role names show
    up in lists that need not name people)."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:HASH_CHARS]


def role_name(prefix: str, user_id: str) -> str:
    name = f"{prefix}{ROLE_INFIX}{user_hash(user_id)}"
    if len(name) > ROLE_NAME_MAX:
        raise ValueError(f"prefix {prefix!r} is too long for a role name")
    return name


def role_arn_prefix(prefix: str, *, account: str, partition: str = "aws") -> str:
    """Every person's role ARN but the hash (the control plane's `SOC_AGENT_ROLE_ARN_PREFIX`)."""
    return f"arn:{partition}:iam::{account}:role/{prefix}{ROLE_INFIX}"


def ecs_trust(*, account: str, partition: str = "aws") -> dict[str, Any]:
    """Only ECS tasks of this account may assume a person's role (no confused deputy)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ECS_TASKS},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:ecs:*:{account}:*"},
                },
            }
        ],
    }


class RoleGrant(Protocol):
    """How a new role gets its rights: the synthesized managed policies on AWS; locally
    (moto cannot resolve policy variables) an inline copy resolved for the person."""

    def apply(self, iam: Any, role: str, user_id: str) -> None: ...


@dataclass(frozen=True)
class ManagedPolicies:
    """Attach the deployment's per-person managed policies (by ARN)."""

    arns: Sequence[str]

    def apply(self, iam: Any, role: str, user_id: str) -> None:
        for arn in self.arns:
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)


@dataclass(frozen=True)
class InlinePolicy:
    """Put one inline policy, written for the person."""

    document: Callable[[str], Mapping[str, Any]]
    name: str = "person"

    def apply(self, iam: Any, role: str, user_id: str) -> None:
        iam.put_role_policy(
            RoleName=role, PolicyName=self.name, PolicyDocument=json.dumps(self.document(user_id))
        )


class AgentRoles:
    """Make and remove the roles of people (the operator's credentials: IAM writes)."""

    def __init__(
        self,
        client: Any,
        prefix: str,
        *,
        account: str,
        grant: RoleGrant,
        trust: Mapping[str, Any] | None = None,
        partition: str = "aws",
    ) -> None:
        self._iam = client
        self._prefix = prefix
        self._account = account
        self._partition = partition
        self._grant = grant
        self._trust = dict(trust or ecs_trust(account=account, partition=partition))

    def arn(self, user_id: str) -> str:
        return role_arn_prefix(
            self._prefix, account=self._account, partition=self._partition
        ) + user_hash(user_id)

    def ensure(self, user_id: str) -> str:
        """The person's role, made (or completed) now; its ARN. Idempotent."""
        name = role_name(self._prefix, user_id)
        with contextlib.suppress(Conflict), converted("IAM", f"create role {name}"):
            self._iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(self._trust),
                Description=f"{self._prefix}: the agent task of one person",
                MaxSessionDuration=3600,
                Tags=[{"Key": PERSON_TAG, "Value": user_id}],
            )
        with converted("IAM", f"grant role {name}"):
            self._iam.tag_role(RoleName=name, Tags=[{"Key": PERSON_TAG, "Value": user_id}])
            self._grant.apply(self._iam, name, user_id)
        return self.arn(user_id)

    def grant(self, user_id: str) -> None:
        """`app.people.AgentAccess`: the person's role exists, with its rights."""
        self.ensure(user_id)

    def revoke(self, user_id: str) -> None:
        """`app.people.AgentAccess`: the person's role is gone."""
        self.remove(user_id)

    def exists(self, user_id: str) -> bool:
        try:
            with converted("IAM", "get role"):
                self._iam.get_role(RoleName=role_name(self._prefix, user_id))
        except NotFound:
            return False
        return True

    def remove(self, user_id: str) -> bool:
        """Take every right off the person's role, then delete it: a task still running
        with its credentials is refused from then on. False when there was none."""
        name = role_name(self._prefix, user_id)
        try:
            with converted("IAM", f"remove role {name}"):
                attached = self._iam.list_attached_role_policies(RoleName=name)
                for policy in attached.get("AttachedPolicies", []):
                    self._iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
                for policy_name in self._iam.list_role_policies(RoleName=name).get(
                    "PolicyNames", []
                ):
                    self._iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
                self._iam.delete_role(RoleName=name)
        except NotFound:
            return False
        return True
