"""The routing follower: keeps a Router's snapshots equal to what the catalogue says.

A server that does not run the endpoints (a standby beside the leader on a shared store) routes
from documents the leader writes. The follower keeps parsed copies of the endpoints, their
configs and models and the instance records; each change the catalogue's feed reports rereads
that one document, off the event loop, and republishes the endpoints it touches
(``catalog_snapshots``); a full reread every ``resync_interval`` (and whenever the feed says
changes may have been lost) heals whatever a lost notification left stale. The request path
reads only the router's snapshots: nothing here is awaited by it.

A model or config deleted while an endpoint still runs it (SageMaker allows both) stays known
for as long as an endpoint names it; a follower started after such a deletion cannot route
that endpoint (it withdraws it, and says so in the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from .catalog import CatalogChange, CatalogFeed, CatalogStore
from .catalog_snapshots import CatalogEndpoint, snapshot_from_catalog
from .definitions import CONFIG, ENDPOINT, MODEL
from .instance_records import INSTANCE, InstanceRecord
from .model import Endpoint, EndpointConfig, Model
from .router import Router

__all__ = ["RoutingFollower"]

_log = logging.getLogger(__name__)

T = TypeVar("T")


class _Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=_Named)

_KINDS = (ENDPOINT, CONFIG, MODEL, INSTANCE)
_RETRY = 1.0  # seconds before a failed reread is tried again (as a full one)


class RoutingFollower:
    def __init__(self, catalog: CatalogStore, feed: CatalogFeed, router: Router, *,
                 resync_interval: float = 5.0) -> None:  # fmt: skip
        self.catalog = catalog
        self.feed = feed
        self.router = router
        self.resync_interval = resync_interval
        # Parsed documents, keyed by lower-case name (names are unique case-insensitively).
        self._endpoints: dict[str, Endpoint] = {}
        self._configs: dict[str, EndpointConfig] = {}
        self._models: dict[str, Model] = {}
        self._instances: dict[str, InstanceRecord] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._full = True
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # Endpoints found naming a config or model never read here (warned once each).
        self._unknown: set[str] = set()

    async def start(self) -> None:
        """Listen, read everything once, then follow; the router routes the catalogue's
        endpoints when this returns (unless the store did not answer: then soon after)."""
        await self.feed.start(self._on_change)
        self._full = False  # set again by a feed that (re)connects meanwhile
        try:
            await self._resync()
        except Exception:  # noqa: BLE001 - retried by the loop
            _log.exception("reading the routing state failed; retrying")
            self._full = True
        self._task = asyncio.create_task(self._follow(), name="routing-follower")

    async def stop(self) -> None:
        self._closing = True
        self._wake.set()
        await self.feed.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _on_change(self, change: CatalogChange | None) -> None:
        if change is None:
            self._full = True
        elif change.kind in _KINDS:
            self._dirty.add((change.kind, change.name))
        else:
            return
        self._wake.set()

    async def _follow(self) -> None:
        next_resync = time.monotonic() + self.resync_interval
        while not self._closing:
            try:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancel
                # that races the wake-up.
                async with asyncio.timeout(max(0.0, next_resync - time.monotonic())):
                    await self._wake.wait()
            except TimeoutError:
                self._full = True
            if self._closing:
                return
            self._wake.clear()
            try:
                if self._full:
                    self._full = False
                    self._dirty.clear()
                    await self._resync()
                    next_resync = time.monotonic() + self.resync_interval
                elif self._dirty:
                    dirty, self._dirty = self._dirty, set()
                    await self._refresh(dirty)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the store failed: a full reread, soon
                _log.exception("refreshing the routing state failed; retrying")
                self._full = True
                await asyncio.sleep(_RETRY)
                self._wake.set()

    # -- rereading ---------------------------------------------------------

    async def _resync(self) -> None:
        documents = await asyncio.to_thread(
            lambda: {kind: self.catalog.list(kind) for kind in _KINDS})
        endpoints = _parsed(documents[ENDPOINT], Endpoint.from_record)
        configs = _parsed(documents[CONFIG], _config)
        models = _parsed(documents[MODEL], _model)
        self._instances = {}
        for doc in documents[INSTANCE]:
            record = _record(doc)
            if record is not None:
                self._instances[record.instance_id] = record
        # Keep what live endpoints still name though it was deleted.
        for name, config in self._configs.items():
            if name not in configs and any(e.config_name.lower() == name
                                           for e in endpoints.values()):
                configs[name] = config
        named = {v.model_name.lower() for e in endpoints.values()
                 if (c := configs.get(e.config_name.lower())) is not None for v in c.variants}
        for name, model in self._models.items():
            if name not in models and name in named:
                models[name] = model
        self._endpoints, self._configs, self._models = endpoints, configs, models
        self._republish(set(self._endpoints) | {e.name.lower()
                                                     for e in self.router.endpoints()})

    async def _refresh(self, dirty: set[tuple[str, str]]) -> None:
        keys = sorted(dirty)
        documents = await asyncio.to_thread(
            lambda: [self.catalog.get(kind, name) for kind, name in keys])
        touched: set[str] = set()
        for (kind, name), doc in zip(keys, documents, strict=True):
            key = name.lower()
            if kind == ENDPOINT:
                touched.add(key)
                endpoint = None if doc is None else _parse(doc, Endpoint.from_record)
                if endpoint is None:
                    self._endpoints.pop(key, None)
                else:
                    self._endpoints[key] = endpoint
            elif kind == CONFIG:
                users = {k for k, e in self._endpoints.items() if e.config_name.lower() == key}
                touched |= users
                config = None if doc is None else _parse(doc, _config)
                if config is not None:
                    self._configs[key] = config
                elif not users:  # kept while an endpoint names it
                    self._configs.pop(key, None)
            elif kind == MODEL:
                users = {k for k, e in self._endpoints.items()
                         if (c := self._configs.get(e.config_name.lower())) is not None
                         and any(v.model_name.lower() == key for v in c.variants)}
                touched |= users
                model = None if doc is None else _parse(doc, _model)
                if model is not None:
                    self._models[key] = model
                elif not users:
                    self._models.pop(key, None)
            else:  # an instance record, by id
                old = self._instances.pop(name, None)
                if old is not None:
                    touched.add(old.endpoint.lower())
                record = None if doc is None else _record(doc)
                if record is not None:
                    self._instances[name] = record
                    touched.add(record.endpoint.lower())
        self._republish(touched)

    def _republish(self, keys: set[str]) -> None:
        by_endpoint: dict[str, list[InstanceRecord]] = {}
        for record in self._instances.values():
            by_endpoint.setdefault(record.endpoint.lower(), []).append(record)
        routed = {e.name.lower(): e.name for e in self.router.endpoints()}
        for key in keys:
            endpoint = self._endpoints.get(key)
            if endpoint is None:
                if key in routed:
                    self.router.withdraw(routed[key])
                continue
            config = self._configs.get(endpoint.config_name.lower())
            models = {} if config is None else {
                v.model_name.lower(): m for v in config.variants
                if (m := self._models.get(v.model_name.lower())) is not None
            }  # fmt: skip
            state = CatalogEndpoint(endpoint, config, models, by_endpoint.get(key, []))
            snapshot = snapshot_from_catalog(state, self.router)
            if config is None or len(models) < len(config.variants):
                if key not in self._unknown:
                    self._unknown.add(key)
                    _log.warning("endpoint %s names a config or model this server never read: "
                                 "not routed here", endpoint.name)  # fmt: skip
            else:
                self._unknown.discard(key)
            if snapshot is None:
                self.router.withdraw(endpoint.name)
            else:
                self.router.publish(snapshot)


def _config(doc: Mapping[str, Any]) -> EndpointConfig:
    return EndpointConfig.parse(doc["request"], doc["creation_time"])


def _model(doc: Mapping[str, Any]) -> Model:
    return Model.parse(doc["request"], doc["creation_time"])


def _record(doc: Mapping[str, Any]) -> InstanceRecord | None:
    return _parse(doc, InstanceRecord.from_document)


def _parse(doc: Mapping[str, Any], parse: Callable[[Mapping[str, Any]], T]) -> T | None:
    try:
        return parse(doc)
    except Exception:  # noqa: BLE001 - one unreadable document must not stop the others
        _log.exception("cannot read catalogue document %r", doc.get("name", doc))
        return None


def _parsed(docs: list[dict[str, Any]], parse: Callable[[Mapping[str, Any]], N]
            ) -> dict[str, N]:  # fmt: skip
    result = {}
    for doc in docs:
        value = _parse(doc, parse)
        if value is not None:
            result[value.name.lower()] = value
    return result
