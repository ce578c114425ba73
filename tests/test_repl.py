"""`python -m bot repl` driven through a real pseudo-terminal, as an editor would use it.

The REPL runs in its own session with the pty as its controlling terminal, so Ctrl-C and
Ctrl-D reach it the way they do from a keyboard. Its KHABAR_HOME is a temporary folder (the
readline history goes there); the converted model is pointed to with KHABAR_INDEX_MODEL_DIR.
"""
from __future__ import annotations

import errno
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "khabar> "
DEVANAGARI = re.compile(r"[\u0900-\u097F]{2,}")

# Makes the pty the child's controlling terminal (so ^C sends SIGINT), sizes it, then runs the REPL.
LAUNCH = """
import fcntl, os, struct, sys, termios
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
os.execv(sys.executable, [sys.executable, "-m", "bot", *sys.argv[1:]])
"""

# Puts the REPL in the state a badly timed Ctrl-C leaves it in, on demand: Python's C-level
# SIGINT handler has run (`_thread.interrupt_main` does what it does: set the flag, write the
# wakeup fd) while the main thread sleeps in readline's select(), which nothing then wakes. That
# is what a Ctrl-C landing between readline's echo and its select() does (bot/signals.py), but
# here it happens every time. Loaded as sitecustomize by the REPL's Python only.
LATE_CTRL_C = """
import os, signal, threading, time, _thread

def _inject(trigger):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # the terminal's Ctrl-C is not ours
    while True:
        if os.path.exists(trigger):
            os.unlink(trigger)
            _thread.interrupt_main()
        time.sleep(0.02)

if os.environ.get("LATE_CTRL_C_TRIGGER"):
    threading.Thread(target=_inject, args=(os.environ["LATE_CTRL_C_TRIGGER"],), daemon=True).start()
"""


class Terminal:
    def __init__(self, args: list[str], env: dict, cwd: Path, script: str = LAUNCH):
        """`python -c script *args` on a new pty (LAUNCH: `python -m bot *args`)."""
        master, slave = os.openpty()
        self.fd = master
        self.proc = subprocess.Popen([sys.executable, "-c", script, *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, cwd=cwd, start_new_session=True, close_fds=True)
        os.close(slave)
        self.buf = b""
        self.eof = False

    @property
    def text(self) -> str:
        return self.buf.decode("utf-8", errors="replace")

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return
        try:
            chunk = os.read(self.fd, 65536)
        except OSError as exc:  # EIO: the child closed its side of the terminal
            if exc.errno != errno.EIO:
                raise
            chunk = b""
        if not chunk:
            self.eof = True
        self.buf += chunk

    def expect(self, pattern: str, start: int, timeout: float = 180) -> int:
        """Wait until `pattern` appears in the output after character `start`; its end offset."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.text.find(pattern, start)
            if found >= 0:
                return found + len(pattern)
            if self.eof or time.monotonic() > deadline:
                why = "the REPL exited" if self.eof else f"nothing after {timeout} s"
                pytest.fail(f"{why} while waiting for {pattern!r}; output since then:\n{self.text[start:]}")
            self._read(0.5)

    def send(self, data: str) -> int:
        """Send keystrokes; returns where in the output their effect starts."""
        mark = len(self.text)
        os.write(self.fd, data.encode("utf-8"))
        return mark

    def command(self, line: str, timeout: float = 180) -> str:
        """Type a line and return everything the REPL printed until its next prompt."""
        mark = self.send(line + "\r")
        end = self.expect(PROMPT, mark + 1, timeout)
        out = self.text[mark:end - len(PROMPT)]
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.fd)


@pytest.mark.slow
def test_repl_through_a_pseudo_terminal(tmp_path, settings, seed_index_dir):
    model_dir = settings.index.resolved_model_dir()  # the real converted model, found before env changes
    assert (model_dir / "modules.json").exists()
    home = tmp_path / "khabar-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KHABAR_")}
    env.update(KHABAR_HOME=str(home), KHABAR_INDEX_MODEL_DIR=str(model_dir), TERM="xterm",
               LANG="C.UTF-8", LC_ALL="C.UTF-8", PYTHONUNBUFFERED="1")
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(LATE_CTRL_C, encoding="utf-8")
    late_ctrl_c = tmp_path / "late-ctrl-c"
    env["PYTHONPATH"] = os.pathsep.join([str(inject), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["LATE_CTRL_C_TRIGGER"] = str(late_ctrl_c)

    term = Terminal(["repl", "--index", str(seed_index_dir)], env, ROOT)
    try:
        start = term.expect(PROMPT, 0, timeout=300)
        banner = term.text[:start]
        assert "Khabar" in banner and "5 articles" in banner and str(seed_index_dir) in banner
        assert "Traceback" not in banner

        # A Hindi question: the answer is quoted in Devanagari, and English reports are cited too.
        out = term.command("महिमा कौल कौन हैं?")
        answer_lines = [line for line in out.splitlines() if line.lstrip().startswith(("[1]", "“"))]
        assert any(DEVANAGARI.search(line) for line in answer_lines), out
        assert "English" in out and "Hindi" in out, out
        assert "003_650a5a8d15b4475b" in out  # the English article about Mahima Kaul
        assert "Kaul" in out

        out = term.command(":sources")
        ranked = [line for line in out.splitlines() if re.match(r"\s*\d+\. \d\.\d{3} \(dense", line)]
        assert len(ranked) >= 5, out
        assert re.search(r"\[\w+, passage \d+, (hi|en)\]", out)

        out = term.command(":help")
        for cmd in (":sources", ":reset", ":help", ":quit"):
            assert cmd in out

        out = term.command(":foo")
        assert "Unknown command :foo" in out

        # A follow-up is read in the context of the conversation.
        out = term.command("Who is Mahima Kaul?")
        assert "Kaul" in out and "follow-up" not in out
        out = term.command("Till when will she stay?")
        assert "(follow-up, read as:" in out and "Mahima Kaul" in out
        assert "March" in out

        out = term.command(":reset")
        assert "Conversation reset." in out
        out = term.command(":sources")
        assert "Ask a question first." in out

        # Ctrl-C at the prompt clears the line; the REPL lives on and prompts again. One press.
        mark = term.send("half a question")
        term.expect("half a question", mark)
        mark = term.send("\x03")
        term.expect("^C", mark, timeout=20)
        term.expect(PROMPT, mark + 1)
        # A Ctrl-C that lands between readline's echo and its select() (how one was "lost" on
        # loaded machines: readline sat on it until the next key) interrupts the line too.
        mark = term.send("the other half")
        term.expect("the other half", mark)
        mark = len(term.text)
        late_ctrl_c.touch()
        term.expect("^C", mark, timeout=20)
        term.expect(PROMPT, mark + 1)
        assert term.text[mark:].count("^C") == 1, term.text[mark:]  # one Ctrl-C, one interrupt
        assert term.proc.poll() is None
        out = term.command("What is the capital of France?")
        assert "Nothing in the archive answers this" in out and "कोई उत्तर संग्रह में नहीं मिला" in out

        # Ctrl-D leaves with the goodbye line and status 0.
        mark = term.send("\x04")
        term.expect("Bye. / अलविदा।", mark)
        assert term.proc.wait(timeout=60) == 0
        assert "Traceback" not in term.text
    finally:
        term.close()

    history = (home / "repl_history").read_text(encoding="utf-8", errors="replace")
    assert "Till when will she stay?" in history and ":help" in history
