"""CloudWatch's TagResource, UntagResource and ListTagsForResource, protocol-neutral, over the
one ``TagStore`` keyed by ARN.

CloudWatch's taggable resources (alarms; Contributor Insights rules and metric streams, which
tandem does not serve) register how to tell that one exists: ``resources`` maps the ARN's
resource type (``alarm`` in ``arn:aws:cloudwatch:<region>:<account>:alarm:<name>``) to a
function of the name. An ARN of no registered type, or of a resource that does not exist, is
``ResourceNotFoundException``, as AWS answers it. The owner of a resource checks a create
call's ``Tags`` with ``check`` before making it, stores them with ``created`` after, and calls
``deleted`` when the resource goes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from ...errors import InvalidParameterValue
from ...tags import MAX_TAGS, TagStore, TooManyTags, check_tags
from .errors import CloudWatchResourceNotFound

__all__ = ["TagOperations", "TAG_OPERATION_NAMES"]

TAG_OPERATION_NAMES = ("TagResource", "UntagResource", "ListTagsForResource")
Params = Mapping[str, Any]

_CLOUDWATCH_ARN = re.compile(
    r"arn:aws[a-z\-]*:cloudwatch:([a-z0-9\-]*):([0-9]{12}):([a-z\-]+):(.+)"
)


class TagOperations:
    """The three tagging operations; ``table`` maps each name to its handler."""

    def __init__(
        self,
        tags: TagStore,
        *,
        region: str,
        account_id: str,
        resources: Mapping[str, Callable[[str], bool]] | None = None,
    ) -> None:
        self.tags = tags
        self.region = region
        self.account_id = account_id
        self.resources: dict[str, Callable[[str], bool]] = dict(resources or {})
        self.table: dict[str, Callable[[Params], Awaitable[dict[str, Any] | None]]] = {
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }

    def register(self, resource_type: str, exists: Callable[[str], bool]) -> None:
        """Make ARNs of ``resource_type`` taggable; ``exists(name)`` says whether one is here."""
        self.resources[resource_type] = exists

    @staticmethod
    def check(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
        """A create call's ``Tags`` ([{Key, Value}]) as a dict, refused (InvalidParameterValue)
        before the resource is made when a tag breaks AWS's rules."""
        given = {t["Key"]: t["Value"] for t in tags or ()}
        check_tags(given)
        if len(given) > MAX_TAGS:
            raise InvalidParameterValue(f"A resource can have at most {MAX_TAGS} tags.")
        return given

    async def created(
        self, resource_type: str, name: str, tags: Iterable[Mapping[str, str]] | None
    ) -> None:
        """Store a new resource's create-time tags (checked with ``check`` first)."""
        given = self.check(tags)
        if given:
            await self.tags.add(self.arn(resource_type, name), given)

    async def deleted(self, resource_type: str, name: str) -> None:
        """Forget the tags of a resource that is gone."""
        await self.tags.drop(self.arn(resource_type, name))

    def arn(self, resource_type: str, name: str) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{self.account_id}:{resource_type}:{name}"

    def _resource(self, arn: str) -> str:
        match = _CLOUDWATCH_ARN.fullmatch(arn)
        if match is None:
            raise InvalidParameterValue(f"Invalid ResourceARN: {arn!r} is not a CloudWatch ARN.")
        region, account, resource_type, name = match.groups()
        exists = self.resources.get(resource_type)
        if (region, account) != (self.region, self.account_id) or exists is None or not exists(
            name
        ):
            raise CloudWatchResourceNotFound(f"The resource {arn} does not exist.")
        return self.arn(resource_type, name)

    async def tag_resource(self, p: Params) -> dict[str, Any]:
        arn = self._resource(p["ResourceARN"])
        tags = {t["Key"]: t["Value"] for t in p["Tags"]}
        try:
            await self.tags.add(arn, tags)
        except TooManyTags as error:
            raise InvalidParameterValue(error.message) from None
        return {}

    async def untag_resource(self, p: Params) -> dict[str, Any]:
        await self.tags.remove(self._resource(p["ResourceARN"]), p["TagKeys"])
        return {}

    async def list_tags_for_resource(self, p: Params) -> dict[str, Any]:
        tags = await self.tags.list(self._resource(p["ResourceARN"]))
        return {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
