"""A handler-runtime model that logs while it predicts (its lines must carry the trace id)."""

import json
import logging

log = logging.getLogger("pipeline.model")


def model_fn(model_dir):
    return {"scale": 10}


def input_fn(data, content_type):
    return json.loads(data)


def predict_fn(data, model):
    log.info("predicting %d rows", len(data["instances"]))
    if data.get("fail"):
        raise ValueError("asked to fail")
    return {"instances": [[v * model["scale"] for v in row] for row in data["instances"]]}


def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
