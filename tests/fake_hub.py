"""A local stand-in for the Hugging Face Hub's upload API, for push tests without network.

It answers the four requests ``huggingface_hub`` makes to push small files
(``create_repo``, README metadata validation, ``preupload`` and the NDJSON ``commit``) and
keeps what was pushed in memory. Every file is taken as a "regular" upload (inline base64),
so no LFS or Xet storage is involved. Anything else is answered 404 and recorded.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlparse

_ROUTE = re.compile(r"^/api/models/(?P<repo>.+)/(?P<action>preupload|commit)/(?P<revision>[^/]+)$")
COMMIT_OID = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """``with FakeHub() as hub:`` serves on ``hub.endpoint`` until the block ends."""

    def __init__(self, *, refuse: int | None = None) -> None:
        self.refuse = refuse  # answer every request with this status (e.g. 403)
        self.repos: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, bytes]] = {}
        self.commits: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, authorization
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hub._handle(self)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        path = unquote(urlparse(request.path).path)
        self.requests.append((request.command, path, request.headers.get("authorization")))
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length)
        if self.refuse is not None:
            return _reply(request, self.refuse, {"error": "You are not allowed to do that."})
        if request.command == "POST" and path == "/api/repos/create":
            payload = json.loads(body)
            repo = "/".join(p for p in (payload.get("organization"), payload["name"]) if p)
            self.repos.setdefault(repo, payload)
            self.files.setdefault(repo, {})
            return _reply(request, 200, {"url": f"{self.endpoint}/{repo}"})
        if request.command == "POST" and path == "/api/validate-yaml":
            return _reply(request, 200, {"errors": [], "warnings": []})
        route = _ROUTE.match(path)
        if request.command == "POST" and route and route["repo"] in self.repos:
            if route["action"] == "preupload":
                files = [
                    {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                    for f in json.loads(body)["files"]
                ]
                return _reply(request, 200, {"files": files})
            return _reply(request, 200, self._commit(route["repo"], route["revision"], body))
        return _reply(request, 404, {"error": f"{request.command} {path}: not in the fake hub"})

    def _commit(self, repo: str, revision: str, body: bytes) -> dict[str, Any]:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        for line in lines:
            if line["key"] == "file":
                value = line["value"]
                assert value["encoding"] == "base64"
                self.files[repo][value["path"]] = base64.b64decode(value["content"])
        self.commits.append({"repo": repo, "revision": revision, **header})
        return {
            "commitUrl": f"{self.endpoint}/{repo}/commit/{COMMIT_OID}",
            "commitOid": COMMIT_OID,
            "pullRequestUrl": f"{self.endpoint}/{repo}/discussions/1",
        }


def _reply(request: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
    data = json.dumps(payload).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)
