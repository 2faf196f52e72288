"""Progress while building, and the doit reporter that records what each step did.

The only terminal writer besides cli.py. The reporter is duck-typed to doit's reporter
interface (doit is imported only by graph.py); doit instantiates it itself, so a run's
reporter class is made by ``reporter_class(sink, progress)``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


@dataclass
class TaskEvent:
    name: str
    status: str              # "ran", "up-to-date", "failed", "skipped"
    message: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class EventSink:
    """Collects what happened to every task of one run (thread-safe)."""

    events: list[TaskEvent] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, event: TaskEvent) -> None:
        with self.lock:
            self.events.append(event)


def _is_step(task: Any) -> bool:
    return ":" in task.name and not task.name.startswith("_")


class _Amount(ProgressColumn):
    """Steps done/total, or MB for an import bar (a task with the field ``bytes``)."""

    def render(self, task: Any) -> Text:
        total = task.total or 0
        if task.fields.get("bytes"):
            return Text(f"{task.completed / 1e6:,.1f}/{total / 1e6:,.1f} MB", style="progress.download")
        return Text(f"{int(task.completed)}/{int(total)}", style="progress.download")


class ImportBars:
    """One progress bar per importing table (bytes of its CSV loaded so far), shown under the
    build's step bar. Thread-safe: engines report from worker threads."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), _Amount(),
                                 TimeElapsedColumn(), console=console, transient=True)
        self._lock = threading.Lock()

    def table(self, name: str, total_bytes: int) -> tuple[Callable[[int], None], Callable[[], None]]:
        """(on_progress(bytes so far), done()) for importing table ``name``."""
        with self._lock:
            bar = self.progress.add_task(f"import {name}", total=max(total_bytes, 1), bytes=True)

        def update(done_bytes: int) -> None:
            with self._lock:
                self.progress.update(bar, completed=min(done_bytes, total_bytes))

        def finish() -> None:
            with self._lock:
                self.progress.remove_task(bar)
        return update, finish


def reporter_class(sink: EventSink, console: Console | None, bars: ImportBars | None = None) -> type:
    """A doit reporter class bound to ``sink``; ``console`` (stderr) shows a progress bar, and
    ``bars`` (sharing its Progress) the per-table import bars."""

    class Reporter:
        desc = "csv2pg"

        def __init__(self, outstream: Any, options: Any) -> None:
            self.progress: Progress | None = None
            self.bar: Any = None

        def initialize(self, tasks: dict[str, Any], selected_tasks: list[str]) -> None:
            if console is None:
                return
            self.progress = bars.progress if bars is not None else Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=console, transient=True)
            total = sum(1 for t in tasks.values() if _is_step(t))
            self.bar = self.progress.add_task("building", total=total)
            self.progress.start()

        def _advance(self, text: str | None = None) -> None:
            if self.progress is not None:
                self.progress.advance(self.bar)
                if text:
                    self.progress.console.print(text)

        def get_status(self, task: Any) -> None:
            pass

        def execute_task(self, task: Any) -> None:
            if _is_step(task):
                with sink.lock:
                    sink.started.append(task.name)
                if self.progress is not None:
                    self.progress.update(self.bar, description=task.name)

        def add_success(self, task: Any) -> None:
            if _is_step(task):
                sink.add(TaskEvent(task.name, "ran", values=dict(task.values or {})))
                self._advance(f"  [green]✓[/] {task.name}")

        def add_failure(self, task: Any, fail: Any) -> None:
            if not _is_step(task):
                return
            if type(fail).__name__ == "UnmetDependency":
                sink.add(TaskEvent(task.name, "skipped", "a step before it failed"))
                self._advance()
                return
            message = None if fail is None else str(fail.get_msg()).strip()
            sink.add(TaskEvent(task.name, "failed", message))
            self._advance(f"  [red]✗[/] {task.name}")

        def skip_uptodate(self, task: Any) -> None:
            if _is_step(task):
                sink.add(TaskEvent(task.name, "up-to-date"))
                self._advance()

        def skip_ignore(self, task: Any) -> None:
            if _is_step(task):
                sink.add(TaskEvent(task.name, "skipped", "ignored"))
                self._advance()

        def cleanup_error(self, exception: Any) -> None:
            pass

        def runtime_error(self, msg: str) -> None:
            sink.add(TaskEvent("(doit)", "failed", msg))

        def teardown_task(self, task: Any) -> None:
            pass

        def complete_run(self) -> None:
            if self.progress is not None:
                self.progress.stop()

    return Reporter
