"""`khabar slack`: check the tokens, start the runtime and the bot, serve (Socket Mode or HTTP).

Every problem a user can cause ends in one line naming the variable (never its value) and
exit status 2. A Slack outage at start (5xx or timeouts on auth.test) is retried for
`slack.startup_retry_seconds` and then reported as Slack being unreachable, not as a bad token.
"""
from __future__ import annotations

import select
import signal
import socket
import sys
import threading
import time

from slack_sdk import WebClient

from bot.config import Settings
from bot.slack.delivery import make_client
from bot.slack.tokens import check_tokens, slack_refusal, token_problem  # noqa: F401 - slack_refusal: the name it always had here


def run_slack(settings: Settings, index: str | None = None, http_port: int | None = None) -> int:
    """`khabar slack`: Socket Mode by default, HTTP on `http_port`. Returns the exit status."""
    problem = token_problem(settings, http=http_port is not None)
    metrics_port = settings.slack.metrics_port
    if problem is None and http_port is not None and not 0 < http_port < 65536:
        problem = f"--http needs a port between 1 and 65535, not {http_port}"
    if problem is None and metrics_port and http_port is not None:
        problem = "--metrics-port is for Socket Mode: with --http, /metrics is served on the --http port"
    if problem is None and metrics_port and not 0 < metrics_port < 65536:
        problem = f"--metrics-port needs a port between 1 and 65535, not {metrics_port}"
    client = make_client(settings.slack)
    # Check the tokens with Slack before loading the model: a refused token should not cost a minute.
    problem = problem or check_tokens(settings, client, http=http_port is not None)
    if problem:
        print(f"khabar slack: {problem}", file=sys.stderr)
        return 2

    from bot.runtime import Runtime
    from bot.slack.app import KhabarBot

    with Runtime(settings, index, durable=True, watch_index=True, prewarm=True) as runtime:
        bot = KhabarBot(settings, runtime, client).start()
        if bot.recovered:
            print(f"khabar slack: answering {bot.recovered} question(s) left from the last run", file=sys.stderr,
                  flush=True)
        try:
            if http_port is not None:
                return _serve_http(settings, bot, runtime, http_port)
            return _serve_socket_mode(settings, bot, runtime, client)
        finally:
            print("khabar slack: stopping; finishing the steps in flight (the rest waits in the inbox)",
                  file=sys.stderr, flush=True)
            bot.close()


def _stop_on_sigterm() -> None:
    def stop(signum, frame):
        raise SystemExit(0)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def _serve_http(settings: Settings, bot, runtime, port: int) -> int:
    from bot.slack.http import EVENTS_PATH, SlackHTTPServer

    try:
        server = SlackHTTPServer(bot.app, settings.slack, port=port)
    except OSError as exc:
        print(f"khabar slack: cannot listen on {settings.slack.http_host}:{port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    _stop_on_sigterm()
    print(f"khabar slack: answering Slack events on http://{server.host}:{server.port}{EVENTS_PATH} "
          f"(index {runtime.index_dir}; state {settings.state_file()})", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


def _serve_socket_mode(settings: Settings, bot, runtime, client: WebClient) -> int:
    from bot.slack.http import SlackHTTPServer

    ops = None
    if settings.slack.metrics_port:
        try:
            ops = SlackHTTPServer(bot.app, settings.slack, port=settings.slack.metrics_port, ops_only=True).start()
        except OSError as exc:
            print(f"khabar slack: cannot listen on {settings.slack.http_host}:{settings.slack.metrics_port} "
                  f"for --metrics-port: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"khabar slack: /metrics, /healthz and /readyz on http://{ops.host}:{ops.port}", file=sys.stderr,
              flush=True)
    try:
        return _socket_mode(settings, bot, runtime, client)
    finally:
        if ops is not None:
            ops.shutdown()


def _socket_mode(settings: Settings, bot, runtime, client: WebClient) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError

    handler = SocketModeHandler(bot.app, app_token=settings.slack.app_token, web_client=client,
                                concurrency=max(4, settings.slack.workers))
    try:
        handler.connect()
    except SlackApiError as exc:
        print(f"khabar slack: Slack refused SLACK_APP_TOKEN ({exc.response.get('error')})", file=sys.stderr)
        handler.client.close()
        return 2
    except Exception as exc:
        detail = str(exc)
        for secret in (settings.slack.app_token, settings.slack.bot_token):
            detail = detail.replace(secret, "***") if secret else detail
        print(f"khabar slack: cannot open the Socket Mode connection ({type(exc).__name__}: {detail[:200]})",
              file=sys.stderr)
        handler.client.close()
        return 2
    if not _wait_connected(handler.client, settings.slack.startup_retry_seconds):
        print(f"khabar slack: cannot open the Socket Mode connection: Slack gave a WebSocket URL "
              f"({_host_of(handler.client.wss_uri)}) that did not answer within "
              f"{settings.slack.startup_retry_seconds:.0f} s. Try again when Slack is up (status.slack.com), "
              f"or check that outbound WebSocket (wss, port 443) connections are allowed", file=sys.stderr)
        handler.close()
        return 2
    print(f"khabar slack: connected over Socket Mode (index {runtime.index_dir}; state {settings.state_file()})",
          file=sys.stderr, flush=True)
    _stop_on_sigterm()
    try:
        while True:
            time.sleep(SOCKET_CHECK_SECONDS)
            _reconnect_if_dropped(handler.client)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        handler.close()
    return 0


SOCKET_CHECK_SECONDS = 0.5


def _wait_connected(client, seconds: float) -> bool:
    """slack_sdk's connect() logs a WebSocket it could not open and returns; its monitor retries
    every ping interval. Wait for one that is open, retrying sooner, for up to `seconds`."""
    deadline, tries = time.monotonic() + seconds, 0
    while not client.is_connected():
        if time.monotonic() >= deadline:
            return False
        tries += 1
        time.sleep(min(1.0 * tries, 5.0, max(0.0, deadline - time.monotonic())))
        if not client.is_connected():
            client.connect_to_new_endpoint()
    return True


def _reconnect_if_dropped(client) -> None:
    """Open a new connection once Slack's end of the WebSocket is gone.

    slack_sdk's builtin client notices a connection cut without a closing handshake (a network
    failure, a load balancer) only after five failed pings, about a minute, while its reader
    spins a core on the dead socket; a closed socket reads as end-of-file at once.
    """
    session = client.current_session
    sock = getattr(session, "sock", None)
    if sock is None or client.closed:
        return  # connecting, or shutting down: the client's own monitor handles it
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        # Readable with nothing to read is end-of-file. (The socket has a timeout, so recv waits
        # for data first; select says it will not have to, unless the reader took it meanwhile.)
        alive = not readable or bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, InterruptedError, TimeoutError):
        alive = True  # nothing to read after all: the connection is open
    except (OSError, ValueError):  # reset, or closed under us (a session already replaced is left below)
        alive = False
    if not alive and client.current_session is session:
        print("khabar slack: the Socket Mode connection was dropped; reconnecting", file=sys.stderr, flush=True)
        client.connect_to_new_endpoint(force=True)


def _host_of(url: str | None) -> str:
    """The URL without its ticket (never printed)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else "none"
