"""A local HTTP server that speaks the part of the Slack Web API the bot uses, and signed-request helpers.

This is the approach of slack-bolt's own test suite (its `mock_web_api_server`): the real
`slack_sdk.WebClient` talks real HTTP to 127.0.0.1, so retries, 429 handling, JSON/form
encoding and the bot's threading are exercised as in production. The server answers
`auth.test`, `chat.postMessage`, `chat.postEphemeral`, `chat.update`, `reactions.add`,
`apps.connections.open` (token check only) and `response_url` posts (`/response/<name>`), checks the token and Block Kit's limits the way
Slack does (`invalid_auth`, `invalid_blocks`), records every request, and can be told to
answer a method with HTTP 429 + Retry-After.

The helpers at the bottom build Events API / slash command / block_actions payloads and sign
them with Slack's v0 scheme (HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret).
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOT_TOKEN = "xoxb-1111-2222-khabartesttoken"
APP_TOKEN = "xapp-1-AKHABAR01-3333-khabarapptoken"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_USER_ID = "UKHABAR01"
BOT_ID = "BKHABAR01"
TEAM_ID = "TNEWSROOM"
API_APP_ID = "AKHABAR01"

_ts_counter = itertools.count(100)
_id_counter = itertools.count(1)


def next_ts() -> str:
    """A fresh, increasing Slack message timestamp."""
    return f"{int(time.time())}.{next(_ts_counter):06d}"


@dataclass
class Call:
    method: str          # "chat.postMessage", ..., or "response" for response_url posts
    path: str
    body: dict
    headers: dict
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    ok: bool = True        # the API's "ok" (Slack answers refusals with 200 and ok: false)
    ts: str | None = None  # the ts this server gave a posted message


# --- Block Kit checks, as Slack applies them ------------------------------------------------------

def block_kit_problem(blocks) -> str | None:
    if not isinstance(blocks, list):
        return "blocks is not a list"
    if len(blocks) > 50:
        return f"{len(blocks)} blocks (max 50)"
    for i, b in enumerate(blocks):
        t = b.get("type")
        if t == "section":
            text = (b.get("text") or {}).get("text", "")
            if not text or len(text) > 3000:
                return f"block {i}: section text of {len(text)} characters (1..3000)"
        elif t == "context":
            els = b.get("elements") or []
            if not els or len(els) > 10:
                return f"block {i}: context with {len(els)} elements (1..10)"
            for e in els:
                if len(e.get("text", "")) > 3000:
                    return f"block {i}: context text over 3000 characters"
        elif t == "actions":
            els = b.get("elements") or []
            if not els or len(els) > 25:
                return f"block {i}: actions with {len(els)} elements"
            for e in els:
                if len(e.get("value", "")) > 2000 or len(e.get("action_id", "")) > 255:
                    return f"block {i}: button value/action_id too long"
                if len(e.get("text", {}).get("text", "")) > 75:
                    return f"block {i}: button text over 75 characters"
        elif t == "header":
            if len((b.get("text") or {}).get("text", "")) > 150:
                return f"block {i}: header over 150 characters"
        elif t not in ("divider", "image", "rich_text", "input", "file", "video"):
            return f"block {i}: unknown type {t!r}"
    return None


class SlackAPIServer:
    """`with SlackAPIServer() as slack: WebClient(base_url=slack.base_url, token=BOT_TOKEN)`."""

    def __init__(self, token: str = BOT_TOKEN, app_token: str = APP_TOKEN, bot_user_id: str = BOT_USER_ID, bot_id: str = BOT_ID,
                 team_id: str = TEAM_ID):
        self.token = token
        self.app_token = app_token
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.calls: list[Call] = []
        self._cond = threading.Condition()
        self._rate_limits: dict[str, list[int]] = {}  # method -> [retry_after, ...] still to serve
        self.httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------------
    def start(self) -> "SlackAPIServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                status, headers, body = server._handle(self.path, dict(self.headers.items()), raw)
                data = body.encode("utf-8")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="slack-api-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self._thread.join(timeout=5)
            self.httpd = None

    def __enter__(self) -> "SlackAPIServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        """What WebClient(base_url=...) takes."""
        return self.root + "/api/"

    def response_url(self, name: str | None = None) -> str:
        return f"{self.root}/response/{name or next(_id_counter)}"

    # --- test controls ------------------------------------------------------------------------------
    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and Retry-After."""
        with self._cond:
            self._rate_limits.setdefault(method, []).extend([retry_after] * times)

    def reset(self) -> None:
        with self._cond:
            self.calls.clear()

    def of(self, method: str | None = None, ok_only: bool = True, where=None) -> list[Call]:
        """Calls received so far (by default only those that succeeded)."""
        with self._cond:
            return [c for c in self.calls if (method is None or c.method == method)
                    and (c.ok or not ok_only) and (where is None or where(c))]

    def wait_for(self, method: str, count: int = 1, timeout: float = 20.0, where=None,
                 ok_only: bool = True) -> list[Call]:
        """Poll (on a condition variable) until `count` matching calls were received; return them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self.calls if c.method == method and (c.ok or not ok_only)
                         and (where is None or where(c))]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"waited {timeout}s for {count} x {method}; got {len(found)}. "
                                       f"All calls: {[(c.method, c.status, c.ok) for c in self.calls]}")
                self._cond.wait(timeout=min(left, 0.5))

    # --- the API ------------------------------------------------------------------------------------
    def _handle(self, path: str, headers: dict, raw: str) -> tuple[int, dict, str]:
        headers = {k.lower(): v for k, v in headers.items()}
        ctype = headers.get("content-type", "")
        path_only = path.partition("?")[0]
        if "json" in ctype:
            try:
                body = json.loads(raw or "{}")
            except ValueError:
                body = {"_raw": raw}
        else:
            body = {k: v[-1] for k, v in urllib.parse.parse_qs(raw or path.partition("?")[2]).items()}
            for k in ("blocks", "attachments"):
                if isinstance(body.get(k), str):
                    try:
                        body[k] = json.loads(body[k])
                    except ValueError:
                        pass
        if path_only.startswith("/response/"):
            method = "response"
        elif path_only.startswith("/api/"):
            method = path_only[len("/api/"):]
        else:
            method = path_only
        call = Call(method=method, path=path_only, body=body, headers=headers)

        with self._cond:
            pending = self._rate_limits.get(method)
            if pending:
                retry_after = pending.pop(0)
                call.status, call.ok = 429, False
                self._record(call)
                return 429, {"Content-Type": "application/json", "Retry-After": str(retry_after)}, \
                    json.dumps({"ok": False, "error": "ratelimited"})

        status, payload = self._answer(method, call, headers, body)
        call.status = status
        call.ok = status == 200 and bool(payload.get("ok", True))
        with self._cond:
            self._record(call)
        if method == "response":
            return status, {"Content-Type": "text/plain"}, "ok" if status == 200 else payload.get("error", "")
        return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(payload)

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._cond.notify_all()

    def _authed(self, headers: dict, body: dict) -> str | None:
        auth = headers.get("authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else body.get("token")
        if not token:
            return "not_authed"
        if token != self.token:
            return "invalid_auth"
        return None

    def _answer(self, method: str, call: Call, headers: dict, body: dict) -> tuple[int, dict]:
        if method == "response":
            if body.get("blocks") is not None and block_kit_problem(body["blocks"]):
                return 400, {"ok": False, "error": "invalid_blocks"}
            if not (body.get("text") or body.get("blocks") or body.get("delete_original")):
                return 400, {"ok": False, "error": "no_text"}
            return 200, {"ok": True}
        if method == "apps.connections.open":
            auth = headers.get("authorization", "")
            if auth != f"Bearer {self.app_token}":
                return 200, {"ok": False, "error": "invalid_auth"}
            # No WebSocket here: the Socket Mode tests feed envelopes to the client directly.
            return 200, {"ok": True, "url": "wss://127.0.0.1:9/link/?ticket=test"}
        err = self._authed(headers, body)
        if err:
            return 200, {"ok": False, "error": err}
        if method == "auth.test":
            return 200, {"ok": True, "url": "https://newsroom.slack.com/", "team": "Newsroom", "user": "khabar",
                         "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id,
                         "is_enterprise_install": False}
        if method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
            if not body.get("channel"):
                return 200, {"ok": False, "error": "channel_not_found"}
            if method == "chat.postEphemeral" and not body.get("user"):
                return 200, {"ok": False, "error": "user_not_found"}
            if not (body.get("text") or body.get("blocks")):
                return 200, {"ok": False, "error": "no_text"}
            if body.get("blocks") is not None:
                problem = block_kit_problem(body["blocks"])
                if problem:
                    return 200, {"ok": False, "error": "invalid_blocks", "errors": [problem]}
            if method == "chat.postEphemeral":
                call.ts = next_ts()
                return 200, {"ok": True, "message_ts": call.ts}
            call.ts = body.get("ts") if method == "chat.update" else next_ts()
            return 200, {"ok": True, "channel": body["channel"], "ts": call.ts,
                         "message": {"type": "message", "bot_id": self.bot_id, "user": self.bot_user_id,
                                     "text": body.get("text", ""), "ts": call.ts,
                                     **({"thread_ts": body["thread_ts"]} if body.get("thread_ts") else {})}}
        if method == "reactions.add":
            if not (body.get("channel") and body.get("timestamp") and body.get("name")):
                return 200, {"ok": False, "error": "invalid_arguments"}
            return 200, {"ok": True}
        return 404, {"ok": False, "error": "unknown_method"}


# --- signed requests to the bot -------------------------------------------------------------------------

def signature_headers(secret: str, body: str, timestamp: int | None = None) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = f"v0:{ts}:{body}".encode("utf-8")
    sig = "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


@dataclass
class Reply:
    status: int
    body: str
    seconds: float


def post(url: str, body: str, content_type: str, headers: dict | None = None, timeout: float = 10.0) -> Reply:
    req = urllib.request.Request(url, data=body.encode("utf-8"), method="POST",
                                 headers={"Content-Type": content_type, **(headers or {})})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, resp.read().decode("utf-8"), time.monotonic() - start)
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.read().decode("utf-8", "replace"), time.monotonic() - start)


def post_signed(url: str, payload: dict | str, secret: str = SIGNING_SECRET, *, form: bool = False,
                retry_num: int | None = None, timestamp: int | None = None, signature: str | None = None,
                sign: bool = True, timeout: float = 10.0) -> Reply:
    """POST a payload to the bot as Slack would: JSON for events, form-encoded for commands/actions."""
    if isinstance(payload, str):
        body, ctype = payload, "application/x-www-form-urlencoded" if form else "application/json"
    elif form:
        body, ctype = urllib.parse.urlencode(payload), "application/x-www-form-urlencoded"
    else:
        body, ctype = json.dumps(payload), "application/json"
    headers = signature_headers(secret, body, timestamp) if sign else {}
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    if retry_num:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return post(url, body, ctype, headers, timeout)


# --- payload builders ---------------------------------------------------------------------------------

def event_callback(event: dict, event_id: str | None = None) -> dict:
    return {"token": "legacy-verification-token", "team_id": TEAM_ID, "api_app_id": API_APP_ID,
            "event": event, "type": "event_callback",
            "event_id": event_id or f"Ev{next(_id_counter):08d}", "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}]}


def mention(text: str, channel: str = "CDESK0001", user: str = "UREPORTER1", ts: str | None = None,
            thread_ts: str | None = None, bot_user_id: str = BOT_USER_ID, event_id: str | None = None) -> dict:
    ts = ts or next_ts()
    event = {"type": "app_mention", "user": user, "text": f"<@{bot_user_id}> {text}", "ts": ts,
             "channel": channel, "event_ts": ts, "client_msg_id": f"cm-{ts}", "team": TEAM_ID}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event_callback(event, event_id)


def message(text: str, channel: str = "CDESK0001", user: str | None = "UREPORTER1", ts: str | None = None,
            thread_ts: str | None = None, channel_type: str = "channel", event_id: str | None = None,
            **extra) -> dict:
    ts = ts or next_ts()
    event = {"type": "message", "text": text, "ts": ts, "channel": channel, "event_ts": ts,
             "channel_type": channel_type, "team": TEAM_ID, **extra}
    if user is not None:
        event["user"] = user
    if "bot_id" not in extra and "subtype" not in extra:
        event["client_msg_id"] = f"cm-{ts}"
    if thread_ts:
        event["thread_ts"] = thread_ts
        event.setdefault("parent_user_id", "UREPORTER1")
    return event_callback(event, event_id)


def slash_command(text: str, response_url: str, channel: str = "CDESK0001", user: str = "UREPORTER1",
                  command: str = "/khabar") -> dict:
    return {"token": "legacy-verification-token", "team_id": TEAM_ID, "team_domain": "newsroom",
            "channel_id": channel, "channel_name": "desk", "user_id": user, "user_name": "reporter",
            "command": command, "text": text, "api_app_id": API_APP_ID, "response_url": response_url,
            "trigger_id": f"trig.{next(_id_counter)}"}


def block_action(action_id: str, value: str, response_url: str, channel: str = "CDESK0001",
                 user: str = "UEDITOR01", message_ts: str | None = None, ephemeral: bool = False) -> dict:
    """The form body of a button click: {"payload": json}."""
    payload = {
        "type": "block_actions", "team": {"id": TEAM_ID, "domain": "newsroom"},
        "user": {"id": user, "username": "editor", "team_id": TEAM_ID}, "api_app_id": API_APP_ID,
        "token": "legacy-verification-token", "trigger_id": f"trig.{next(_id_counter)}",
        "container": {"type": "message", "message_ts": message_ts or next_ts(), "channel_id": channel,
                      "is_ephemeral": ephemeral},
        "channel": {"id": channel, "name": "desk"}, "response_url": response_url,
        "actions": [{"type": "button", "action_id": action_id, "block_id": "khabar_actions", "value": value,
                     "action_ts": str(time.time()), "text": {"type": "plain_text", "text": "button"}}],
    }
    return {"payload": json.dumps(payload)}


def buttons(blocks: list[dict]) -> dict[str, dict]:
    """action_id -> button element of a posted message's blocks."""
    return {e["action_id"]: e for b in blocks if b.get("type") == "actions" for e in b["elements"]}


def all_text(blocks: list[dict]) -> str:
    """Every text in the blocks, joined (for assertions)."""
    out = []

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "text" and isinstance(v, str):
                    out.append(v)
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(blocks)
    return "\n".join(out)
