"""The IAM policies of the synthesized templates, as plain statements with real names.

`synth` writes one CloudFormation template per stack; the roles' rights are in
`AWS::IAM::Policy` resources (and the roles' own `Policies`), full of intrinsics
(`Fn::ImportValue`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Ref`, `AWS::Partition`). This
module reads them and resolves every intrinsic against the names a deployment actually
has: the real ones of a deployment (docs/iam.md prints them with placeholders), or the
names of a local stack or test (moto enforces them, `infra/local_iam.py`).

Each of our roles carries the tag `serverless-openclaw:role` naming the component that
uses it (`handlers`, `watchdog`, `agent-task`, `agent-execution`); the roles CDK adds for
its own helpers (web deployment, auto-deleting buckets) are named after their logical ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

ROLE_TAG: Final = "serverless-openclaw:role"
"""The tag naming the component a role belongs to."""
STATE_BUCKET_OUTPUT: Final = "StateBucketName"
"""The Storage stack's output naming the state bucket (CloudFormation names it)."""

Template = dict[str, Any]


class PolicyError(ValueError):
    """A template holds something this resolver does not understand."""


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "Effect": self.effect,
            "Action": list(self.actions),
            "Resource": list(self.resources),
        }
        if self.condition:
            document["Condition"] = {k: dict(v) for k, v in self.condition.items()}
        return document


@dataclass(frozen=True)
class RolePolicy:
    """Every statement attached to one role, resolved."""

    name: str
    """The component (`ROLE_TAG`), or `cdk:<logical id>` for CDK's own roles."""
    stack: str
    logical_id: str
    statements: tuple[Statement, ...]
    managed_policies: tuple[str, ...] = ()
    trusted_services: tuple[str, ...] = ()

    def document(self) -> dict[str, Any]:
        return {
            "Version": "2012-10-17",
            "Statement": [s.as_json() for s in self.statements],
        }

    def actions(self) -> set[str]:
        return {a for s in self.statements if s.effect == "Allow" for a in s.actions}


@dataclass(frozen=True)
class Names:
    """How to name what the templates name: a deployment's account and region, and the
    prefix its resources carry (`synth_prefix` in the templates, `prefix` where the policies
    are used). CloudFormation names the state bucket and the WebSocket API itself: their
    names are given here."""

    account: str = "123456789012"
    region: str = "us-east-1"
    partition: str = "aws"
    synth_prefix: str = "serverless-openclaw"
    prefix: str = "serverless-openclaw"
    synth_region: str = "us-east-1"
    """The region the templates were synthesized for (written into them as a literal)."""
    state_bucket: str = "serverless-openclaw-state"
    websocket_api: str = "localws"

    def local(self, text: str) -> str:
        """A resolved value of the templates with this deployment's prefix and region."""
        if self.region != self.synth_region:
            text = text.replace(self.synth_region, self.region)
        if self.prefix == self.synth_prefix:
            return text
        pattern = rf"(^|[/:]){re.escape(self.synth_prefix)}(?=[-/.]|$)"
        return re.sub(pattern, lambda m: f"{m.group(1)}{self.prefix}", text)


PLACEHOLDERS: Final = Names(
    account="{account}",
    region="{region}",
    partition="aws",
    prefix="{prefix}",
    state_bucket="{state-bucket}",
    websocket_api="{websocket-api}",
)
"""The names docs/iam.md prints."""


def load_templates(paths: Mapping[str, Path]) -> dict[str, Template]:
    """Stack name -> template, from the files `synth` wrote."""
    return {stack: json.loads(Path(path).read_text()) for stack, path in paths.items()}


