"""A page opened in headless Chromium, driven through the DevTools protocol over a pipe
(``--remote-debugging-pipe``: JSON messages separated by NUL bytes on file descriptors 3 and
4), so that a test can read the console and evaluate expressions with no extra package."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    return next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)


def _high(fds: tuple[int, int]) -> tuple[int, int]:
    """The pipe's ends moved to numbers above 4, so that the dup2s onto 3 and 4 cannot clash."""
    import fcntl  # POSIX only, as is posix_spawn: where neither exists no browser is found

    moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds)
    for fd in fds:
        os.close(fd)
    return moved  # type: ignore[return-value]


class Page:
    """``Page(browser, url)``: loads url and waits for its load event (images included);
    ``evaluate(js)`` returns a value; ``errors`` are the console's errors and exceptions."""

    def __init__(self, browser: str, url: str, profile: Path, timeout: float = 60.0) -> None:
        commands_read, self._commands = _high(os.pipe())
        self._replies, replies_write = _high(os.pipe())
        argv = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                f"--user-data-dir={profile}", "about:blank"]  # fmt: skip
        self._pid = os.posix_spawn(browser, argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, commands_read, 3),  # Chromium reads commands from fd 3
            (os.POSIX_SPAWN_DUP2, replies_write, 4),  # and writes replies to fd 4
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ])  # fmt: skip
        os.close(commands_read)
        os.close(replies_write)
        self._buffer, self._next_id, self._deadline = b"", 0, time.monotonic() + timeout
        self.errors: list[str] = []
        target = self._call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self._call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self._call(f"{domain}.enable", session=True)
        self._call("Page.navigate", session=True, url=url)
        self._wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        reply = self._call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True)  # fmt: skip
        return reply["result"].get("value")

    def close(self) -> None:
        try:
            self._call("Browser.close")
        except (OSError, TimeoutError):
            pass
        finally:
            os.waitpid(self._pid, 0)
            os.close(self._commands)
            os.close(self._replies)

    # ------------------------------------------------------------------ the protocol
    def _send(self, method: str, session: bool, params: dict[str, Any]) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > self._deadline:
                raise TimeoutError("the browser did not answer in time")
            chunk = os.read(self._replies, 1 << 16)
            if not chunk:
                raise OSError("the browser closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        reply = json.loads(message)
        self._note(reply)
        return reply

    def _note(self, message: dict[str, Any]) -> None:
        """Keep the console's errors: console.error, uncaught exceptions, failed loads."""
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value")) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description", details["text"]))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.errors.append(params["entry"].get("text", "error"))

    def _call(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        wanted = self._send(method, session, params)
        while True:
            reply = self._receive()
            if reply.get("id") == wanted:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _wait_for(self, event: str) -> None:
        while self._receive().get("method") != event:
            pass
