"""What the first run on a machine shows while numba compiles drgdip's kernels (then cached for good)."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

__all__ = ["compile_progress"]


@contextmanager
def compile_progress(stream=None):
    """Show each drgdip kernel as numba compiles it (a line that updates on a terminal), then how many
    were compiled in how long. Cached kernels load without compiling, so later runs show nothing."""
    from numba.core import event

    stream = sys.stderr if stream is None else stream
    live = hasattr(stream, "isatty") and stream.isatty()
    started = time.perf_counter()
    compiled: list[str] = []

    class Listener(event.Listener):
        def on_start(self, ev):
            function = ev.data["dispatcher"].py_func
            if function.__module__.startswith("drgdip.") and live:
                print(f"\r  compiling kernel {len(compiled) + 1}: {function.__module__}.{function.__qualname__}"
                      f" ({time.perf_counter() - started:.0f} s)\033[K", end="", file=stream, flush=True)

        def on_end(self, ev):
            function = ev.data["dispatcher"].py_func
            if function.__module__.startswith("drgdip."):
                compiled.append(function.__qualname__)
                if live:   # the line goes as the kernel is done, so the command's own output stays clean
                    print("\r\033[K", end="", file=stream, flush=True)

    listener = Listener()
    event.register("numba:compile", listener)
    try:
        yield compiled
    finally:
        event.unregister("numba:compile", listener)
        if compiled:
            print(f"drgdip: compiled and cached {len(compiled)} kernels in {time.perf_counter() - started:.0f} s; "
                  "later runs load them", file=stream, flush=True)
