"""BentoML: three stage services composed with ``bentoml.depends`` behind the Pipeline
service's HTTP server. Served with the BentoML venv:
``bentoml serve bentoml_pipeline:Pipeline --port PORT`` (from this directory).

The request is BentoML's idiomatic JSON API (``{"instances": [[...]]}``, validated by
BentoML); each stage gets the instances, adds 1 and returns them, and BentoML serialises
between the services as JSON over its own inter-service HTTP.
"""

import bentoml


def _add_one(instances: list[list[float]]) -> list[list[float]]:
    return [[x + 1 for x in row] for row in instances]


@bentoml.service(workers=1)
class Stage1:
    @bentoml.api
    async def add(self, instances: list[list[float]]) -> list[list[float]]:
        return _add_one(instances)


@bentoml.service(workers=1)
class Stage2:
    @bentoml.api
    async def add(self, instances: list[list[float]]) -> list[list[float]]:
        return _add_one(instances)


@bentoml.service(workers=1)
class Stage3:
    @bentoml.api
    async def add(self, instances: list[list[float]]) -> list[list[float]]:
        return _add_one(instances)


@bentoml.service(workers=1)
class Pipeline:
    first = bentoml.depends(Stage1)
    second = bentoml.depends(Stage2)
    third = bentoml.depends(Stage3)

    @bentoml.api
    async def invocations(self, instances: list[list[float]]) -> dict:
        instances = await self.first.to_async.add(instances=instances)
        instances = await self.second.to_async.add(instances=instances)
        instances = await self.third.to_async.add(instances=instances)
        return {"instances": instances}
