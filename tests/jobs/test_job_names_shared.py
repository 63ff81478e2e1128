"""Job names are unique through the catalogue, not one server's memory: two job managers on
one store (two servers) racing to create the same name, exactly one wins and the other gets
ResourceInUse, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tandem.jobs.manager import JobManager
from tandem.serving.catalog import CatalogStore
from tandem.serving.errors import ResourceInUse
from tandem.store.sqlite.catalog import SQLiteCatalogStore
from tandem.store.sqlite.database import Database
from tests.postgres import POSTGRES, empty_tables, scratch_database
from tests.tools import require_tool

ROUNDS = 20
ARN = "arn:aws:sagemaker:us-east-1:000000000000"


class _Runner:
    """Runs nothing: a job stays InProgress until stopped."""

    reattaches = False  # its jobs end with the server

    async def run(self, job: Any, on_change: Callable[[Any], None]) -> None:
        await job.stop_requested.wait()

    async def model_lookup(self, name: str) -> None:
        return None


class _Notebooks:
    async def restore(self) -> None:
        return None

    async def close(self) -> None:
        return None


@pytest.fixture(scope="module")
def postgres_dsn() -> Iterator[str]:
    require_tool(POSTGRES)
    with scratch_database() as dsn:
        yield dsn


@pytest.fixture(params=["sqlite", "postgresql"])
def catalogs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[CatalogStore]]:
    if request.param == "sqlite":
        database = Database(tmp_path / "catalog.db")
        # One server owns a SQLite file; a second handle shares its one writer.
        yield [SQLiteCatalogStore(database), SQLiteCatalogStore(database)]
        database.close()
        return
    from tandem.store.postgres import PostgresCatalogStore, PostgresDatabase

    dsn = request.getfixturevalue("postgres_dsn")
    empty_tables(dsn)
    databases = [PostgresDatabase(dsn, max_size=2) for _ in range(2)]
    yield [PostgresCatalogStore(d) for d in databases]
    for d in databases:
        d.close()


@pytest.fixture
async def managers(catalogs: list[CatalogStore]) -> AsyncIterator[list[JobManager]]:
    made = [
        JobManager(training=_Runner(), transform=_Runner(),  # type: ignore[arg-type]
                   notebooks=_Notebooks(), catalog=catalog)  # type: ignore[arg-type]
        for catalog in catalogs
    ]
    for manager in made:
        await manager.start()
    yield made
    for manager in made:
        await manager.stop()


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text("print('training')\n")
    return tmp_path


def _training(name: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "RoleArn": "arn:aws:iam::000000000000:role/r",
        "AlgorithmSpecification": {
            "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/"
                             "sagemaker-scikit-learn:1.2-1-cpu-py3",
            "TrainingInputMode": "File"},
        "HyperParameters": {"sagemaker_program": "train.py", "sagemaker_submit_directory": "."},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                           "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }  # fmt: skip


def _transform(name: str) -> dict[str, Any]:
    return {
        "TransformJobName": name,
        "ModelName": "m",
        "TransformInput": {"DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://bucket/in"}}},
        "TransformOutput": {"S3OutputPath": "s3://bucket/out"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }  # fmt: skip


async def _race(*creates: Any) -> list[Any]:
    """Each create's ARN or error, in order, all started at once."""
    return list(await asyncio.gather(*creates, return_exceptions=True))


async def test_two_servers_racing_for_a_training_job_name_one_wins(
    managers: list[JobManager], code_dir: Path,
) -> None:
    a, b = managers
    wins = {"a": 0, "b": 0}
    for i in range(ROUNDS):
        # Differently cased on the two servers every other round: names are case-insensitive.
        name_a, name_b = f"race-{i}", (f"Race-{i}" if i % 2 else f"race-{i}")
        results = await _race(a.create_training_job(_training(name_a), code_dir),
                              b.create_training_job(_training(name_b), code_dir))
        arn = f"{ARN}:training-job/race-{i}"  # SageMaker ARNs hold the name lowercased
        assert sorted(map(type, results), key=lambda t: t.__name__) == [ResourceInUse, str]
        assert arn in results
        [error] = [r for r in results if isinstance(r, ResourceInUse)]
        assert error.message == (
            "Training job names must be unique within an AWS account and region, and a "
            f"training job with this name already exists ({arn})")
        wins["a" if results[0] == arn else "b"] += 1
    # Exactly one job per name, on its winner only.
    live = [n for m in managers for n in (s["TrainingJobName"] for s in m.list_training_jobs())]
    assert sorted(n.lower() for n in live) == sorted(f"race-{i}" for i in range(ROUNDS))
    assert [len(m.list_training_jobs()) for m in managers] == [wins["a"], wins["b"]]


async def test_two_servers_racing_for_a_transform_job_name_one_wins(
    managers: list[JobManager], code_dir: Path,
) -> None:
    a, b = managers
    for i in range(ROUNDS):
        name = f"batch-{i}"
        results = await _race(a.create_transform_job(_transform(name), code_dir),
                              b.create_transform_job(_transform(name), code_dir))
        arn = f"{ARN}:transform-job/{name}"
        assert sorted(map(type, results), key=lambda t: t.__name__) == [ResourceInUse, str]
        assert arn in results
        [error] = [r for r in results if isinstance(r, ResourceInUse)]
        assert error.message == (
            "Job name must be unique within an AWS account and region, and a job with this "
            f"name already exists ({arn})")


async def test_a_name_taken_on_another_server_is_refused_after_the_race_too(
    managers: list[JobManager], code_dir: Path,
) -> None:
    a, b = managers
    await a.create_training_job(_training("taken"), code_dir)
    with pytest.raises(ResourceInUse, match="already exists"):
        await b.create_training_job(_training("TAKEN"), code_dir)
    assert [s["TrainingJobName"] for s in b.list_training_jobs()] == []
