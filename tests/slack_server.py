"""A local HTTP server that speaks the part of the Slack Web API the bot uses, and signed-request helpers.

This is the approach of slack-bolt's own test suite (its `mock_web_api_server`): the real
`slack_sdk.WebClient` talks real HTTP to 127.0.0.1, so retries, 429 handling, JSON/form
encoding and the bot's threading are exercised as in production. The server answers
`auth.test`, `chat.postMessage`, `chat.postEphemeral`, `chat.update`, `chat.delete`,
`conversations.replies`, `conversations.history`, `reactions.add` / `reactions.remove` (kept per
message: `already_reacted`, `no_reaction`), `views.open` (a modal, kept in `views`), `apps.connections.open`
(token check only) and `response_url` posts (`/response/<name>`); checks the token and Block
Kit's limits the way Slack does (`invalid_auth`, `invalid_blocks`); keeps what was posted
(message metadata included); records every request; and can be told to fail, rate-limit or
hang a method (see `SlackAPIServer`).

`SocketModeServer` is Slack's Socket Mode end: a real WebSocket server on 127.0.0.1 (the
`websockets` library) that greets each connection with `hello`, sends envelopes (events_api,
slash_commands, interactive) and records the acks; handed to `SlackAPIServer(socket_mode=...)`,
`apps.connections.open` answers with its ws:// URL, so the real `khabar slack` (slack_sdk's own
Socket Mode client) connects to it, and reconnects to it when it drops the socket.

The helpers at the bottom build Events API / slash command / block_actions payloads and sign
them with Slack's v0 scheme (HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret).
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
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

RICH_SECTIONS = {"rich_text_section", "rich_text_quote", "rich_text_preformatted", "rich_text_list"}
RICH_INLINE = {"text", "link", "emoji", "user", "channel", "usergroup", "broadcast", "date", "color"}
RICH_STYLES = {"bold", "italic", "strike", "code"}


def _rich_text_problem(i: int, block: dict) -> str | None:
    sections = block.get("elements")
    if not isinstance(sections, list) or not sections:
        return f"block {i}: rich_text without elements"
    chars = 0
    for section in sections:
        if section.get("type") not in RICH_SECTIONS:
            return f"block {i}: rich_text element of type {section.get('type')!r}"
        inner = section.get("elements")
        if section["type"] == "rich_text_list":
            inner = [e for s in inner or [] for e in (s.get("elements") or [])]
        if not isinstance(inner, list) or not inner:
            return f"block {i}: empty {section['type']}"
        for e in inner:
            if e.get("type") not in RICH_INLINE:
                return f"block {i}: inline element of type {e.get('type')!r}"
            if e["type"] == "text" and not isinstance(e.get("text"), str):
                return f"block {i}: text element without text"
            if e["type"] == "link" and not str(e.get("url", "")).startswith(("http://", "https://", "mailto:")):
                return f"block {i}: link without a url"
            if e["type"] == "user" and not e.get("user_id"):
                return f"block {i}: user element without user_id"
            style = e.get("style") or {}
            if not isinstance(style, dict) or set(style) - RICH_STYLES:
                return f"block {i}: unknown style {style!r}"
            chars += len(e.get("text", ""))
    if chars > 4000:
        return f"block {i}: rich_text of {chars} characters (max 4000)"
    return None


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
        elif t == "rich_text":
            problem = _rich_text_problem(i, b)
            if problem:
                return problem
        elif t not in ("divider", "image", "input", "file", "video"):
            return f"block {i}: unknown type {t!r}"
    return None


ANY = object()


def _ts_value(ts) -> float:
    try:
        return float(ts)
    except (TypeError, ValueError):
        return 0.0


def _flag(value) -> bool:
    return str(value).lower() in ("1", "true")


class SlackAPIServer:
    """`with SlackAPIServer() as slack: WebClient(base_url=slack.base_url, token=BOT_TOKEN)`.

    It keeps the channel contents it was given (the bot's posts, updates and deletes, and user
    messages added with `add_user_message`) so that `conversations.replies` and
    `conversations.history` answer as Slack would, metadata included.

    Fault injection, per method ("response" means response_url posts): `rate_limit` (429 +
    Retry-After), `fail` (an HTTP status, or 200 with ok: false for a status of 200), `hang`
    (answer after `seconds`, having stored the post first with then="post", or dropping it with
    then="drop"), and `faults` (a random share of calls answered 5xx or 429; half of the 5xx
    land before they fail, as when Slack times out internally). `injected` counts what was done.
    """

    def __init__(self, token: str = BOT_TOKEN, app_token: str = APP_TOKEN, bot_user_id: str = BOT_USER_ID, bot_id: str = BOT_ID,
                 team_id: str = TEAM_ID, socket_mode: "SocketModeServer | None" = None):
        self.token = token
        self.app_token = app_token
        self.socket_mode = socket_mode  # where apps.connections.open sends the client
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.calls: list[Call] = []
        self.injected: Counter = Counter()
        self._cond = threading.Condition()
        self._scripted: dict[str, list[tuple]] = {}  # method -> actions still to serve, in order
        self._random: dict | None = None
        self._rng = random.Random(0)
        self._messages: dict[tuple[str, str], dict] = {}  # (channel, ts) -> message
        self.reactions: set[tuple[str, str, str]] = set()  # (channel, ts, name) on messages now
        self.views: list[dict] = []  # modals opened by views.open
        self._stopping = threading.Event()
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
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting (a hang)

            do_GET = do_POST

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512

        self._stopping.clear()
        self.httpd = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="slack-api-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes any hanging answer
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
        self._script(method, ("429", retry_after), times)

    def fail(self, method: str, status: int = 500, times: int = 1, error: str = "internal_error") -> None:
        """Answer the next `times` calls of `method` with HTTP `status` (200: ok false + `error`)."""
        self._script(method, ("fail", status, error), times)

    def hang(self, method: str, seconds: float, times: int = 1, then: str = "post") -> None:
        """Make the next `times` calls wait `seconds` before answering. then="post": the call
        takes effect first (the client never learns it did); then="drop": it fails with a 500."""
        if then not in ("post", "drop"):
            raise ValueError("then is 'post' or 'drop'")
        self._script(method, ("hang", seconds, then), times)

    def faults(self, share_5xx: float = 0.0, share_429: float = 0.0, retry_after: int = 1,
               methods=("chat.postMessage",), seed: int = 0) -> None:
        """From now on answer a random share of `methods` calls with 5xx or 429 (0, 0: stop)."""
        with self._cond:
            self._rng = random.Random(seed)
            self._random = {"5xx": share_5xx, "429": share_429, "retry_after": retry_after,
                            "methods": set(methods)} if share_5xx or share_429 else None

    def _script(self, method: str, action: tuple, times: int) -> None:
        with self._cond:
            self._scripted.setdefault(method, []).extend([action] * times)

    def _next_fault(self, method: str) -> tuple | None:
        with self._cond:
            pending = self._scripted.get(method)
            if pending:
                return pending.pop(0)
            r = self._random
            if r and method in r["methods"]:
                x = self._rng.random()
                if x < r["5xx"]:
                    landed = self._rng.random() < 0.5
                    return ("fail", 500 if self._rng.random() < 0.5 else 503, "internal_error", landed)
                if x < r["5xx"] + r["429"]:
                    return ("429", r["retry_after"])
        return None

    def add_user_message(self, channel: str, text: str, user: str = "UREPORTER1", ts: str | None = None,
                         thread_ts: str | None = None) -> str:
        """Put a person's message in a channel (so replies/history see it); returns its ts."""
        ts = ts or next_ts()
        with self._cond:
            self._messages[(channel, ts)] = {"type": "message", "channel": channel, "ts": ts,
                                             "thread_ts": thread_ts, "text": text, "blocks": None,
                                             "metadata": None, "user": user, "bot_id": None}
        return ts

    def messages(self, channel: str | None = None, thread_ts=ANY) -> list[dict]:
        """What is in Slack now (after updates and deletes), oldest first."""
        with self._cond:
            found = [dict(m) for m in self._messages.values()
                     if (channel is None or m["channel"] == channel) and (thread_ts is ANY or m["thread_ts"] == thread_ts)]
        return sorted(found, key=lambda m: _ts_value(m["ts"]))

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
        path_only, _, query = path.partition("?")
        if "json" in ctype:
            try:
                body = json.loads(raw or "{}")
            except ValueError:
                body = {"_raw": raw}
        else:
            body = {k: v[-1] for k, v in urllib.parse.parse_qs(raw or query).items()}
            for k in ("blocks", "attachments", "metadata"):
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

        fault = self._next_fault(method) if method != "apps.connections.open" else None
        if fault and fault[0] == "429":
            return self._refuse(call, 429, {"Retry-After": str(fault[1])}, "ratelimited", "429")
        if fault and fault[0] == "fail" and not (len(fault) > 3 and fault[3]):
            return self._refuse(call, fault[1], {}, fault[2], f"{fault[1]}")
        if fault and fault[0] == "hang" and fault[2] == "drop":
            self._stopping.wait(fault[1])
            return self._refuse(call, 500, {}, "internal_error", "hang-drop")

        status, payload = self._answer(method, call, headers, body)
        call.status = status
        call.ok = status == 200 and bool(payload.get("ok", True))
        with self._cond:
            self._record(call)
        if fault and fault[0] == "hang":  # it took effect; the answer comes too late
            with self._cond:
                self.injected["hang-post"] += 1
            self._stopping.wait(fault[1])
        elif fault and fault[0] == "fail":  # it took effect, then Slack answered 5xx
            with self._cond:
                self.injected[f"{fault[1]}-landed"] += 1
            return fault[1], {"Content-Type": "application/json"}, json.dumps({"ok": False, "error": fault[2]})
        if method == "response":
            return status, {"Content-Type": "text/plain"}, "ok" if status == 200 else payload.get("error", "")
        return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(payload)

    def _refuse(self, call: Call, status: int, headers: dict, error: str, kind: str) -> tuple[int, dict, str]:
        call.status, call.ok = status, False
        with self._cond:
            self.injected[kind] += 1
            self._record(call)
        if call.method == "response":
            return status, {"Content-Type": "text/plain", **headers}, error
        return status, {"Content-Type": "application/json", **headers}, json.dumps({"ok": False, "error": error})

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
            if self.socket_mode is not None:
                return 200, {"ok": True, "url": self.socket_mode.issue_url()}
            # No WebSocket here: the caller only checks the app token.
            return 200, {"ok": True, "url": "wss://127.0.0.1:9/link/?ticket=test"}
        err = self._authed(headers, body)
        if err:
            return 200, {"ok": False, "error": err}
        if method == "auth.test":
            return 200, {"ok": True, "url": "https://newsroom.slack.com/", "team": "Newsroom", "user": "khabar",
                         "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id,
                         "is_enterprise_install": False}
        if method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
            return self._post(method, call, body)
        if method == "chat.delete":
            with self._cond:
                if self._messages.pop((body.get("channel"), body.get("ts")), None) is None:
                    return 200, {"ok": False, "error": "message_not_found"}
            return 200, {"ok": True, "channel": body["channel"], "ts": body["ts"]}
        if method == "conversations.replies":
            return self._replies(body)
        if method == "conversations.history":
            return self._history(body)
        if method in ("reactions.add", "reactions.remove"):
            if not (body.get("channel") and body.get("timestamp") and body.get("name")):
                return 200, {"ok": False, "error": "invalid_arguments"}
            key = (body["channel"], body["timestamp"], body["name"])
            with self._cond:
                if method == "reactions.add":
                    if key in self.reactions:
                        return 200, {"ok": False, "error": "already_reacted"}
                    self.reactions.add(key)
                elif key not in self.reactions:
                    return 200, {"ok": False, "error": "no_reaction"}
                else:
                    self.reactions.discard(key)
            return 200, {"ok": True}
        if method == "views.open":
            view = body.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            if not body.get("trigger_id"):
                return 200, {"ok": False, "error": "invalid_trigger_id"}
            if not isinstance(view, dict) or view.get("type") != "modal" or \
                    len((view.get("title") or {}).get("text", "")) > 24 or len(view.get("blocks") or []) > 100:
                return 200, {"ok": False, "error": "invalid_arguments"}
            with self._cond:
                view = {**view, "id": f"V{next(_id_counter):08d}"}
                self.views.append(view)
            return 200, {"ok": True, "view": view}
        return 404, {"ok": False, "error": "unknown_method"}

    def _post(self, method: str, call: Call, body: dict) -> tuple[int, dict]:
        if not body.get("channel"):
            return 200, {"ok": False, "error": "channel_not_found"}
        if method == "chat.postEphemeral" and not body.get("user"):
            return 200, {"ok": False, "error": "user_not_found"}
        if not (body.get("text") or body.get("blocks")):
            return 200, {"ok": False, "error": "no_text"}
        if body.get("blocks"):
            problem = block_kit_problem(body["blocks"])
            if problem:
                return 200, {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        if method == "chat.postEphemeral":
            call.ts = next_ts()
            return 200, {"ok": True, "message_ts": call.ts}
        meta = body.get("metadata")
        if isinstance(meta, str):
            try:
                meta = json.loads(meta)
            except ValueError:
                return 200, {"ok": False, "error": "invalid_metadata_format"}
        key = (body["channel"], body.get("ts"))
        with self._cond:
            if method == "chat.update":
                stored = self._messages.get(key)
                if stored is None:
                    return 200, {"ok": False, "error": "message_not_found"}
                stored.update(text=body.get("text", ""), blocks=body.get("blocks") or None)
                if meta:
                    stored["metadata"] = meta
                call.ts = stored["ts"]
            else:
                call.ts = next_ts()
                stored = {"type": "message", "channel": body["channel"], "ts": call.ts,
                          "thread_ts": body.get("thread_ts") or None, "text": body.get("text", ""),
                          "blocks": body.get("blocks") or None, "metadata": meta or None,
                          "user": self.bot_user_id, "bot_id": self.bot_id}
                self._messages[(body["channel"], call.ts)] = stored
        return 200, {"ok": True, "channel": body["channel"], "ts": call.ts,
                     "message": self._public(stored, with_metadata=True)}

    @staticmethod
    def _public(m: dict, with_metadata: bool) -> dict:
        out = {k: v for k, v in m.items() if v is not None and k not in ("channel", "metadata")}
        if with_metadata and m.get("metadata"):
            out["metadata"] = m["metadata"]
        return out

    def _replies(self, body: dict) -> tuple[int, dict]:
        channel, ts = body.get("channel"), body.get("ts")
        if not channel or not ts:
            return 200, {"ok": False, "error": "invalid_arguments"}
        meta = _flag(body.get("include_all_metadata"))
        with self._cond:
            found = [m for m in self._messages.values() if m["channel"] == channel
                     and (m["ts"] == ts or m["thread_ts"] == ts)]
            if not found:
                return 200, {"ok": False, "error": "thread_not_found"}
            found.sort(key=lambda m: _ts_value(m["ts"]))
            return 200, {"ok": True, "messages": [self._public(m, meta) for m in found], "has_more": False}

    def _history(self, body: dict) -> tuple[int, dict]:
        channel = body.get("channel")
        if not channel:
            return 200, {"ok": False, "error": "channel_not_found"}
        oldest = _ts_value(body.get("oldest") or 0)
        latest = _ts_value(body.get("latest")) if body.get("latest") else float("inf")
        meta = _flag(body.get("include_all_metadata"))
        with self._cond:
            found = [m for m in self._messages.values() if m["channel"] == channel
                     and m["thread_ts"] in (None, m["ts"]) and oldest <= _ts_value(m["ts"]) <= latest]
            found.sort(key=lambda m: _ts_value(m["ts"]), reverse=True)
            return 200, {"ok": True, "messages": [self._public(m, meta) for m in found], "has_more": False}


# --- Socket Mode: Slack's WebSocket end ---------------------------------------------------------------

@dataclass
class Ack:
    envelope_id: str
    payload: dict | None  # what the app answered in the ack (slash commands may answer there)
    at: float = field(default_factory=time.monotonic)


class SocketModeServer:
    """A WebSocket server on 127.0.0.1 speaking Slack's Socket Mode protocol (the server side).

    Each connection gets `{"type": "hello"}` first, as from Slack; `send()` writes an envelope to
    the newest open connection and `wait_ack()` waits for the app's `{"envelope_id": ...}` answer.
    `drop()` cuts the newest open connection without a closing handshake (as a network failure or
    a load balancer does); `disconnect()` sends Slack's `{"type": "disconnect"}` warning first.
    """

    def __init__(self):
        self.connections: list = []  # every connection accepted, newest last
        self.open: list = []  # those still open, newest last: where envelopes go
        self.acks: dict[str, Ack] = {}
        self.tickets = 0
        self._cond = threading.Condition()
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> "SocketModeServer":
        from websockets.sync.server import serve

        self._server = serve(self._serve, "127.0.0.1", 0, compression=None, ping_interval=None)
        self._thread = threading.Thread(target=self._server.serve_forever, name="socket-mode-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._server = None

    def __enter__(self) -> "SocketModeServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.socket.getsockname()[1]

    def issue_url(self) -> str:
        """A fresh ws:// URL with its own ticket, as apps.connections.open gives."""
        with self._cond:
            self.tickets += 1
            return f"ws://127.0.0.1:{self.port}/link/?ticket=khabar-test-{self.tickets}&app_id={API_APP_ID}"

    def _serve(self, conn) -> None:
        with self._cond:
            self.connections.append(conn)
            self.open.append(conn)
            self._cond.notify_all()
        conn.send(json.dumps({"type": "hello", "num_connections": 1,
                              "debug_info": {"host": "applink-khabar-test", "build_number": 1,
                                             "approximate_connection_time": 3600},
                              "connection_info": {"app_id": API_APP_ID}}))
        try:
            for raw in conn:
                message = json.loads(raw)
                if "envelope_id" in message:
                    with self._cond:
                        self.acks[message["envelope_id"]] = Ack(message["envelope_id"], message.get("payload"))
                        self._cond.notify_all()
        except Exception:  # the connection went away (dropped here, or by the client)
            pass
        finally:
            with self._cond:
                if conn in self.open:
                    self.open.remove(conn)
                self._cond.notify_all()

    def wait_connections(self, count: int, timeout: float = 60.0, settle: float = 1.0) -> None:
        """Until `count` connections were accepted and, for `settle` seconds, exactly one is open
        (a client that reconnects closes the connection it leaves)."""
        deadline = time.monotonic() + timeout
        self._wait(lambda: len(self.connections) >= count, timeout, f"{count} Socket Mode connection(s)")
        while True:
            with self._cond:
                seen = (len(self.connections), len(self.open))
            time.sleep(settle)
            with self._cond:
                if (len(self.connections), len(self.open)) == seen and seen[1] == 1:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"Socket Mode connections did not settle: {len(self.connections)} accepted, "
                                   f"{len(self.open)} open")

    def send(self, kind: str, payload: dict, retry_attempt: int = 0, envelope_id: str | None = None,
             accepts_response_payload: bool | None = None) -> str:
        """An envelope on the newest open connection (kind: events_api, slash_commands, interactive)."""
        envelope_id = envelope_id or f"env-{next(_id_counter):06d}"
        accepts = kind != "events_api" if accepts_response_payload is None else accepts_response_payload
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                    "accepts_response_payload": accepts, "retry_attempt": retry_attempt,
                    "retry_reason": "timeout" if retry_attempt else ""}
        with self._cond:
            conn = self.open[-1]
        conn.send(json.dumps(envelope))
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> Ack:
        self._wait(lambda: envelope_id in self.acks, timeout, f"the ack of {envelope_id}")
        return self.acks[envelope_id]

    def drop(self) -> None:
        """Cut the newest open connection: no close frame, the TCP connection just ends."""
        import socket as socket_module

        with self._cond:
            conn = self.open.pop()  # gone for us at once (websockets' own reader may take a while to see it)
            self._cond.notify_all()
        try:
            conn.socket.shutdown(socket_module.SHUT_RDWR)
        except OSError:
            pass
        conn.socket.close()

    def disconnect(self, reason: str = "refresh_requested", close_after: float = 2.0) -> None:
        """Slack's warning that it will close this connection, then, `close_after` seconds later, the close."""
        with self._cond:
            conn = self.open[-1]
        conn.send(json.dumps({"type": "disconnect", "reason": reason,
                              "debug_info": {"host": "applink-khabar-test"}}))
        threading.Timer(close_after, conn.close).start()

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"waited {timeout}s for {what}; {len(self.connections)} connection(s), "
                                       f"acks {sorted(self.acks)}")
                self._cond.wait(timeout=min(left, 0.5))


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


def quotes(blocks: list[dict]) -> list[str]:
    """The answer's own quoted sentences in a posted message, in order (not the "also in" reports)."""
    out = []
    for b in blocks:
        for section in b.get("elements", []) if b.get("type") == "rich_text" else []:
            texts = [e.get("text", "") for e in section.get("elements", []) if e.get("type") == "text"]
            if section.get("type") == "rich_text_quote" and texts and not texts[0].startswith("also in"):
                out.append(re.sub(r"^\u201c|\u201d$", "", texts[0]))
    return out


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
