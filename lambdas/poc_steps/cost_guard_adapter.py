"""What the cost guard reads and changes in AWS: this POC's campaigns, their request metrics, its
recommenders, the topic.

Campaigns are found from the dataset group (ListSolutions by datasetGroupArn, then ListCampaigns by
solutionArn), never by listing the account's campaigns, and a campaign whose name is not the group's
`<group>-...` is skipped as well: nothing outside the environment's dataset group is touched (the role
allows Describe/Update/Delete only on `campaign/<group>-*` too). Recommenders likewise: ListRecommenders
by datasetGroupArn, names `<group>-...` only (the role allows StopRecommender only on `recommender/<group>-*`);
their summary has all the guard reports, and an expired one is stopped, never deleted.

Left-behind groups (poc_steps.cost_guard_leftovers): the other dataset groups named `<name_prefix>-...`, from
the same ListDatasetGroups listing; their campaigns (ListSolutions, ListCampaigns as above) and recommenders
(ListRecommenders) are only listed. Not described: the role's DescribeCampaign stays on `campaign/<group>-*`
(a grant on `<name_prefix>-*` would reach an environment whose prefix extends this one), so a left-behind
campaign's minProvisionedTPS is not known here (CampaignSummary has none): it bills at least 1 TPS.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from poc_steps.cost_guard import ACTIVE, WINDOW_SECONDS, Campaign, GuardSettings, Recommender
from poc_steps.cost_guard_leftovers import LeftCampaign, LeftGroup, is_left_behind

#: Developer guide, "CloudWatch metrics for Amazon Personalize": namespace AWS/Personalize, dimension
#: CampaignArn; ranking campaigns report GetPersonalizedRanking, the others GetRecommendations.
NAMESPACE = "AWS/Personalize"
RANKING_RECIPES = ("aws-personalized-ranking", "aws-personalized-ranking-v2")
#: A campaign update still in flight (botocore CampaignUpdateSummary.status).
UPDATING = ("CREATE PENDING", "CREATE IN_PROGRESS")


def request_metric(recipe_arn: str) -> str:
    return "GetPersonalizedRanking" if recipe_arn.rsplit("/", 1)[-1] in RANKING_RECIPES else "GetRecommendations"


class CostGuardAdapter:
    def __init__(
        self,
        dataset_group: str,
        topic_arn: str,
        personalize: Any,
        cloudwatch: Any,
        sns: Any,
        name_prefix: str | None = None,  # None: no look for left-behind groups
    ) -> None:
        self.dataset_group = dataset_group
        self.name_prefix = name_prefix
        self.topic_arn = topic_arn
        self.personalize = personalize
        self.cloudwatch = cloudwatch
        self.sns = sns
        self._group_arn: tuple[str | None] | None = None  # looked up once per run
        self._groups: list[dict[str, Any]] | None = None  # ListDatasetGroups, once per run

    # ------------------------------------------------------------------ reading
    def dataset_group_arn(self) -> str | None:
        if self._group_arn is None:
            self._group_arn = (self._find_group(),)
        return self._group_arn[0]

    def _all_groups(self) -> list[dict[str, Any]]:
        if self._groups is None:
            self._groups = self._paged("list_dataset_groups", "datasetGroups")
        return self._groups

    def _find_group(self) -> str | None:
        for group in self._all_groups():
            if group["name"] == self.dataset_group:
                return str(group["datasetGroupArn"])
        return None

    def recommenders(self) -> list[Recommender]:
        group_arn = self.dataset_group_arn()
        if group_arn is None:
            return []
        return self._recommenders(group_arn, f"{self.dataset_group}-")

    def _recommenders(self, group_arn: str, name_start: str) -> list[Recommender]:
        """botocore RecommenderSummary: name, recommenderArn, status, creationDateTime, recommenderConfig."""
        return [
            Recommender(
                arn=summary["recommenderArn"],
                name=summary["name"],
                status=summary["status"],
                min_rps=int((summary.get("recommenderConfig") or {}).get("minRecommendationRequestsPerSecond", 1)),
                created=summary["creationDateTime"],
            )
            for summary in self._paged("list_recommenders", "recommenders", datasetGroupArn=group_arn)
            if summary["name"].startswith(name_start)
        ]

    def left_behind(self) -> list[LeftGroup]:
        """This environment's other dataset groups where a campaign or a recommender is ACTIVE (billing)."""
        if self.name_prefix is None:
            return []
        found = []
        for group in self._all_groups():
            if not is_left_behind(group["name"], self.name_prefix, self.dataset_group):
                continue
            arn = group["datasetGroupArn"]
            campaigns = tuple(self._left_campaigns(arn))
            # Any name: one made by hand in the group bills as well (reported, never touched).
            recommenders = tuple(r for r in self._recommenders(arn, "") if r.status == ACTIVE)
            if campaigns or recommenders:
                found.append(LeftGroup(group["name"], campaigns, recommenders))
        return found

    def _left_campaigns(self, group_arn: str) -> list[LeftCampaign]:
        found = []
        for solution in self._paged("list_solutions", "solutions", datasetGroupArn=group_arn):
            for summary in self._paged("list_campaigns", "campaigns", solutionArn=solution["solutionArn"]):
                if summary["status"] != ACTIVE:  # botocore Campaign.status: ACTIVE bills, updates included
                    continue
                found.append(LeftCampaign(summary["campaignArn"], summary["name"], summary["creationDateTime"]))
        return found

    def campaigns(self, settings: GuardSettings, now: datetime) -> list[Campaign]:
        group_arn = self.dataset_group_arn()
        if group_arn is None:  # torn down or never built: nothing bills
            return []
        found = []
        for solution in self._paged("list_solutions", "solutions", datasetGroupArn=group_arn):
            metric = request_metric(solution.get("recipeArn", ""))
            for summary in self._paged("list_campaigns", "campaigns", solutionArn=solution["solutionArn"]):
                if not summary["name"].startswith(f"{self.dataset_group}-"):
                    continue
                found.append(self._campaign(summary, metric, settings, now))
        return found

    def _campaign(self, summary: dict[str, Any], metric: str, settings: GuardSettings, now: datetime) -> Campaign:
        arn = summary["campaignArn"]
        detail = self.personalize.describe_campaign(campaignArn=arn)["campaign"] if summary["status"] == ACTIVE else {}
        update = detail.get("latestCampaignUpdate") or {}
        idle_since = now - timedelta(hours=settings.idle_hours)
        usage_since = now - timedelta(hours=settings.usage_window_hours)
        series = self.requests(arn, metric, min(idle_since, usage_since), now) if detail else []
        return Campaign(
            arn=arn,
            name=summary["name"],
            status=summary["status"],
            min_tps=int(detail.get("minProvisionedTPS", 1)),
            created=summary["creationDateTime"],
            update_in_progress=update.get("status") in UPDATING,
            idle_window_requests=sum(value for at, value in series if at >= idle_since),
            peak_tps=max((value / WINDOW_SECONDS for at, value in series if at >= usage_since), default=0.0),
        )

    def requests(self, campaign_arn: str, metric: str, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
        """Requests per 5-minute window (Sum), as (window start, count)."""
        query = {
            "Id": "requests",
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": [{"Name": "CampaignArn", "Value": campaign_arn}],
                },
                "Period": WINDOW_SECONDS,
                "Stat": "Sum",
            },
        }
        series: list[tuple[datetime, float]] = []
        pages = self.cloudwatch.get_paginator("get_metric_data").paginate(
            MetricDataQueries=[query], StartTime=start, EndTime=end
        )
        for page in pages:
            for result in page["MetricDataResults"]:
                series.extend(zip(result["Timestamps"], result["Values"], strict=True))
        return series

    def _paged(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.personalize.get_paginator(operation).paginate(**params):
            items.extend(page[key])
        return items

    # ------------------------------------------------------------------ changing
    def delete_campaign(self, arn: str) -> None:
        self.personalize.delete_campaign(campaignArn=arn)

    def stop_recommender(self, arn: str) -> None:
        # botocore StopRecommender: "Stops a recommender that is ACTIVE" (the guard passes ACTIVE ones only).
        self.personalize.stop_recommender(recommenderArn=arn)

    def set_min_tps(self, arn: str, min_tps: int) -> None:
        self.personalize.update_campaign(campaignArn=arn, minProvisionedTPS=min_tps)

    def notify(self, subject: str, message: str) -> None:
        self.sns.publish(TopicArn=self.topic_arn, Subject=subject, Message=message)
