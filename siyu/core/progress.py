"""Progress bars for commands (rich); commands turn them off with --verbosity 0."""
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def progress_bar(description: str, total: float | None, *, enabled: bool = True) -> Iterator[Callable[..., None]]:
    """Yield `advance(completed, **fields)`; a no-op when disabled."""
    if not enabled:
        yield lambda *args, **kwargs: None
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    ) as progress:
        task = progress.add_task(description, total=total, note="")

        def advance(completed: float, note: str = "") -> None:
            progress.update(task, completed=completed, note=note)

        yield advance
