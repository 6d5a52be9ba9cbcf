"""Static files from installed packages: the Plotly bundle the `plotly` Python package ships."""
from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage


def _plotly_dir():
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data"


class PlotlyFinder(BaseFinder):
    """Serves plotly/plotly.min.js from the plotly package, and nothing else from it."""

    prefix = "plotly"
    files = ("plotly.min.js",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=str(_plotly_dir()))
        self.storage.prefix = self.prefix  # type: ignore[attr-defined]  # Django's own finders set it too; the stubs omit it

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        name = path.removeprefix(f"{self.prefix}/")
        if path.startswith(f"{self.prefix}/") and name in self.files:
            found = str(_plotly_dir() / name)
            return [found] if find_all else found
        return [] if find_all else None

    def list(self, ignore_patterns):
        for name in self.files:
            yield name, self.storage
