"""Public subnets only: no NAT gateway, no inbound rule, gateway endpoints for S3 and DynamoDB."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from serverless_openclaw.infra import nag


class Network(Construct):
    """Where agent tasks run. A task gets a public IP for its outbound calls (LLM, SQS, ECR,
    Telegram) and accepts no connection: the bridge pulls its work from SQS (decision D1/D2).
    A NAT gateway would cost more than everything else together."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        max_azs: int = 2,
        cidr: str = "10.42.0.0/16",
        egress_ports: Sequence[int] = (443,),
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=max_azs,
            nat_gateways=0,
            restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public",
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=20,
                    map_public_ip_on_launch=False,
                )
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDB": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
                ),
            },
        )
        nag.suppress(self.vpc, nag.Accepted("AwsSolutions-VPC7", nag.VPC_FLOW_LOGS))
        self.task_security_group = ec2.SecurityGroup(
            self,
            "TaskSecurityGroup",
            vpc=self.vpc,
            description="Agent tasks: no inbound rule; outbound HTTPS only",
            allow_all_outbound=False,
        )
        for port in egress_ports:
            self.task_security_group.add_egress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(port), f"outbound TCP {port}"
            )

    @property
    def public_subnet_ids(self) -> list[str]:
        return [subnet.subnet_id for subnet in self.vpc.public_subnets]
