"""HTTP mode: bolt's WSGI adapter on waitress, behind a gate that refuses bad requests cheaply.

The gate runs before anything parses the body:
- a body over `max_body_bytes` gets 413 (past twice that, waitress refuses it unread);
- a request that is not signed with the signing secret, whose timestamp is malformed or more
  than five minutes off, or whose signature is malformed, gets 401;
- a signed body that is not UTF-8 gets 400;
each logged as one line, never a traceback. The operations endpoints (`OpsEndpoints`, also
served alone on `--metrics-port` in Socket Mode) are behind the same body limit:
`GET /healthz` answers "ok" (the process is up); `GET /readyz` "ready", or 503 with one line
per problem (the served index, the state file, Slack's auth.test); `GET /metrics` the
Prometheus text format (bot.metrics; no secrets in it). waitress gives read timeouts
(`read_timeout_seconds` of silence closes a connection) and a bounded thread pool.
"""
from __future__ import annotations

import io
import logging
import threading

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier
from waitress.server import create_server

from bot.config import SlackSettings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def _reply(start_response, status: str, text: str | bytes = "", content_type: str = "text/plain; charset=utf-8"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


def _body_length(environ, max_body: int, start_response):
    """(length, None), or (None, the 400/413 reply) for a malformed or oversized body."""
    peer = environ.get("REMOTE_ADDR", "?")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        log.warning("refused a request from %s: malformed Content-Length", peer)
        return None, _reply(start_response, "400 Bad Request", "bad request")
    if length > max_body:
        log.warning("refused a %d-byte request from %s (the limit is %d)", length, peer, max_body)
        return None, _reply(start_response, "413 Request Entity Too Large", "request too large")
    return length, None


class OpsEndpoints:
    """WSGI app of the operations endpoints: /healthz, /readyz, /metrics (GET only)."""

    PATHS = ("/", "/healthz", "/readyz", "/metrics")

    def __init__(self, app: App, settings: SlackSettings):
        self.app = app
        self.max_body = settings.max_body_bytes

    def __call__(self, environ, start_response):
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        if path not in self.PATHS:
            return _reply(start_response, "404 Not Found", "not found")
        if method not in ("GET", "HEAD"):
            return _reply(start_response, "405 Method Not Allowed", "GET only")
        _, refused = _body_length(environ, self.max_body, start_response)
        if refused is not None:
            return refused
        khabar = getattr(self.app, "khabar", None)
        if path in ("/healthz", "/"):
            return _reply(start_response, "200 OK", "ok")
        if khabar is None:
            return _reply(start_response, "503 Service Unavailable", "FAIL bot: not started\n")
        if path == "/metrics":
            from bot.metrics import CONTENT_TYPE

            return _reply(start_response, "200 OK", khabar.metrics.exposition(), CONTENT_TYPE)
        problems = khabar.problems()
        if problems:
            return _reply(start_response, "503 Service Unavailable", "\n".join(problems) + "\n")
        return _reply(start_response, "200 OK", "ready")


class SlackGate:
    """WSGI middleware: size, signature and encoding checks, then bolt's SlackRequestHandler."""

    def __init__(self, app: App, settings: SlackSettings, path: str = EVENTS_PATH):
        self.bolt = SlackRequestHandler(app, path=path)
        self.app = app
        self.ops = OpsEndpoints(app, settings)
        self.verifier = SignatureVerifier(settings.signing_secret)
        self.max_body = settings.max_body_bytes
        self.path = path

    def __call__(self, environ, start_response):
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        peer = environ.get("REMOTE_ADDR", "?")
        if path in OpsEndpoints.PATHS:
            return self.ops(environ, start_response)
        if method != "POST" or path != self.path:
            return _reply(start_response, "404 Not Found", "not found")
        length, refused = _body_length(environ, self.max_body, start_response)
        if refused is not None:
            return refused
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not self._signed(raw, timestamp, signature):
            log.warning("refused a request from %s: missing, stale or wrong Slack signature", peer)
            return _reply(start_response, "401 Unauthorized", "invalid request signature")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            log.warning("refused a signed request from %s: the body is not UTF-8", peer)
            return _reply(start_response, "400 Bad Request", "body is not UTF-8")
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        try:
            return self.bolt(environ, start_response)
        except Exception as exc:  # bolt answers its own errors; this is the last line of defence
            log.error("could not handle a signed request from %s: %s: %s", peer, type(exc).__name__, exc)
            return _reply(start_response, "500 Internal Server Error", "error")

    def _signed(self, raw: bytes, timestamp: str, signature: str) -> bool:
        if not timestamp.isdigit() or not signature.startswith("v0=") or len(signature) > 100:
            return False
        try:
            return self.verifier.is_valid(raw, timestamp, signature)
        except (ValueError, TypeError):
            return False


class SlackHTTPServer:
    """waitress serving the gate; `start()` runs it on a thread, `serve_forever()` in this one.
    `ops_only`: serve only the operations endpoints (Socket Mode's `--metrics-port`)."""

    def __init__(self, app: App, settings: SlackSettings, port: int = 3000, host: str | None = None,
                 ops_only: bool = False):
        self.host = host or settings.http_host
        wsgi = OpsEndpoints(app, settings) if ops_only else SlackGate(app, settings)
        # waitress refuses a body past twice the limit from its headers and closes the connection;
        # one a little over the limit it reads in full, so the gate's 413 reaches the sender intact
        # (closing on unread bytes resets the connection and the sender sees no answer at all).
        self.server = create_server(wsgi, host=self.host, port=port, threads=8 if not ops_only else 2,
                                    max_request_body_size=2 * settings.max_body_bytes + 65536,
                                    channel_timeout=max(1, int(settings.read_timeout_seconds)),
                                    connection_limit=200, clear_untrusted_proxy_headers=True, ident="khabar")
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        return self.server.effective_port

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}{EVENTS_PATH}"

    def serve_forever(self) -> None:
        """Serve until shutdown(), or a SystemExit/KeyboardInterrupt in this thread (a signal handler)."""
        try:
            self.server.run()  # returns on SystemExit/KeyboardInterrupt, after stopping its threads
        except OSError:
            if not self._stopping.is_set():  # shutdown() closed a socket select() was watching: expected
                raise
        finally:
            self._close_all()

    def start(self) -> "SlackHTTPServer":
        self._thread = threading.Thread(target=self.serve_forever, name="khabar-http", daemon=True)
        self._thread.start()
        return self

    def _close_all(self) -> None:
        for channel in list(self.server._map.values()):  # the listening socket, the trigger, connections
            try:
                channel.handle_close()
            except OSError:
                pass
        self.server.task_dispatcher.shutdown()

    def shutdown(self) -> None:
        """Stop a server started with start(): run() returns once its socket map is empty."""
        self._stopping.set()
        self._close_all()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
