"""Application Auto Scaling's TagResource, UntagResource and ListTagsForResource on scalable
targets, over the one ``TagStore`` keyed by ARN.

A scalable target's ARN is the ``ScalableTargetARN`` RegisterScalableTarget returns
(``arn:aws:application-autoscaling:<region>:<account>:scalable-target/<id>``). An ARN of no
registered target is ``ResourceNotFoundException``, as AWS answers it. RegisterScalableTarget's
``Tags`` apply when it creates the target (AWS: "use TagResource to tag an existing scalable
target"); they go with the target (deregistered, or its endpoint deleted).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..scaling.errors import ScalableTargetNotFound
from ..scaling.model import ScalableTarget
from ..scaling.service import ScalingService
from ..tags import MAX_TAGS, TagStore, TooManyTags, check_tags

__all__ = ["ScalableTargetTags", "TAG_OPERATION_NAMES"]

TAG_OPERATION_NAMES = ("TagResource", "UntagResource", "ListTagsForResource")
_NAMESPACE = "sagemaker"  # the only namespace whose targets tandem registers


class ScalableTargetTags:
    """The three tagging operations on scalable targets, and their create and delete hooks."""

    def __init__(self, tags: TagStore, scaling: ScalingService) -> None:
        self.tags = tags
        self.scaling = scaling

    @staticmethod
    def check(tags: Mapping[str, str] | None) -> dict[str, str]:
        """RegisterScalableTarget's ``Tags``, refused before the target is made when a tag
        breaks AWS's rules (``TooManyTags`` past 50)."""
        given = dict(tags or {})
        check_tags(given)
        if len(given) > MAX_TAGS:
            raise TooManyTags(f"A resource can have at most {MAX_TAGS} tags.")
        return given

    def target_arn(self, resource_id: str) -> str | None:
        """The ARN of the target registered for ``resource_id``, if there is one."""
        found = self.scaling.describe_scalable_targets(
            service_namespace=_NAMESPACE, resource_ids=[resource_id]
        )
        return found[0].arn if found else None

    async def created(self, arn: str, tags: Mapping[str, str] | None) -> None:
        given = self.check(tags)
        if given:
            await self.tags.add(arn, given)

    async def deleted(self, target: ScalableTarget) -> None:
        """Forget the tags of a target that is gone (the scaling service's drop hook)."""
        await self.tags.drop(target.arn)

    def _existing(self, arn: str) -> str:
        targets = self.scaling.describe_scalable_targets(service_namespace=_NAMESPACE)
        if not any(t.arn == arn for t in targets):
            raise ScalableTargetNotFound(f"No scalable target found for ARN {arn}.")
        return arn

    async def tag_resource(self, body: Mapping[str, Any]) -> dict[str, Any]:
        arn = self._existing(body["ResourceARN"])
        await self.tags.add(arn, body["Tags"])
        return {}

    async def untag_resource(self, body: Mapping[str, Any]) -> dict[str, Any]:
        await self.tags.remove(self._existing(body["ResourceARN"]), body["TagKeys"])
        return {}

    async def list_tags_for_resource(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"Tags": await self.tags.list(self._existing(body["ResourceARN"]))}

