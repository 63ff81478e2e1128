"""Models and endpoint configs: SageMaker's create/describe/list/delete, as catalogue documents.

Nothing runs here: a model is a recipe for containers, a config a list of production
variants. CreateModel refuses an image no deploy could run; CreateEndpointConfig refuses a
model that does not exist, as AWS does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..config import Settings, parent_environment
from ..errors import ValidationException
from .catalog import AlreadyExists, CatalogStore
from .errors import ResourceNotFoundException
from .images import ImageError, classify_image
from .model import EndpointConfig, Model, arn

__all__ = ["Definitions", "MODEL", "CONFIG", "ENDPOINT", "describe_model_sync"]

# Catalogue kinds.
MODEL, CONFIG, ENDPOINT = "model", "endpoint-config", "endpoint"


async def io(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking catalogue call off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


class Definitions:
    """Model and endpoint-config CRUD over the catalogue."""

    def __init__(self, catalog: CatalogStore, settings: Settings, clock: Clock) -> None:
        self.catalog = catalog
        self.settings = settings
        self.clock = clock

    def arn(self, resource: str, name: str) -> str:
        return arn(self.settings.region, self.settings.account_id, resource, name)

    def not_found(self, what: str, resource: str, name: str) -> ResourceNotFoundException:
        return ResourceNotFoundException(f'Could not find {what} "{self.arn(resource, name)}".')

    # -- models ------------------------------------------------------------

    async def create_model(self, request: Mapping[str, Any], base_dir: Path | None = None) -> Model:
        model = Model.parse(request, self.clock.time())
        await io(_check_images, model, base_dir or Path.cwd())
        document = {
            "request": dict(request),
            "creation_time": model.creation_time,
            "base_dir": str(base_dir or Path.cwd()),
        }
        try:
            await io(self.catalog.put, MODEL, model.name, document, create=True)
        except AlreadyExists:
            raise ValidationException(
                f'Cannot create already existing model "{self.arn("model", model.name)}".'
            ) from None
        return model

    async def describe_model(self, name: str) -> tuple[Model, Path]:
        document = await io(self.catalog.get, MODEL, name)
        if document is None:
            raise self.not_found("model", "model", name)
        return Model.parse(document["request"], document["creation_time"]), Path(
            document["base_dir"]
        )

    async def list_models(self) -> list[Model]:
        docs = await io(self.catalog.list, MODEL)
        return [Model.parse(d["request"], d["creation_time"]) for d in docs]

    async def delete_model(self, name: str) -> None:
        if not await io(self.catalog.delete, MODEL, name):
            raise self.not_found("model", "model", name)

    # -- endpoint configs --------------------------------------------------

    async def create_endpoint_config(self, request: Mapping[str, Any]) -> EndpointConfig:
        config = EndpointConfig.parse(request, self.clock.time())
        for variant in config.variants:
            # As on AWS: a config may only name models that exist when it is created.
            if await io(self.catalog.get, MODEL, variant.model_name) is None:
                raise ValidationException(
                    f'Could not find model "{self.arn("model", variant.model_name)}".'
                )
        document = {"request": dict(request), "creation_time": config.creation_time}
        try:
            await io(self.catalog.put, CONFIG, config.name, document, create=True)
        except AlreadyExists:
            raise ValidationException(
                "Cannot create already existing endpoint configuration "
                f'"{self.arn("endpoint-config", config.name)}".'
            ) from None
        return config

    async def describe_endpoint_config(self, name: str) -> EndpointConfig:
        document = await io(self.catalog.get, CONFIG, name)
        if document is None:
            raise self.not_found("endpoint configuration", "endpoint-config", name)
        return EndpointConfig.parse(document["request"], document["creation_time"])

    async def list_endpoint_configs(self) -> list[EndpointConfig]:
        docs = await io(self.catalog.list, CONFIG)
        return [EndpointConfig.parse(d["request"], d["creation_time"]) for d in docs]

    async def delete_endpoint_config(self, name: str) -> None:
        if not await io(self.catalog.delete, CONFIG, name):
            raise self.not_found("endpoint configuration", "endpoint-config", name)


def describe_model_sync(catalog: CatalogStore, name: str) -> tuple[Model, Path]:
    """DescribeModel for a worker thread (planning an instance may unpack archives)."""
    document = catalog.get(MODEL, name)
    if document is None:
        raise ValidationException(f"Could not find model {name!r}.")
    return Model.parse(document["request"], document["creation_time"]), Path(document["base_dir"])


_PATH_SHAPED = ("/", "./", "../", "~", "file:")


def _check_images(model: Model, base_dir: Path) -> None:
    """Refuse at CreateModel, as SageMaker refuses an image it cannot pull, a container image
    no deploy could run here (not a framework image, no local directory, no Docker engine),
    rather than failing the endpoint later. A path-shaped Image is checked at deploy time (the
    directory may be made in between)."""
    docker_host = parent_environment().get("DOCKER_HOST")
    for index, container in enumerate(model.containers):
        image = container.image
        if container.command is not None or not image or image.strip().startswith(_PATH_SHAPED):
            continue
        field = "PrimaryContainer.Image" if model.primary_only else f"Containers[{index}].Image"
        try:
            classify_image(image, base_dir=base_dir, field=field, docker_host=docker_host)
        except ImageError as error:
            raise ValidationException(error.message, field=field) from None
