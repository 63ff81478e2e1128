"""A handler-runtime stage (the inference.py contract): parse JSON, add 1, answer JSON."""

import json


def model_fn(model_dir):
    return 1


def input_fn(body, content_type):
    return json.loads(body)


def predict_fn(data, model):
    data["instances"] = [[x + model for x in row] for row in data["instances"]]
    return data


def output_fn(prediction, accept):
    return json.dumps(prediction).encode(), "application/json"
