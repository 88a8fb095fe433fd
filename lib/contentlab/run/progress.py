"""Terminal progress of a run: notebook i/n, cell i/n, elapsed."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """Terminal progress: notebook i/n, cell i/n, elapsed.

    On a terminal one status line is redrawn every second; otherwise (CI, cron) plain lines are written:
    one when a notebook starts and ends, and one when a cell starts if nothing was written for
    ``interval`` seconds (plus a heartbeat while one cell runs long).
    """

    def __init__(self, stream: TextIO | None = None, enabled: bool = True, interval: float = 15.0):
        self.stream = stream or sys.stdout
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._label = ""
        self._stage = ""
        self._cell: int | None = None
        self._n_cells = 0
        self._t0 = 0.0
        self._last_line = 0.0
        self.current_cell: int | None = None

    # lines -------------------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        with self._lock:
            if self.tty:
                self.stream.write("\r\x1b[K" + text + "\n")
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
            self._last_line = time.monotonic()

    def _status(self) -> str:
        cell = f"cell {self._cell}/{self._n_cells}" if self._cell else "starting kernel"
        return f"{self._label} {self._stage}  {cell}  {_clock(time.monotonic() - self._t0)}"

    def note(self, text: str) -> None:
        if self.enabled:
            self._write(text)

    # notebook ------------------------------------------------------------------------------------
    def start(self, index: int, total: int, stage: str, n_cells: int) -> None:
        self._label, self._stage, self._n_cells = f"[{index}/{total}]", stage, n_cells
        self._cell = None
        self.current_cell = None
        self._t0 = time.monotonic()
        if not self.enabled:
            return
        self._write(f"{self._label} {stage}: running {n_cells} cells")
        self._stop.clear()
        self._thread = threading.Thread(target=self._tick, name="contentlab-progress", daemon=True)
        self._thread.start()

    def cell(self, number: int | None) -> None:
        if number is None:
            return
        self._cell = number
        self.current_cell = number
        if self.enabled and not self.tty and time.monotonic() - self._last_line >= self.interval:
            self._write(self._status())

    def end(self, status: str, duration: float | None = None, detail: str = "") -> None:
        if duration is None:
            duration = time.monotonic() - self._t0
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self.enabled:
            extra = f" ({detail})" if detail else ""
            self._write(f"{self._label} {self._stage}: {status} in {_clock(duration)}{extra}")

    def reused(self, index: int, total: int, stage: str, source: str, detail: str = "") -> None:
        """One line for a stage that ``--incremental`` took from an earlier run instead of executing it."""
        if self.enabled:
            extra = f" ({detail})" if detail else ""
            self._write(f"[{index}/{total}] {stage}: reused from {source}{extra}")

    def _tick(self) -> None:
        heartbeat = max(60.0, self.interval)
        while not self._stop.wait(1.0):
            if self.tty:
                with self._lock:
                    self.stream.write("\r\x1b[K" + self._status())
                    self.stream.flush()
            elif time.monotonic() - self._last_line >= heartbeat:
                self._write(self._status() + " (still running)")
