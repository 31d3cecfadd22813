"""Wall time and memory of the stages of a run (``--timings`` on the commands, and the benchmarks)."""

from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

__all__ = ["StageClock", "Stage", "resident_gb", "peak_gb", "stage_of"]


def resident_gb() -> float:
    """Memory the process holds now (resident set), GB; NaN where the system does not say."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * resource.getpagesize() / 1e9
    except (OSError, ValueError, IndexError):
        return float("nan")


def peak_gb() -> float:
    """Largest resident set of the process so far, GB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e9 if sys.platform == "darwin" else peak * 1024 / 1e9


@dataclass(frozen=True)
class Stage:
    name: str
    seconds: float
    resident_gb: float   # after the stage
    peak_gb: float       # of the process up to the end of the stage


@dataclass
class StageClock:
    """Records each ``with clock.stage(name):`` block; :meth:`table` formats them.

    With ``progress`` (a text stream, e.g. standard error on a terminal) each stage is shown on one
    line as it starts, with the time so far, and the line is cleared at :meth:`done`.
    """

    stages: list[Stage] = field(default_factory=list)
    progress: object = None
    command: str = "drgdip"
    started: float = field(default_factory=time.perf_counter)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        if self.progress is not None:
            self.progress.write(f"\r\033[K{self.command}: {name} ... ({started - self.started:.1f} s)")
            self.progress.flush()
        try:
            yield
        finally:
            self.stages.append(Stage(name, time.perf_counter() - started, resident_gb(), peak_gb()))

    def done(self) -> None:
        """Clear the progress line."""
        if self.progress is not None:
            self.progress.write("\r\033[K")
            self.progress.flush()

    @property
    def total_seconds(self) -> float:
        return sum(s.seconds for s in self.stages)

    def table(self) -> str:
        """One line per stage: seconds, resident memory after it and the peak so far."""
        width = max([len(s.name) for s in self.stages] + [5])
        lines = [f"{'stage':<{width}}  {'seconds':>8}  {'memory GB':>9}  {'peak GB':>7}"]
        for s in self.stages:
            lines.append(f"{s.name:<{width}}  {s.seconds:8.2f}  {s.resident_gb:9.2f}  {s.peak_gb:7.2f}")
        lines.append(f"{'total':<{width}}  {self.total_seconds:8.2f}")
        return "\n".join(lines)


@contextmanager
def _no_clock(name: str) -> Iterator[None]:
    yield


def stage_of(clock: StageClock | None):
    """``clock.stage``, or a context that records nothing when there is no clock."""
    return clock.stage if clock is not None else _no_clock
