"""Valid JSON of the wrong shape never crashes a parser: it parses, is ignored, or is refused."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from app.providers import evolution, meta, waha, whapi
from app.providers.base import Parsed, WebhookRejected, WebhookRequest

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "providers"
JUNK = [None, "x", 7, 1.5, [], {}, ["a"], {"a": 1}, True]


def mutations(data, rng: random.Random, n: int = 60):
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, path + [i])

    walk(data, [])
    for _ in range(n):
        copy = json.loads(json.dumps(data))
        path = rng.choice(paths)
        if not path:
            yield rng.choice(JUNK)
            continue
        node = copy
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = rng.choice(JUNK)
        yield copy


@pytest.mark.parametrize(
    "provider,folder",
    [(meta.PROVIDER, "meta"), (waha.PROVIDER, "waha"), (whapi.PROVIDER, "whapi"), (evolution.PROVIDER, "evolution")],
)
def test_parsers_survive_wrong_shapes(provider, folder):
    rng = random.Random(7)
    crashes = []
    for path in sorted((FIX / folder).glob("webhook_*.json")):
        for mutated in mutations(json.loads(path.read_text()), rng):
            req = WebhookRequest(
                url="", headers={"content-type": "application/json"}, body=json.dumps(mutated).encode()
            )
            try:
                assert isinstance(provider.parse(req), Parsed)
            except WebhookRejected:
                pass
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                crashes.append((path.name, type(exc).__name__))
    # (The web layer would turn a crash into a 400, but parsers are meant not to crash at all.)
    assert crashes == []
