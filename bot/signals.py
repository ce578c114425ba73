"""Keeping Ctrl-C for the main thread.

A process-wide SIGINT may be handed by the kernel to any thread that does not block it. Only
the main thread's blocking reads (the REPL's input()) are interrupted by it, so threads that
libraries start (torch, faiss, tokenizers, the answerer's prewarm) must be created with SIGINT
blocked: they inherit the mask of the thread that starts them.
"""
from __future__ import annotations

import signal
from contextlib import contextmanager


def hold_sigint(hold: bool) -> None:
    """Block (or unblock) SIGINT in the calling thread; a Ctrl-C meanwhile arrives at the unblock."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK if hold else signal.SIG_UNBLOCK, {signal.SIGINT})


@contextmanager
def sigint_held():
    """Run a block that may start threads with SIGINT blocked, so those threads inherit the block."""
    hold_sigint(True)
    try:
        yield
    finally:
        hold_sigint(False)
