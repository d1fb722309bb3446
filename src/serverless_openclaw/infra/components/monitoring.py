"""Alerts the owner needs: agent tasks that fail and jobs that land in the dead-letter queue.

Failed tasks are ECS "Task State Change" events (stop code TaskFailedToStart, or a container
exiting non-zero); an EventBridge rule sends them straight to the alert topic — free, and
already an alert, so no CloudWatch alarm duplicates it (each alarm costs $0.10 a month, a
large share of this product's bill). Dead letters have no event: a CloudWatch alarm watches
the depth of the inbox dead-letter queue.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from serverless_openclaw.infra import nag
from serverless_openclaw.infra.components.agent import AgentTask
from serverless_openclaw.infra.components.storage import Storage


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        agent: AgentTask,
        storage: Storage,
        alarms: bool,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Alerts", topic_name=f"{prefix}-alerts", enforce_ssl=True)
        nag.suppress(self.topic, nag.Accepted("AwsSolutions-SNS2", nag.ALERTS_UNENCRYPTED))
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.failed_tasks_rule = events.Rule(
            self,
            "FailedAgentTasks",
            description="Agent tasks that failed to start or whose container exited non-zero",
            event_pattern=events.EventPattern(
                source=["aws.ecs"],
                detail_type=["ECS Task State Change"],
                detail={
                    "clusterArn": [agent.cluster.cluster_arn],
                    "lastStatus": ["STOPPED"],
                    "$or": [
                        {"stopCode": ["TaskFailedToStart"]},
                        {"containers": {"exitCode": [{"anything-but": 0}]}},
                    ],
                },
            ),
        )
        self.failed_tasks_rule.add_target(targets.SnsTopic(self.topic))
        self.alarms: list[cloudwatch.Alarm] = []
        if not alarms:
            return
        dlq = cloudwatch.Alarm(
            self,
            "InboxDeadLetterAlarm",
            alarm_name=f"{prefix}-inbox-dead-letters",
            alarm_description="Jobs the agent could not process reached the inbox DLQ",
            metric=storage.inbox_dlq.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        dlq.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(dlq)
