"""bot/signals.py's PromptInterrupts at a real readline prompt, through a pseudo-terminal (no model).

A child Python reads lines with `PromptInterrupts().input()` and prints "^C" for each
KeyboardInterrupt, as the REPL does; the terminal's Ctrl-C, a Ctrl-C whose timing readline would
sit on (simulated exactly with `_thread.interrupt_main`, see tests/test_repl.py), and a real
hang-up are sent to it.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.test_repl import Terminal

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import fcntl, os, sys, termios, threading, time, _thread, readline
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
from bot.signals import PromptInterrupts, hold_sigint

def late_ctrl_c(trigger):  # the C-level handler runs while the main thread sleeps in select()
    hold_sigint(True)
    while True:
        if os.path.exists(trigger):
            os.unlink(trigger)
            _thread.interrupt_main()
        time.sleep(0.02)

threading.Thread(target=late_ctrl_c, args=(sys.argv[1],), daemon=True).start()
prompt = PromptInterrupts().start()
while True:
    try:
        line = prompt.input("p> ")
    except KeyboardInterrupt:
        print("^C")
        continue
    except EOFError:
        break
    print(f"got {line!r}")
"""


@pytest.fixture()
def child(tmp_path):
    trigger = tmp_path / "late-ctrl-c"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm", "LANG": "C.UTF-8"}
    term = Terminal([str(trigger)], env, ROOT, script=CHILD)
    term.expect("p> ", 0, timeout=60)
    yield term, trigger
    term.close()


def _interrupt(term, how) -> str:
    mark = term.send("typed")
    term.expect("typed", mark)
    mark = len(term.text)
    how()
    term.expect("^C", mark, timeout=10)
    end = term.expect("p> ", mark)
    return term.text[mark:end]


def test_every_ctrl_c_interrupts_the_line_once(child):
    term, trigger = child
    for _ in range(20):  # the terminal's own Ctrl-C, right after the echo
        assert _interrupt(term, lambda: term.send("\x03")).count("^C") == 1
    for _ in range(3):  # the Ctrl-C readline used to sit on until the next key
        assert _interrupt(term, trigger.touch).count("^C") == 1
    mark = term.send("after\r")
    term.expect("got 'after'", mark)  # the line after an interrupt is read whole
    assert "Traceback" not in term.text and "SystemError" not in term.text


def test_a_real_hangup_still_ends_the_prompt(child):
    term, _ = child
    time.sleep(0.2)
    os.kill(term.proc.pid, signal.SIGHUP)  # no poke outstanding: a hang-up, as without PromptInterrupts
    assert term.proc.wait(timeout=10) == -signal.SIGHUP
