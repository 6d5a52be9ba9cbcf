"""Static files for `siyu serve`: collected into STATIC_ROOT (hashed names, .gz and .br copies) before serving, when
they changed since the last collection. docs/deployment.md#static-files."""
import hashlib
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.management import call_command


def static_fingerprint() -> str:
    """A digest of the storage in use and of every file collectstatic would copy (name, size, modification time)."""
    ignore = apps.get_app_config("staticfiles").ignore_patterns  # type: ignore[attr-defined]  # StaticFilesConfig's
    entries = []
    for finder in finders.get_finders():
        for name, storage in finder.list(ignore):
            stat = Path(storage.path(name)).stat()
            entries.append(f"{getattr(storage, 'prefix', None) or ''}/{name}\0{stat.st_size}\0{stat.st_mtime_ns}")
    digest = hashlib.sha256(settings.STORAGES["staticfiles"]["BACKEND"].encode())
    for entry in sorted(entries):
        digest.update(entry.encode() + b"\n")
    return digest.hexdigest()


def _stamp() -> Path:
    """Beside STATIC_ROOT, not in it (WhiteNoise serves everything in it): the fingerprint of the last collection."""
    root = Path(settings.STATIC_ROOT)
    return root.with_name(f"{root.name}.collected")


def static_collect_if_needed() -> bool:
    """Run `collectstatic` (quietly) when the storage serves collected files under hashed names and they are
    missing or older than the apps' files. True when it ran."""
    if not isinstance(staticfiles_storage, ManifestFilesMixin):
        return False  # the plain storage (tests) serves the apps' files where they are
    fingerprint, stamp = static_fingerprint(), _stamp()
    manifest = staticfiles_storage.exists(staticfiles_storage.manifest_name)
    if manifest and stamp.is_file() and stamp.read_text() == fingerprint:
        return False
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text(fingerprint)
    return True
