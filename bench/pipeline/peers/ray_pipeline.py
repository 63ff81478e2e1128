"""Ray Serve: three stage deployments composed through deployment handles behind Serve's
HTTP proxy. Run with the Ray venv's python: ``ray_pipeline.py PORT``; serves until SIGTERM.

Each stage parses the JSON bytes, adds 1 and serialises, exactly like the other systems'
stages; the ingress passes bytes from handle to handle. Two logical CPUs for the cluster,
zero per replica so all four replicas fit; no dashboard, no usage stats (set in the env).
"""

import json
import signal
import sys
import threading

import ray
from ray import serve
from starlette.requests import Request
from starlette.responses import Response


@serve.deployment(ray_actor_options={"num_cpus": 0})
class Stage:
    async def __call__(self, body: bytes) -> bytes:
        data = json.loads(body)
        data["instances"] = [[x + 1 for x in row] for row in data["instances"]]
        return json.dumps(data).encode()


@serve.deployment(ray_actor_options={"num_cpus": 0})
class Pipeline:
    def __init__(self, first, second, third) -> None:
        self.stages = (first, second, third)

    async def __call__(self, request: Request) -> Response:
        body = await request.body()
        for stage in self.stages:
            body = await stage.remote(body)
        return Response(body, media_type="application/json")


def main() -> None:
    port = int(sys.argv[1])
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING",
             log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    app = Pipeline.bind(Stage.options(name="Stage1").bind(),
                        Stage.options(name="Stage2").bind(),
                        Stage.options(name="Stage3").bind())
    serve.run(app, name="pipeline", route_prefix="/")
    print(f"ray serve pipeline on http://127.0.0.1:{port}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    serve.shutdown()
    ray.shutdown()


if __name__ == "__main__":
    main()
