"""deploy/kubernetes: every built-in object validates strictly against Kubernetes' schemas
(kubernetes-validate, from PyPI); the InferencePool against the required fields of the Gateway API
Inference Extension's v1 API reference; the pieces agree with each other and with kite's flags."""
import os

import jsonschema
import kubernetes_validate
import pytest
import yaml

SOURCE_DIR = os.environ.get("KITE_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
DEPLOY = os.path.join(SOURCE_DIR, "deploy", "kubernetes")

# inference.networking.k8s.io/v1 InferencePool, from the project's API reference: selector
# (matchLabels), targetPorts (1-8 unique port numbers), endpointPickerRef (name, port, failureMode).
INFERENCE_POOL_V1 = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "inference.networking.k8s.io/v1"},
        "kind": {"const": "InferencePool"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "targetPorts", "endpointPickerRef"],
            "properties": {
                "selector": {"type": "object", "required": ["matchLabels"], "additionalProperties": False,
                             "properties": {"matchLabels": {"type": "object", "minProperties": 1,
                                                            "additionalProperties": {"type": "string"}}}},
                "targetPorts": {"type": "array", "minItems": 1, "maxItems": 8, "uniqueItems": True,
                                "items": {"type": "object", "required": ["number"], "additionalProperties": False,
                                          "properties": {"number": {"type": "integer", "minimum": 1, "maximum": 65535}}}},
                "appProtocol": {"enum": ["http", "kubernetes.io/h2c"]},
                "endpointPickerRef": {
                    "type": "object", "required": ["name"], "additionalProperties": False,
                    "properties": {"group": {"type": "string"}, "kind": {"type": "string"},
                                   "name": {"type": "string", "minLength": 1},
                                   "port": {"type": "object", "required": ["number"],
                                            "properties": {"number": {"type": "integer", "minimum": 1, "maximum": 65535}}},
                                   "failureMode": {"enum": ["FailOpen", "FailClose"]}}},
            },
        },
    },
}


def documents():
    out = []
    for name in sorted(os.listdir(DEPLOY)):
        if name.endswith(".yaml"):
            with open(os.path.join(DEPLOY, name)) as f:
                out += [(name, d) for d in yaml.safe_load_all(f) if d]
    return out


def test_builtin_kinds_validate_strictly():
    checked = 0
    for name, doc in documents():
        if doc["apiVersion"].startswith("inference.networking"):
            continue
        kubernetes_validate.validate(doc, "1.33.0", strict=True)  # raises ValidationError on any problem
        checked += 1
    assert checked >= 5


def test_inference_pool_matches_v1_fields_and_the_deployment():
    docs = documents()
    pools = [d for _, d in docs if d["kind"] == "InferencePool"]
    assert len(pools) == 1
    jsonschema.validate(pools[0], INFERENCE_POOL_V1)
    deploy = next(d for _, d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "kite-serve")
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert pools[0]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ports = [p["containerPort"] for p in deploy["spec"]["template"]["spec"]["containers"][0]["ports"]]
    assert [p["number"] for p in pools[0]["spec"]["targetPorts"]] == ports
    args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "serve" and args[args.index("--port") + 1] == str(ports[0])
    probe = deploy["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"]
    assert probe == "/health"


def test_schema_rejects_a_broken_pool():
    bad = {"apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool", "metadata": {"name": "x"},
           "spec": {"selector": {"matchLabels": {"app": "a"}}, "targetPorts": []}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, INFERENCE_POOL_V1)
