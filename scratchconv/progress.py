"""Keras 3-style progress lines for fit, evaluate and predict.

verbose=1, on a terminal, redraws one line in place (``\\r``) as steps complete::

    12/38 ━━━━━━━━━━━━━━━━━━━━ 1s 45ms/step - accuracy: 0.1234 - loss: 3.1234

and at the end of the epoch shows the elapsed time instead of the time left, plus the
validation metrics. When the output is not a terminal (a log file, a pipe) only that final
line is printed, so logs are not flooded. verbose=2 prints the final line only, Keras's
compact way: ``38/38 - 2s - 45ms/step - accuracy: 0.1234 - loss: 3.1234``. verbose=0 prints
nothing.
"""
import math
import sys
import time

BAR_WIDTH = 20
BAR, ASCII_BAR = "━", "="
# Redraw at most this often (seconds) on a terminal, as Keras does.
REDRAW_INTERVAL = 0.05


def _can_show(stream, text):
    """Whether ``stream``'s encoding can write ``text`` (a stream without one takes anything)."""
    encoding = getattr(stream, "encoding", None)
    if encoding is None:
        return True
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def format_step_time(seconds):
    """Keras's per-step time: "2s/step", "45ms/step" or "310us/step"."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def format_logs(logs):
    """" - accuracy: 0.1234 - loss: 3.1234"; values below 1e-3 in scientific notation."""
    return "".join(f" - {k}: {v:.4f}" if abs(v) > 1e-3 else f" - {k}: {v:.4e}" for k, v in logs.items())


def format_duration(seconds):
    """"42s", "3:07" or "1:02:03", as Keras prints the time left."""
    if seconds > 3600:
        return f"{seconds // 3600:.0f}:{(seconds % 3600) // 60:02.0f}:{seconds % 60:02.0f}"
    if seconds > 60:
        return f"{seconds // 60:.0f}:{seconds % 60:02.0f}"
    return f"{seconds:.0f}s"


class ProgressBar:
    """Progress over ``target`` steps.

    Parameters
    ----------
    target : int
        Number of steps.
    verbose : 0, 1 or 2
    stream : file-like, default sys.stdout
    """

    def __init__(self, target, verbose=1, stream=None):
        self.target = target
        self.verbose = verbose
        self.stream = sys.stdout if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.dynamic = bool(isatty and isatty())
        self.start = time.perf_counter()
        self._last_draw = -math.inf
        self._width = 0
        # Keras's heavy line where the output can show it, else ASCII (an ASCII-only terminal).
        self.bar = BAR if _can_show(self.stream, BAR) else ASCII_BAR

    def _counter(self, current):
        digits = len(str(self.target))
        return f"{current:{digits}d}/{self.target}"

    def update(self, current, logs):
        """Steps 1..current are done; ``logs`` are the running means so far."""
        if self.verbose != 1 or not self.dynamic:
            return
        now = time.perf_counter()
        if now - self._last_draw < REDRAW_INTERVAL:
            return
        self._last_draw = now
        per_step = (now - self.start) / current
        self._draw(current, format_duration(per_step * (self.target - current)), per_step, logs, end="")

    def finish(self, logs):
        """All steps are done: print the final line with the elapsed time and ``logs``."""
        elapsed = time.perf_counter() - self.start
        per_step = elapsed / max(self.target, 1)
        if self.verbose == 1:
            self._draw(self.target, f"{elapsed:.0f}s", per_step, logs, end="\n")
        elif self.verbose == 2:
            self.stream.write(f"{self._counter(self.target)} - {elapsed:.0f}s - {format_step_time(per_step)}"
                              f"{format_logs(logs)}\n")
            self.stream.flush()

    def _draw(self, current, time_text, per_step, logs, end):
        done = int(BAR_WIDTH * current / self.target)
        line = (f"{self._counter(current)} {self.bar * BAR_WIDTH} {time_text} {format_step_time(per_step)}"
                f"{format_logs(logs)}")
        # On a terminal the bar shows progress by brightness: the done part in green.
        if self.dynamic:
            bar = f"\x1b[32m{self.bar * done}\x1b[0m\x1b[37m{self.bar * (BAR_WIDTH - done)}\x1b[0m"
            text = line.replace(self.bar * BAR_WIDTH, bar, 1)
            padding = " " * max(self._width - len(line), 0)
            self.stream.write("\r" + text + padding + end)
        else:
            self.stream.write(line + end)
        self._width = len(line)
        self.stream.flush()