class Resolver:
    """Resolves the intrinsics of a set of templates (one deployment) against `Names`."""

    def __init__(self, templates: Mapping[str, Template], names: Names) -> None:
        self.templates = dict(templates)
        self.names = names
        self._exports: dict[str, tuple[str, Any]] = {}
        for stack, template in self.templates.items():
            for output in template.get("Outputs", {}).values():
                export = output.get("Export", {}).get("Name")
                if isinstance(export, str):
                    self._exports[export] = (stack, output["Value"])
        self._named_by_output: dict[tuple[str, str], str] = {}
        for stack, template in self.templates.items():
            for key, output in template.get("Outputs", {}).items():
                value = output.get("Value")
                if (
                    isinstance(value, dict)
                    and "Ref" in value
                    and not key.startswith("ExportsOutput")  # CDK's own cross-stack exports
                ):
                    self._named_by_output[(stack, value["Ref"])] = key

    # --- targets --------------------------------------------------------------------------
    def target(self, value: Any, stack: str) -> tuple[str, str] | None:
        """The (stack, logical id) a `Ref`, or an import of an exported `Ref`, points at."""
        if isinstance(value, dict):
            if "Ref" in value and value["Ref"] in self.templates[stack].get("Resources", {}):
                return stack, str(value["Ref"])
            if "Fn::ImportValue" in value:
                name = self.resolve(value["Fn::ImportValue"], stack)
                origin, exported = self._exports[name]
                return self.target(exported, origin)
        return None

    def resource(self, stack: str, logical_id: str) -> dict[str, Any]:
        resource: dict[str, Any] = self.templates[stack]["Resources"][logical_id]
        return resource

    # --- values ---------------------------------------------------------------------------
    def resolve(self, value: Any, stack: str) -> str:
        """A string with every intrinsic resolved."""
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)):
            return str(value)
        if not isinstance(value, dict) or len(value) != 1:
            raise PolicyError(f"cannot resolve {json.dumps(value)[:200]}")
        ((function, argument),) = value.items()
        match function:
            case "Ref":
                return self._ref(str(argument), stack)
            case "Fn::GetAtt":
                logical_id, attribute = (
                    argument if isinstance(argument, list) else str(argument).split(".", 1)
                )
                return self._attribute(stack, str(logical_id), str(attribute))
            case "Fn::Join":
                separator, parts = argument
                return str(separator).join(self.resolve(part, stack) for part in parts)
            case "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                return self._sub(str(text), dict(variables), stack)
            case "Fn::ImportValue":
                origin, exported = self._exports[self.resolve(argument, stack)]
                return self.resolve(exported, origin)
            case "Fn::Select":
                index, items = argument
                resolved = items if isinstance(items, list) else self.resolve(items, stack)
                return self.resolve(resolved[int(index)], stack)
        raise PolicyError(f"unsupported intrinsic {function}")

    def _sub(self, text: str, variables: dict[str, Any], stack: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return self.resolve(variables[name], stack)
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self._attribute(stack, logical_id, attribute)
            return self._ref(name, stack)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def _ref(self, name: str, stack: str) -> str:
        n = self.names
        pseudo = {
            "AWS::AccountId": n.account,
            "AWS::Region": n.region,
            "AWS::Partition": n.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack,
        }
        if name in pseudo:
            return pseudo[name]
        resource = self.resource(stack, name)
        kind = resource["Type"]
        props = resource.get("Properties", {})
        physical = self.physical_name(stack, name)
        match kind:
            case "AWS::SQS::Queue":
                return f"https://sqs.{n.region}.amazonaws.com/{n.account}/{physical}"
            case "AWS::ECS::TaskDefinition":
                family = str(props.get("Family", name))
                return self._arn("ecs", f"task-definition/{family}:1")
            case "AWS::SNS::Topic":
                return self._arn("sns", physical)
        return physical

    def _attribute(self, stack: str, logical_id: str, attribute: str) -> str:
        resource = self.resource(stack, logical_id)
        kind = resource["Type"]
        name = self.physical_name(stack, logical_id)
        if attribute == "Arn":
            arns: dict[str, Callable[[], str]] = {
                "AWS::DynamoDB::Table": lambda: self._arn("dynamodb", f"table/{name}"),
                "AWS::S3::Bucket": lambda: f"arn:{self.names.partition}:s3:::{name}",
                "AWS::SQS::Queue": lambda: self._arn("sqs", name),
                "AWS::ECS::Cluster": lambda: self._arn("ecs", f"cluster/{name}"),
                "AWS::IAM::Role": lambda: (
                    f"arn:{self.names.partition}:iam::{self.names.account}:role/{name}"
                ),
                "AWS::Logs::LogGroup": lambda: self._arn("logs", f"log-group:{name}:*"),
                "AWS::SNS::Topic": lambda: self._arn("sns", name),
                "AWS::Lambda::Function": lambda: self._arn("lambda", f"function:{name}"),
            }
            if kind in arns:
                return arns[kind]()
        if attribute == "QueueName" and kind == "AWS::SQS::Queue":
            return name
        if attribute == "ApiEndpoint":
            return f"https://{name}.execute-api.{self.names.region}.amazonaws.com"
        raise PolicyError(f"unsupported attribute {kind}.{attribute}")

    def _arn(self, service: str, resource: str) -> str:
        n = self.names
        return f"arn:{n.partition}:{service}:{n.region}:{n.account}:{resource}"

    def physical_name(self, stack: str, logical_id: str) -> str:
        """The name the resource has where these policies are used."""
        resource = self.resource(stack, logical_id)
        props = resource.get("Properties", {})
        for key in (
            "TableName",
            "QueueName",
            "ClusterName",
            "LogGroupName",
            "BucketName",
            "TopicName",
            "FunctionName",
            "RoleName",
        ):
            value = props.get(key)
            if isinstance(value, str):
                return value
        if self._named_by_output.get((stack, logical_id)) == STATE_BUCKET_OUTPUT:
            return self.names.state_bucket
        if resource["Type"] == "AWS::ApiGatewayV2::Api":
            return self.names.websocket_api
        if resource["Type"] == "AWS::IAM::Role":
            return f"{self.names.prefix}-{role_name(resource, logical_id)}"
        return f"{self.names.prefix}-{logical_id.lower()}"


def role_name(resource: Mapping[str, Any], logical_id: str) -> str:
    """The component a role serves (its `ROLE_TAG`), or `cdk:<logical id>`."""
    for tag in resource.get("Properties", {}).get("Tags", []):
        if tag.get("Key") == ROLE_TAG:
            return str(tag["Value"])
    return f"cdk:{logical_id}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(document: Mapping[str, Any], resolver: Resolver, stack: str) -> Iterator[Statement]:
    for raw in _as_list(document.get("Statement", [])):
        if "NotAction" in raw or "NotResource" in raw:
            raise PolicyError("NotAction/NotResource are not used by this project")
        local = resolver.names.local
        condition = {
            operator: {
                key: (
                    [local(resolver.resolve(v, stack)) for v in values]
                    if isinstance(values, list)
                    else local(resolver.resolve(values, stack))
                )
                for key, values in keys.items()
            }
            for operator, keys in raw.get("Condition", {}).items()
        }
        yield Statement(
            effect=str(raw["Effect"]),
            actions=tuple(str(a) for a in _as_list(raw["Action"])),
            resources=tuple(local(resolver.resolve(r, stack)) for r in _as_list(raw["Resource"])),
            condition=condition,
        )


def role_policies(templates: Mapping[str, Template], names: Names) -> dict[str, RolePolicy]:
    """Every role of the deployment with all the statements attached to it, by role name."""
    resolver = Resolver(templates, names)
    found: dict[tuple[str, str], list[Statement]] = {}
    roles: dict[tuple[str, str], dict[str, Any]] = {}
    for stack, template in templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] == "AWS::IAM::Role":
                roles[(stack, logical_id)] = resource
                found.setdefault((stack, logical_id), [])
                for inline in resource.get("Properties", {}).get("Policies", []):
                    found[(stack, logical_id)] += _statements(
                        inline["PolicyDocument"], resolver, stack
                    )
    for stack, template in templates.items():
        for resource in template.get("Resources", {}).values():
            if resource["Type"] != "AWS::IAM::Policy":
                continue
            props = resource["Properties"]
            statements = list(_statements(props["PolicyDocument"], resolver, stack))
            for role in props.get("Roles", []):
                target = resolver.target(role, stack)
                if target is None:
                    raise PolicyError(f"policy attached to an unknown role: {role}")
                found[target] += statements
    policies: dict[str, RolePolicy] = {}
    for (stack, logical_id), resource in roles.items():
        props = resource.get("Properties", {})
        name = role_name(resource, logical_id)
        trust = props.get("AssumeRolePolicyDocument", {})
        services = tuple(
            str(service)
            for statement in _as_list(trust.get("Statement", []))
            for service in _as_list(statement.get("Principal", {}).get("Service", []))
        )
        policies[name] = RolePolicy(
            name=name,
            stack=stack,
            logical_id=logical_id,
            statements=tuple(found[(stack, logical_id)]),
            managed_policies=tuple(
                resolver.resolve(arn, stack) for arn in props.get("ManagedPolicyArns", [])
            ),
            trusted_services=services,
        )
    return policies
