"""A live progress line for training: batch i/n, loss, accuracy, images/s and ETA, on stderr.

On a terminal the line is rewritten in place (carriage return) at most ``min_interval``
times a second; otherwise (a log file, a pipe, CI) a plain line is printed each time another
quarter of the epoch is done, so logs stay short.
"""

from __future__ import annotations

import math
import sys
import time

from ..validation import check_int, check_number, fail

__all__ = ["ProgressBar", "format_duration"]


def format_duration(seconds):
    """``h:mm:ss`` or ``m:ss`` (``?`` for a duration that is not finite, e.g. an unknown ETA).

    Examples
    --------
    >>> format_duration(75.4), format_duration(3725)
    ('1:15', '1:02:05')
    """
    if isinstance(seconds, float) and not math.isfinite(seconds):
        return "?"
    seconds = max(0, int(round(check_number(seconds, "format_duration", "seconds"))))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Progress of one epoch.

    Parameters
    ----------
    total : int
        Batches in the epoch.
    label : str
        Shown first, e.g. ``"epoch 2/8"``.
    stream : file, optional
        Where to write (stderr by default).
    tty : bool, optional
        Rewrite one line in place; by default when ``stream`` is a terminal.
    min_interval : float
        Seconds between two terminal updates.
    start : int
        Batches already done (a resumed epoch); they do not count towards the speed.
    """

    def __init__(self, total, label="", stream=None, tty=None, min_interval=0.1, start=0):
        self.total, self.label = check_int(total, "ProgressBar", "total", minimum=0), str(label)
        self.stream = sys.stderr if stream is None else stream
        if not callable(getattr(self.stream, "write", None)):
            fail("ProgressBar", "stream", "a file-like object with write()", f"a {type(self.stream).__name__}",
                 TypeError)
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else bool(tty)
        self.min_interval = check_number(min_interval, "ProgressBar", "min_interval", minimum=0)
        self.start_batch = check_int(start, "ProgressBar", "start", minimum=0, maximum=self.total)
        self.started = time.perf_counter()
        self.images = 0
        self._last_write = 0.0
        self._quarter = 4 * self.start_batch // max(self.total, 1)
        self._width = 0

    def text(self, done, loss, accuracy):
        """The progress line after ``done`` batches with the running ``loss`` and ``accuracy``."""
        elapsed = time.perf_counter() - self.started
        rate = self.images / elapsed if elapsed > 0 else 0.0
        steps = done - self.start_batch
        eta = elapsed / steps * (self.total - done) if steps > 0 else float("nan")
        eta_text = format_duration(eta)
        return (f"{self.label}  batch {done}/{self.total}  loss {loss:.4f}  acc {100 * accuracy:5.1f}%  "
                f"{rate:6.0f} img/s  ETA {eta_text}")

    def update(self, done, batch_images, loss, accuracy):
        """Record one finished batch (``done`` batches so far) and redraw when due."""
        self.images += batch_images
        now = time.perf_counter()
        if self.tty:
            if done == self.total or now - self._last_write >= self.min_interval:
                line = self.text(done, loss, accuracy)
                pad = " " * max(0, self._width - len(line))
                self.stream.write("\r" + line + pad)
                self.stream.flush()
                self._width, self._last_write = len(line), now
            return
        quarter = 4 * done // max(self.total, 1)
        if quarter > self._quarter:
            self._quarter = quarter
            self.stream.write(self.text(done, loss, accuracy) + "\n")
            self.stream.flush()

    def close(self):
        """End the terminal line (before other output is printed)."""
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0
