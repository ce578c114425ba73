"""Keeping Ctrl-C for the main thread.

A process-wide SIGINT may be handed by the kernel to any thread that does not block it. Only
the main thread's blocking reads (the REPL's input()) are interrupted by it, so threads that
libraries start (torch, faiss, tokenizers, the answerer's prewarm) must be created with SIGINT
blocked: they inherit the mask of the thread that starts them.
"""
from __future__ import annotations

import os
import signal
import threading
import time
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


class PromptInterrupts:
    """`input()` at an interactive prompt where every Ctrl-C interrupts it, however it is timed.

    CPython's readline loop (Modules/readline.c, `readline_until_enter_or_signal`) looks at
    signals only when its `select()` on the terminal fails with EINTR. A Ctrl-C that arrives
    after readline has echoed a key but before it is back in `select()` runs Python's C-level
    handler, which only sets a flag, and `select()` then sleeps until the next key: the Ctrl-C
    looks lost. (strace of a lost one: the echo's writes, `rt_sigaction(SIGWINCH)`, then
    `--- SIGINT ---` and `pselect6(...)` that sleeps.) A loaded machine, where the REPL is
    descheduled right after the echo, widens that window enough to hit it now and then.

    The fix: the C-level handler also writes the signal's number to a wakeup pipe
    (`signal.set_wakeup_fd`). A watcher thread (SIGINT blocked, so Ctrl-C stays the main
    thread's) reads it and, while the main thread sleeps in `input()`'s `select()`, pokes it every
    50 ms until the main thread has looked at its signals since the Ctrl-C arrived. A poke's
    `select()` fails with EINTR; Python then runs the pending handlers in signal-number order: the
    poke's, which only acknowledges it, then SIGINT's (KeyboardInterrupt), if a Ctrl-C is pending.
    The poke is SIGHUP because it must come before SIGINT (2) in that order: a handler left pending
    behind a KeyboardInterrupt makes `input()` raise SystemError. A poke never raises anything, so
    a Ctrl-C is never doubled; a SIGHUP that is no poke (the terminal hung up) still ends the
    process, as it always did.
    """

    POKE = signal.SIGHUP
    POKE_EVERY = 0.05

    def __init__(self) -> None:
        self.reading = False      # the main thread is inside input()
        self._poked = 0           # pokes sent (watcher)
        self._acked = 0           # the poke count the main thread had seen when it last checked signals
        self._pipe: tuple[int, int] | None = None
        self._old_wakeup = -1
        self._old_poke = signal.SIG_DFL
        self._main = threading.main_thread()

    def start(self) -> "PromptInterrupts":
        """Install the handlers and the watcher; call from the main thread."""
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        self._pipe = (read_end, write_end)
        self._old_wakeup = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        # Also answers Ctrl-C where the parent ignored SIGINT (a background job, some CI shells).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self._old_poke = signal.signal(self.POKE, self._on_poke)
        with sigint_held():  # the watcher inherits the block: Ctrl-C stays the main thread's
            threading.Thread(target=self._watch, args=(read_end,), name="khabar-ctrl-c", daemon=True).start()
        return self

    def input(self, prompt: str) -> str:
        self.reading = True
        try:
            return input(prompt)
        finally:
            self.reading = False

    def stop(self) -> None:
        if self._pipe is None:
            return
        signal.set_wakeup_fd(self._old_wakeup)
        write_end, self._pipe = self._pipe[1], None
        os.close(write_end)  # the watcher reads end-of-file and returns
        signal.signal(self.POKE, self._old_poke)

    def _on_poke(self, signum, frame) -> None:
        if self._acked >= self._poked:  # no poke outstanding: the terminal hung up
            signal.signal(self.POKE, signal.SIG_DFL)
            os.kill(os.getpid(), self.POKE)
            return
        # The main thread is checking its signals now: a pending Ctrl-C is raised right after this.
        self._acked = self._poked

    def _watch(self, read_end: int) -> None:
        try:
            while True:
                data = os.read(read_end, 512)
                if not data:
                    return
                if signal.SIGINT in data:
                    self._until_seen()
        finally:
            os.close(read_end)

    def _until_seen(self) -> None:
        """Poke the main thread until it has checked its signals since the Ctrl-C was received."""
        wanted = self._poked + 1
        while self._acked < wanted and self._pipe is not None:
            if self.reading and _asleep_in_select(self._main.native_id):
                self._poked += 1
                signal.pthread_kill(self._main.ident, self.POKE)
            time.sleep(self.POKE_EVERY)


def _asleep_in_select(native_id: int | None) -> bool:
    """Whether that thread sleeps in select()/poll() (Linux); True where the kernel does not say."""
    try:
        with open(f"/proc/self/task/{native_id}/wchan", encoding="ascii") as f:
            wchan = f.read().strip()
    except OSError:
        return True
    return wchan in ("", "0") or "poll" in wchan or "select" in wchan
