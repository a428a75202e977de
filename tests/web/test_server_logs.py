"""The log lines of a real server process: the format and level README promises (LOG_JSON,
LOG_LEVEL) with the request id, not a framework's default."""

import json

import httpx

from tests.conftest import LiveServer


def test_server_process_logs_json_lines_with_the_request_id(database_url, tmp_path):
    server = LiveServer(database_url, tmp_path, env={"LOG_JSON": "true", "LOG_LEVEL": "INFO"})
    try:
        assert httpx.get(server.url + "/health", headers={"X-Request-ID": "trace-me-42"}).status_code == 200
    finally:
        server.stop()
    lines = [line for line in (tmp_path / f"server-{server.port}.log").read_text().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    access = [r for r in records if r["logger"] == "switchboard.access" and r["request_id"] == "trace-me-42"]
    assert access and access[0]["message"] == "GET /health 200" and "duration_ms" in access[0]


def test_server_process_honours_log_level(database_url, tmp_path):
    server = LiveServer(database_url, tmp_path, env={"LOG_LEVEL": "WARNING"})
    try:
        assert httpx.get(server.url + "/health").status_code == 200
    finally:
        server.stop()
    text = (tmp_path / f"server-{server.port}.log").read_text()
    assert "GET /health" not in text
