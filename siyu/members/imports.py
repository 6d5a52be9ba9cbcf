"""Member import (导入): CSV and XLSX files of members, their tags, identities and owner.

    imp = import_create(workspace=w, by=user, path="/var/…/会员.csv", filename="会员.csv")
    import_configure(member_import=imp, mapping={"手机": "phone", "姓名": "display_name"},
                     tag_choices={"新客": "create", "旧标签": "ignore"})  # or create_tags=True: create every missing tag
    result = import_run(member_import=imp, commit=False)   # dry run: every bad row with line, column, reason
    result = import_run(member_import=imp, commit=True)    # all or nothing, in one transaction

Files are read as a stream (CSV through the csv module, XLSX through openpyxl's read-only mode) and
handled CHUNK rows at a time, so memory stays bounded whatever the file's size. Duplicate detection
across the whole file uses a scratch SQLite file beside the upload (keys, not rows), not memory.

Progress: a commit runs in one transaction, and on SQLite nothing else can write while it is open
(and on PostgreSQL other connections would not see an uncommitted done_rows), so the worker writes
its progress to `progress.json` in the import's folder under SIYU_VAR_DIR every CHUNK rows; the
console reads it (`import_progress`). MemberImport.done_rows is set when the run ends. This works the
same on SQLite and PostgreSQL and needs no second database connection.
"""
import csv
import hashlib
import json
import os
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy, gettext_noop, pgettext_lazy

from siyu.core.db import insert_many, update_by_field_set
from siyu.core.events import OWN_SOURCE, EventType, own_member_event
from siyu.core.fields import contact_digest, contact_digests
from siyu.core.ingest import events_ingest
from siyu.core.models import AuditEntry, StaffRole, Workspace
from siyu.core.text import TranslatableText, text_json, text_render

from .privacy import phone_normalise
from .models import Identity, ImportStatus, Member, MemberImport, Tag, TagGroup, TagVia
from .projections import member_numbers_allocate
from .sources import SOURCE_MAX, source_label, source_normalise
from .tags import tag_create, tag_group_create, tags_apply

# Messages of this module remember their msgid: a reason stored on the import (report, summary, error) is shown
# in the reader's language, not in the language of whoever ran the check (core.text.TranslatableText).
_ = TranslatableText

CHUNK = 1000  # rows validated, looked up and written together; progress is written after each chunk
REPORT_LIMIT = 1000  # bad rows kept in MemberImport.report (the count is exact)
UPDATE_NOTES_LIMIT = 200
PREVIEW_ROWS = 5
INLINE_ROWS = 5_000  # the console runs smaller files in the request, larger ones on the queue

# -- fields and header names ------------------------------------------------------------------------
FIELDS = {
    "display_name": pgettext_lazy("a person's name", "Name"),
    "phone": gettext_lazy("Phone"),
    "email": gettext_lazy("E-mail"),
    "wechat": gettext_lazy("WeChat ID"),
    "gender": gettext_lazy("Gender"),
    "city": gettext_lazy("City"),
    "remark": gettext_lazy("Remark"),
    "tags": gettext_lazy("Tags"),
    "source": gettext_lazy("Source (渠道)"),
    "owner": gettext_lazy("Owner (staff username or e-mail)"),
    "number": gettext_lazy("Member number (学号): update that member"),
    "identities": gettext_lazy("Identities (channel:external id)"),
}
IDENTITY_PREFIX = "identity:"  # "identity:wecom": the column holds external ids on channel wecom
REPEATABLE = {"tags", "identities"}  # fields several columns may feed
LIMITS = {"display_name": 128, "city": 64, "remark": 200, "email": 254, "wechat": 64, "source": SOURCE_MAX}

HEADER_NAMES = {
    "display_name": ["姓名", "名字", "昵称", "名称", "客户名称", "客户姓名", "会员姓名", "用户名", "name", "displayname",
                     "nickname", "fullname"],
    "phone": ["手机", "手机号", "手机号码", "电话", "电话号码", "联系电话", "mobile", "phone", "phonenumber", "tel", "cellphone"],
    "email": ["邮箱", "电子邮箱", "电子邮件", "email", "e-mail", "mail"],
    "wechat": ["微信", "微信号", "wechat", "wechatid", "weixin"],
    "gender": ["性别", "gender", "sex"],
    "city": ["城市", "所在城市", "city"],
    "remark": ["备注", "remark", "remarks", "note", "notes", "comment"],
    "tags": ["标签", "tags", "tag", "labels"],
    "source": ["渠道", "来源", "渠道来源", "来源渠道", "客户来源", "获客渠道", "channel", "source"],
    "owner": ["跟进人", "负责人", "归属员工", "所属员工", "跟进员工", "owner", "staff", "sales"],
    "number": ["学号", "会员号", "会员编号", "number", "membernumber", "memberno", "no"],
    "identities": ["身份", "账号", "identities", "identity"],
}
_HEADER_LOOKUP = {name: f for f, names in HEADER_NAMES.items() for name in names}
TAG_CHOICES = ("create", "ignore")  # what to do with a tag the file names that does not exist
TAG_SEPARATORS = re.compile(r"[,，;；|、]")
GENDERS = {"男": "m", "男性": "m", "m": "m", "male": "m", "女": "f", "女性": "f", "f": "f", "female": "f"}
ENCODINGS = {
    "utf-8-sig": gettext_lazy("UTF-8 with BOM"),
    "utf-8": gettext_lazy("UTF-8"),
    "gb18030": gettext_lazy("GBK / GB18030 (Chinese Excel)"),
    "big5": gettext_lazy("Big5 (traditional Chinese)"),
    "utf-16": gettext_lazy("UTF-16"),
}


class ImportProblem(Exception):
    """The file as a whole cannot be imported (empty, undecodable, no header…); the message says why."""


def field_label(name: str) -> str:
    if name.startswith(IDENTITY_PREFIX):
        return _("Identity on %(channel)s") % {"channel": name[len(IDENTITY_PREFIX):]}
    return str(FIELDS.get(name, name))


def _header_key(text):
    return re.sub(r"[\s_\-()（）]+", "", str(text)).lower()


# The downloadable template: a recognised header per field in each language, and an example value.
TEMPLATE_COLUMNS = {  # field → (zh-hans header, English header, zh-hans example, English example)
    "display_name": ("姓名", "Name", "张三", "Zhang San"),
    "phone": ("手机", "Phone", "13800138000", "13800138000"),
    "email": ("邮箱", "E-mail", "zhangsan@example.com", "zhangsan@example.com"),
    "wechat": ("微信号", "WeChat", "zhangsan_wx", "zhangsan_wx"),
    "gender": ("性别", "Gender", "男", "male"),
    "city": ("城市", "City", "杭州", "Hangzhou"),
    "remark": ("备注", "Remark", "老客户推荐", "Referred by a customer"),
    "tags": ("标签", "Tags", "", ""),  # filled with a tag of the workspace, if it has one
    "source": ("渠道", "Source", "抖音", "Douyin"),
    "owner": ("跟进人", "Owner", "", ""),  # the downloading staff member
}


def import_template(*, workspace: Workspace, by: User | None) -> tuple[list[str], list[list[str]]]:
    """(headers, [one example row]) of the import template in the active language: every header is one the
    import recognises, and the example imports cleanly into `workspace` (its tag is one of the workspace's,
    its owner `by`, when they exist)."""
    chinese = (translation.get_language() or "").startswith("zh")
    tag = Tag.objects.filter(workspace=workspace, deleted_at__isnull=True).select_related("group").order_by("pk").first()
    examples = {"tags": (f"{tag.group.name}:{tag.name}" if tag and tag.group else tag.name if tag else ""),
                "owner": by.get_username() if by is not None and StaffRole.objects.filter(
                    workspace=workspace, user=by).exists() else ""}
    headers, row = [], []
    for name, (zh, en, zh_example, en_example) in TEMPLATE_COLUMNS.items():
        headers.append(zh if chinese else en)
        row.append(examples.get(name) or (zh_example if chinese else en_example))
    return headers, [row]


def mapping_propose(headers: Sequence[str]) -> dict[str, str]:
    """{header: field} guessed from Chinese and English column names ("手机号" → phone, "Tags" → tags);
    "identity:wecom" / "身份:wecom" → external ids on that channel; unknown columns map to "" (ignored)."""
    mapping, taken = {}, set()
    for header in headers:
        text = str(header).strip()
        prefix, sep, channel = text.partition(":") if ":" in text else text.partition("：")
        if sep and _header_key(prefix) in {"identity", "身份", "渠道"} and channel.strip():
            mapping[header] = IDENTITY_PREFIX + channel.strip()
            continue
        guess = _HEADER_LOOKUP.get(_header_key(text), "")
        if guess and guess in taken and guess not in REPEATABLE:
            guess = ""
        taken.add(guess)
        mapping[header] = guess
    return mapping


# -- files: encoding, rows ------------------------------------------------------------------------
def _kind(path):
    return "xlsx" if str(path).lower().endswith((".xlsx", ".xlsm")) else "csv"


def encoding_detect(path: str | Path) -> str:
    """The encoding of a CSV file: UTF-8 with or without BOM, else charset-normalizer's best guess
    (GBK and GB2312 are read as GB18030, their superset). Returns a codec name from ENCODINGS when it can."""
    with open(path, "rb") as f:
        sample = f.read(256 * 1024)
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        # A chunk may end inside a character: the incremental decoder leaves that for "later".
        import codecs

        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(sample) < 256 * 1024)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    name = (best.encoding if best else "gb18030").lower().replace("_", "-")
    if name in {"gbk", "gb2312", "gb18030", "cp936", "hz"}:
        return "gb18030"
    if name in {"big5", "big5hkscs", "cp950"}:
        return "big5"
    return name


def encoding_label(encoding: str) -> str:
    return str(ENCODINGS.get(encoding, encoding))


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 13800138000 as a float
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def rows_read(*, path: str | Path, encoding: str = "") -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, [cell text, …]) for every row of the file, streaming (bounded memory).

    Raises ImportProblem when the file cannot be decoded with `encoding` or is not a CSV/XLSX file.
    """
    if _kind(path) == "xlsx":
        yield from _xlsx_rows(path)
        return
    encoding = encoding or encoding_detect(path)
    line = 0
    try:
        with open(path, encoding=encoding, newline="") as f:
            reader = csv.reader(f)
            start = 1
            for cells in reader:
                line = start
                start = reader.line_num + 1
                yield line, [c.strip() for c in cells]
    except UnicodeDecodeError:
        raise ImportProblem(
            _("The file is not %(encoding)s text (near line %(line)s): choose another encoding.")
            % {"encoding": encoding_label(encoding), "line": line + 1}
        ) from None
    except LookupError:
        raise ImportProblem(_("Unknown encoding %(encoding)s.") % {"encoding": encoding}) from None
    except csv.Error as exc:
        raise ImportProblem(_("The file is not a readable CSV file (line %(line)s: %(error)s).") % {
            "line": line + 1, "error": exc}) from None


def _xlsx_rows(path):
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError):
        raise ImportProblem(_("The file is not a readable XLSX workbook.")) from None
    try:
        sheet = book.worksheets[0]
        for n, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield n, [_cell(v) for v in row]
    finally:
        book.close()


def _data_rows(path, encoding):
    """(header line, header cells, iterator of the data rows after it); ImportProblem for an empty file."""
    rows = rows_read(path=path, encoding=encoding)
    for line, cells in rows:
        if any(cells):
            while cells and not cells[-1]:
                cells.pop()
            return line, cells, rows
    raise ImportProblem(_("The file is empty."))


def _headers(cells):
    """Column names: the header cells, "column N" for blank ones; ImportProblem for duplicate names."""
    headers, seen = [], set()
    for n, text in enumerate(cells, start=1):
        name = text or _("column %(n)s") % {"n": n}
        if name in seen:
            raise ImportProblem(_("Two columns are named “%(name)s”: rename one in the file.") % {"name": name})
        seen.add(name)
        headers.append(name)
    return headers


def import_preview(*, path: str | Path, encoding: str = "", rows: int = PREVIEW_ROWS) -> dict[str, Any]:
    """{"headers", "rows" (the first few), "proposed" mapping}; ImportProblem if the file cannot be read."""
    _line, cells, data = _data_rows(path, encoding)
    headers = _headers(cells)
    first = []
    for _n, row in data:
        if any(row):
            first.append((row + [""] * len(headers))[: len(headers)])
            if len(first) >= rows:
                break
    return {"headers": headers, "rows": first, "proposed": mapping_propose(headers)}


def rows_count(*, path: str | Path, encoding: str = "") -> int:
    """Data rows in the file (non-blank rows after the header), read as a stream."""
    try:
        _line, _cells, data = _data_rows(path, encoding)
    except ImportProblem:
        return 0
    return sum(1 for _n, row in data if any(row))


# -- storage: the import's folder -----------------------------------------------------------------
def imports_dir() -> Path:
    folder = Path(settings.VAR_DIR) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _folder(member_import):
    return Path(member_import.path).parent if member_import.path.startswith(str(imports_dir())) else (
        imports_dir() / f"{member_import.workspace_id}-{member_import.pk}-{member_import.created_at:%Y%m%d%H%M%S%f}")


def _meta_path(member_import):
    folder = _folder(member_import)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"import-{member_import.pk}.json"


def import_options(member_import: MemberImport) -> dict[str, Any]:
    """What the operator chose beside the mapping (tag_choices, create_tags, skip_bad, language) and the last run's
    summary; kept in a small JSON file beside the upload."""
    try:
        return json.loads(_meta_path(member_import).read_text())
    except (OSError, ValueError):
        return {}


def _options_save(member_import, *, fresh=False, **changes):
    options = {**({} if fresh else import_options(member_import)), **changes}
    path = _meta_path(member_import)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(options, ensure_ascii=False))
    os.replace(tmp, path)
    return options


def _error_keep(member_import, problem):
    """Keep a problem with the file on the import: as text on the row, and as its message beside the upload."""
    message = problem.args[0] if problem.args else str(problem)
    member_import.error = str(message)[:500]
    member_import.save(update_fields=["error"])
    _options_save(member_import, error=text_json(message))


def import_shown(member_import: MemberImport) -> dict[str, Any]:
    """The import's error, bad rows and last run's summary in the active language: what a check stored
    (reasons, field names) is rendered now, so a file checked in Chinese reads in English to an English reader."""
    imp, options = member_import, import_options(member_import)
    summary = dict(options.get("summary") or {})
    summary["updates"] = [{**u, "reason": text_render(u.get("reason")),
                           "changes": [[field_label(f), old, new] for f, old, new in u.get("changes", [])]}
                          for u in summary.get("updates", [])]
    summary["lossy"] = [{**e, "field": field_label(e["field"])} for e in summary.get("lossy", [])]
    stored_error = options.get("error")
    return {
        "error": (text_render(stored_error) or imp.error) if imp.error else "",
        "report": [{**e, "reason": text_render(e.get("reason"))} for e in imp.report],
        "summary": summary,
    }


def _progress_path(member_import):
    return _folder(member_import) / f"import-{member_import.pk}.progress"


def import_progress(member_import: MemberImport) -> tuple[int, int]:
    """(done rows, total rows) of a running import, read from its progress file; the stored counts otherwise."""
    if member_import.status == ImportStatus.RUNNING:
        try:
            done, total = json.loads(_progress_path(member_import).read_text())
            return done, total
        except (OSError, ValueError):
            pass
    return member_import.done_rows, member_import.rows


def _progress_write(member_import, done, total):
    path = _progress_path(member_import)
    tmp = path.with_suffix(".ptmp")
    tmp.write_text(json.dumps([done, total]))
    os.replace(tmp, path)


def import_upload(*, workspace: Workspace, by: User | None, filename: str, chunks: Iterable[bytes]) -> MemberImport:
    """Store an uploaded file (an iterable of byte chunks) under SIYU_VAR_DIR and create its MemberImport,
    with the detected encoding and a proposed mapping. ImportProblem if the file cannot be read."""
    safe = re.sub(r"[^\w.\-]+", "_", Path(filename).name)[-100:] or "members.csv"
    if not safe.lower().endswith((".csv", ".txt", ".xlsx", ".xlsm")):
        raise ImportProblem(_("Upload a .csv or .xlsx file."))
    folder = imports_dir() / f"{workspace.pk}-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    path = folder / safe
    with open(path, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
    return import_create(workspace=workspace, by=by, path=str(path), filename=Path(filename).name[:255])


def import_create(
    *, workspace: Workspace, by: User | None, path: str, filename: str | None = None, encoding: str = ""
) -> MemberImport:
    """A MemberImport for the file at `path` with its encoding (detected unless given) and proposed mapping."""
    path = str(Path(path).resolve())
    if not os.path.exists(path):
        raise ImportProblem(_("There is no file %(path)s.") % {"path": path})
    detected = "" if _kind(path) == "xlsx" else encoding_detect(path)
    imp = MemberImport.objects.create(
        workspace=workspace, by=by, filename=(filename or Path(path).name)[:255], path=path,
        encoding=encoding or detected,
    )
    _options_save(imp, fresh=True, detected=detected, language=translation.get_language())
    try:
        preview = import_preview(path=path, encoding=imp.encoding)
    except ImportProblem as problem:
        _error_keep(imp, problem)
        return imp
    imp.mapping = preview["proposed"]
    imp.save(update_fields=["mapping"])
    return imp


def import_configure(
    *, member_import: MemberImport, mapping: dict[str, str] | None = None, encoding: str | None = None,
    create_tags: bool | None = None, skip_bad: bool | None = None, overwrite_lossy: bool | None = None,
    tag_choices: Mapping[str, str] | None = None,
) -> MemberImport:
    """Change the mapping ({header: field}), encoding or options of an import not yet committed.

    tag_choices: {tag as the file names it: "create" or "ignore"} for tags that do not exist, merged into the
    earlier choices ("" forgets one); a row naming a missing tag without a choice is a bad row. create_tags:
    create every missing tag without a choice (the command line's --create-tags).
    overwrite_lossy: apply updates the dry run flagged as lossy (a "?" where the stored text has a character
    the file's encoding cannot hold); without it those fields keep their stored value."""
    imp = member_import
    if imp.status in (ImportStatus.RUNNING, ImportStatus.DONE):
        raise ValidationError(_("This import has already run."))
    if encoding is not None:
        if encoding and encoding not in ENCODINGS:
            raise ValidationError(_("Unknown encoding %(encoding)s.") % {"encoding": encoding})
        imp.encoding = encoding or import_options(imp).get("detected", "")
    if mapping is not None:
        for header, name in mapping.items():
            if name and name not in FIELDS and not (name.startswith(IDENTITY_PREFIX) and len(name) > len(IDENTITY_PREFIX)):
                raise ValidationError(_("Unknown field %(field)s for column %(column)s.") % {"field": name, "column": header})
        imp.mapping = dict(mapping)
    imp.status, imp.error, imp.report, imp.bad_rows = ImportStatus.UPLOADED, "", [], 0
    imp.save()
    options: dict[str, Any] = {}
    if create_tags is not None:
        options["create_tags"] = bool(create_tags)
    if skip_bad is not None:
        options["skip_bad"] = bool(skip_bad)
    if overwrite_lossy is not None:
        options["overwrite_lossy"] = bool(overwrite_lossy)
    if tag_choices is not None:
        chosen = {**import_options(imp).get("tag_choices", {}), **{str(k): v for k, v in tag_choices.items()}}
        options["tag_choices"] = {k: v for k, v in chosen.items() if v in TAG_CHOICES}
    _options_save(imp, **options, language=translation.get_language())
    return imp


def mapping_parse(pairs: Iterable[str], *, headers: Sequence[str]) -> dict[str, str]:
    """{header: field} from "手机=phone" strings (the CLI's --map); ValidationError for an unknown header."""
    mapping = {}
    for pair in pairs:
        header, sep, name = pair.partition("=")
        if not sep:
            raise ValidationError(_("Write a mapping as column=field, e.g. 手机=phone."))
        header, name = header.strip(), name.strip()
        if header not in headers:
            raise ValidationError(_("The file has no column “%(column)s” (columns: %(columns)s).")
                                  % {"column": header, "columns": ", ".join(headers)})
        mapping[header] = "" if name in {"", "-", "ignore"} else name
    return mapping


# -- a run: dry run or commit -----------------------------------------------------------------------
@dataclass
class ImportResult:
    rows: int = 0
    bad_rows: int = 0
    created: int = 0
    updated: int = 0
    tags_given: int = 0
    new_tags: list = field(default_factory=list)  # tags created (commit) or to create (dry run)
    missing_tags: list = field(default_factory=list)  # tags named that do not exist: {"tag", "rows", "choice"}
    report: list = field(default_factory=list)  # bad rows: {"line", "column", "reason"}
    updates: list = field(default_factory=list)  # rows that update an existing member: why, and "changes"
    lossy: list = field(default_factory=list)  # flagged fields: {"line", "number", "field", "old", "new", "applied"}
    lossy_count: int = 0
    blank_rows: int = 0  # blank rows between the header and the last data row, skipped
    blank_lines: list = field(default_factory=list)  # their line numbers (the first REPORT_LIMIT)
    error: str = ""  # the whole file was refused
    committed: bool = False

    def summary(self):
        return {"rows": self.rows, "bad_rows": self.bad_rows, "created": self.created, "updated": self.updated,
                "tags_given": self.tags_given, "new_tags": self.new_tags[:100],
                "missing_tags": self.missing_tags, "updates": self.updates,
                "lossy": self.lossy, "lossy_count": self.lossy_count, "blank_rows": self.blank_rows,
                "blank_lines": self.blank_lines, "error": self.error, "committed": self.committed}


@dataclass
class _Row:
    line: int
    values: dict
    cells_key: bytes
    errors: list = field(default_factory=list)  # (column, reason)
    tags: list = field(default_factory=list)  # (column, text)
    identities: list = field(default_factory=list)  # (column, channel, external id)
    owner_id: int | None = None
    member_id: int | None = None
    match_note: str = ""
    changes: list = field(default_factory=list)  # (field, old, new) of an update
    owner_changed: bool = False
    owner_previous: int | None = None
    created: bool = False  # a new member (commit)


class _Seen:
    """Keys seen earlier in the file (phone, number, identity, whole row) → first line, in a scratch SQLite file."""

    def __init__(self, folder):
        self.path = Path(folder) / f"seen-{uuid.uuid4().hex}.sqlite3"
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-8000")
        self.db.execute("CREATE TABLE seen (k BLOB PRIMARY KEY, line INTEGER) WITHOUT ROWID")

    def lookup(self, keys):
        found: dict[Any, Any] = {}
        keys = list(keys)
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            found.update(self.db.execute(f"SELECT k, line FROM seen WHERE k IN ({','.join('?' * len(part))})", part))
        return found

    def add(self, pairs):
        self.db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", pairs)

    def close(self):
        self.db.close()
        self.path.unlink(missing_ok=True)


def _key(kind, value):
    return hashlib.blake2b(f"{kind}\x1f{value}".encode(), digest_size=12).digest()


class _Context:
    """What a run knows beyond one chunk: the mapping, the workspace's tags and staff, options, counts."""

    def __init__(self, imp, *, commit, create_tags, skip_bad, overwrite_lossy=False, tag_choices=None):
        self.imp, self.workspace, self.commit = imp, imp.workspace, commit
        self.create_tags, self.skip_bad, self.overwrite_lossy = create_tags, skip_bad, overwrite_lossy
        self.tag_choices: dict[str, str] = dict(tag_choices or {})
        self.missing: dict[str, int] = {}  # missing tag as the file names it → rows naming it (the first 1000 tags)
        self.lossy_encoding = LOSSY_ENCODINGS.get(imp.encoding, "") if _kind(imp.path) == "csv" else ""
        self.result = ImportResult()
        self.now = timezone.now()
        self.tags_by_full, self.tags_by_name = {}, {}
        for tag in Tag.objects.filter(workspace=self.workspace, deleted_at__isnull=True).select_related("group"):
            self._tag_remember(tag)
        self.groups = {g.name: g for g in TagGroup.objects.filter(workspace=self.workspace)}
        self.staff = {}
        for user_id, username, email in StaffRole.objects.filter(workspace=self.workspace).values_list(
            "user_id", "user__username", "user__email"
        ):
            self.staff[username.lower()] = user_id
            if email:
                self.staff.setdefault(email.lower(), user_id)
        self.to_create = {}  # tag text → Tag (commit) or None (dry run)

    def tag_choice(self, label):
        return self.tag_choices.get(label) or ("create" if self.create_tags else "")

    def missing_tags(self):
        return [{"tag": label, "rows": rows, "choice": self.tag_choice(label)} for label, rows in self.missing.items()]

    def _tag_remember(self, tag):
        if tag.group_id:
            self.tags_by_full[(tag.group.name, tag.name)] = tag.pk
        self.tags_by_name.setdefault(tag.name, []).append(tag.pk)

    def tag_id(self, text):
        """The id of the tag named by `text` ("组:标签" or a unique bare name); raises ValidationError.
        A missing tag is counted and, as the operator chose, created (commit) or noted (dry run), or ignored:
        None then; without a choice (or create_tags) it is a ValidationError."""
        group_name, sep, name = text.rpartition(":") if ":" in text else text.rpartition("：")
        group_name, name = group_name.strip(), name.strip()
        if sep:
            found = self.tags_by_full.get((group_name, name))
            if found:
                return found
        else:
            found = self.tags_by_name.get(name, [])
            if len(found) > 1:
                raise ValidationError(_("“%(name)s” is a tag in more than one group: write it as group:tag.") % {"name": name})
            if found:
                return found[0]
        label = f"{group_name}:{name}" if sep else name
        if label in self.missing or len(self.missing) < 1000:
            self.missing[label] = self.missing.get(label, 0) + 1
        choice = self.tag_choice(label)
        if choice == "ignore":
            return None
        if choice != "create":
            raise ValidationError(_("There is no tag “%(tag)s”: choose whether to create it or ignore it.") % {"tag": label})
        if label not in self.to_create:
            if len(name) > 64 or len(group_name) > 64 or not name:
                raise ValidationError(_("“%(tag)s” cannot be a tag name (1 to 64 characters).") % {"tag": text})
            self.to_create[label] = None
            if len(self.result.new_tags) < 1000:
                self.result.new_tags.append(label)
        if not self.commit:
            return None
        if self.to_create[label] is None:
            group = None
            if sep:
                group = self.groups.get(group_name) or tag_group_create(workspace=self.workspace, name=group_name)
                self.groups[group_name] = group
            tag = tag_create(workspace=self.workspace, name=name, group=group)
            tag.group = group
            self._tag_remember(tag)
            self.to_create[label] = tag.pk
        return self.to_create[label]


def _parse(ctx, line, cells, columns):
    """One row as a _Row: normalised values and per-cell errors (no database lookups but tags and staff)."""
    row = _Row(line=line, values={}, cells_key=_key("row", "\x1e".join(cells).strip("\x1e")))
    for index, header, name in columns:
        text = cells[index].strip() if index < len(cells) else ""
        if not text:
            continue
        try:
            if name == "phone":
                phone = phone_normalise(text)
                row.values["phone"] = phone
                row.values["phone_digest"] = contact_digest(phone)
            elif name == "gender":
                gender = GENDERS.get(text.lower())
                if gender is None:
                    raise ValidationError(_("“%(value)s” is not a gender (男, 女, m or f).") % {"value": text})
                row.values["gender"] = gender
            elif name == "email":
                validate_email(text)
                row.values["email"] = text.lower()
            elif name == "number":
                if not text.isdigit():
                    raise ValidationError(_("“%(value)s” is not a member number.") % {"value": text})
                row.values["number"] = int(text)
            elif name == "owner":
                owner = ctx.staff.get(text.lower())
                if owner is None:
                    raise ValidationError(_("No staff member of this workspace has the username or e-mail “%(value)s”.")
                                          % {"value": text})
                row.owner_id = owner
            elif name == "tags":
                for part in TAG_SEPARATORS.split(text):
                    if part.strip():
                        row.tags.append((header, part.strip()))
            elif name == "identities":
                for part in TAG_SEPARATORS.split(text):
                    channel, sep, external_id = part.strip().partition(":")
                    if not part.strip():
                        continue
                    if not sep or not channel.strip() or not external_id.strip():
                        raise ValidationError(_("“%(value)s” is not channel:external id, e.g. wecom:wm123.") % {"value": part})
                    row.identities.append((header, channel.strip(), external_id.strip()))
            elif name.startswith(IDENTITY_PREFIX):
                row.identities.append((header, name[len(IDENTITY_PREFIX):], text))
            elif name == "source":
                source = source_normalise(text)
                if len(source) > SOURCE_MAX:
                    raise ValidationError(_("Longer than %(max)s characters.") % {"max": SOURCE_MAX})
                row.values["source"] = source
            else:
                limit = LIMITS[name]
                if len(text) > limit:
                    raise ValidationError(_("Longer than %(max)s characters.") % {"max": limit})
                row.values[name] = text
        except ValidationError as exc:
            row.errors.append((header, _reason(exc)))
    for header, channel, external_id in row.identities:
        if len(external_id) > 191 or len(channel) > 32:
            row.errors.append((header, _("An identity is at most 32 characters of channel and 191 of id.")))
    return row


def _reason(error):
    """A ValidationError's messages as one reason, TranslatableTexts kept as they are."""
    messages = [e.message % e.params if e.params else e.message for e in error.error_list]
    return messages[0] if len(messages) == 1 else TranslatableText(
        " ".join(f"%(m{n})s" for n in range(len(messages))), {f"m{n}": m for n, m in enumerate(messages)})


DUPLICATE_REASONS = {
    "row": gettext_noop("The same row as line %(line)s."),
    "phone": gettext_noop("The same phone as line %(line)s."),
    "number": gettext_noop("The same member number as line %(line)s."),
    "identity": gettext_noop("The same identity as line %(line)s."),
}


def _dedupe(rows, seen, headers_of):
    """Mark rows repeating an earlier row, phone, member number or identity of the file."""
    wanted = {}
    for row in rows:
        if row.errors:
            continue
        keys = [(row.cells_key, "", "row")]
        if "phone" in row.values:
            keys.append((_key("phone", row.values["phone"]), headers_of.get("phone", ""), "phone"))
        if "number" in row.values:
            keys.append((_key("number", row.values["number"]), headers_of.get("number", ""), "number"))
        for header, channel, external_id in row.identities:
            keys.append((_key("identity", f"{channel}:{external_id}"), header, "identity"))
        wanted[row.line] = keys
    earlier = seen.lookup({k for keys in wanted.values() for k, _h, _r in keys})
    fresh = []
    for row in rows:
        row_keys = wanted.get(row.line)
        if row_keys is None:
            continue
        for key, header, kind in row_keys:
            if key in earlier:
                row.errors.append((header, _(DUPLICATE_REASONS[kind]) % {"line": earlier[key]}))
                break
        else:
            for key, _h, _k in row_keys:
                earlier[key] = row.line
                fresh.append((key, row.line))
    seen.add(fresh)


def _match(ctx, rows, headers_of):
    """Find existing members by number, identity or phone; mark conflicts and rows that update a member."""
    live = Member.objects.filter(workspace=ctx.workspace, merged_into__isnull=True, erased_at__isnull=True)
    good = [r for r in rows if not r.errors]
    numbers = {r.values["number"] for r in good if "number" in r.values}
    by_number = dict(live.filter(number__in=numbers).values_list("number", "pk")) if numbers else {}
    # Each digest a member may be stored under (an earlier key's too) → the row's own, current-key digest.
    digests = {alias: r.values["phone_digest"] for r in good if "phone_digest" in r.values
               for alias in contact_digests(r.values["phone"])}
    by_phone: dict[str, tuple[int, int]] = {}
    if digests:
        for digest, pk, number in live.filter(phone_digest__in=digests).exclude(phone_digest="").order_by("pk").values_list("phone_digest", "pk", "number"):
            by_phone.setdefault(digests[digest], (pk, number))
    idents = {(c, e) for r in good for _h, c, e in r.identities}
    by_identity = {}
    for channel in {c for c, _e in idents}:
        ids = [e for c, e in idents if c == channel]
        for external_id, identity_member in Identity.objects.filter(
            workspace=ctx.workspace, channel=channel, external_id__in=ids
        ).values_list("external_id", "member_id"):
            by_identity[(channel, external_id)] = identity_member
    numbers_of = {}
    wanted_numbers = {pk for pk, _n in by_phone.values()} | set(by_identity.values())
    if wanted_numbers:
        numbers_of = dict(Member.objects.filter(pk__in=wanted_numbers).values_list("pk", "number"))
    numbers_of.update({pk: number for number, pk in by_number.items()})
    numbers_of.update({pk: number for pk, number in by_phone.values()})
    for row in good:
        member_id: int | None = None
        how = ""
        if "number" in row.values:
            member_id = by_number.get(row.values["number"])
            if member_id is None:
                row.errors.append((headers_of.get("number", ""), _("There is no member number %(number)s.")
                                   % {"number": row.values["number"]}))
                continue
            how = _("member number %(number)s") % {"number": row.values["number"]}
        for header, channel, external_id in row.identities:
            other = by_identity.get((channel, external_id))
            if other is None:
                continue
            if member_id is not None and other != member_id:
                row.errors.append((header, _("This identity belongs to member #%(other)s, not #%(this)s.")
                                   % {"other": numbers_of.get(other, other), "this": numbers_of.get(member_id, member_id)}))
                break
            if member_id is None:
                member_id, how = other, _("%(channel)s id %(id)s") % {"channel": channel, "id": external_id}
        if row.errors:
            continue
        if "phone_digest" in row.values and row.values["phone_digest"] in by_phone:
            other, number = by_phone[row.values["phone_digest"]]
            if member_id is not None and other != member_id:
                row.errors.append((headers_of.get("phone", ""), _("This phone belongs to member #%(other)s, not #%(this)s.")
                                   % {"other": number, "this": numbers_of.get(member_id, member_id)}))
                continue
            if member_id is None:
                member_id, how = other, _("phone")
        row.member_id = member_id
        if member_id is not None:
            row.match_note = _("Updates member #%(number)s (same %(how)s) instead of creating one.") % {
                "number": numbers_of.get(member_id, member_id), "how": how}
        elif not row.values.get("display_name"):
            row.errors.append((headers_of.get("display_name", ""), _("A new member needs a name.")))
    for row in good:
        if row.errors:
            continue
        for header, text in row.tags:
            try:
                tag_id = ctx.tag_id(text)
            except ValidationError as exc:
                row.errors.append((header, _reason(exc)))  # every bad tag of the row is reported
                continue
            if tag_id is not None:
                row.values.setdefault("tag_ids", []).append(tag_id)
        if row.errors:
            continue
        identities_new = [(c, e) for _h, c, e in row.identities if (c, e) not in by_identity]
        row.values["identities_new"] = identities_new


MEMBER_FIELDS = ("display_name", "gender", "city", "remark", "source", "phone", "phone_digest", "email", "wechat")
COMPARED_FIELDS = ("display_name", "gender", "city", "remark", "source", "phone", "email", "wechat")
CONTACT_FIELDS = {"phone", "email", "wechat"}  # their values are not shown in the report
# The encoding whose characters a file "detected as" this one can really hold: Excel's 中文 CSV is GBK, read as
# its superset GB18030 (which holds every character) — an emoji in GBK is written as "?".
LOSSY_ENCODINGS = {"gb18030": "gbk", "big5": "big5"}


def text_lossy(*, old: str, new: str, encoding: str) -> bool:
    """Whether `new` looks like `old` written in `encoding`: it has a "?" the stored text did not, and the
    stored text has a character the encoding cannot hold ("陈静 🌸" → "陈静 ?" in GBK)."""
    if not encoding or not old or new.count("?") <= old.count("?"):
        return False
    try:
        old.encode(encoding)
    except UnicodeEncodeError:
        return True
    except LookupError:
        return False
    return False


def _compare(ctx, rows):
    """Per updated row, the fields that change (old → new); a lossy text change (text_lossy) is flagged and,
    unless the operator chose to overwrite, dropped from the update so the stored value stays."""
    updating = [r for r in rows if not r.errors and r.member_id is not None]
    if not updating:
        return
    stored = {m.pk: m for m in Member.objects.filter(pk__in=[r.member_id for r in updating]).only("number", *COMPARED_FIELDS)}
    result = ctx.result
    for row in updating:
        member = stored.get(row.member_id)
        if member is None:
            continue
        for name in COMPARED_FIELDS:
            if name not in row.values:
                continue
            old, new = getattr(member, name) or "", row.values[name]
            if old == new:
                continue
            if name not in CONTACT_FIELDS and text_lossy(old=old, new=new, encoding=ctx.lossy_encoding):
                result.lossy_count += 1
                if len(result.lossy) < REPORT_LIMIT:
                    result.lossy.append({"line": row.line, "number": member.number, "field": name,
                                         "old": old, "new": new, "applied": ctx.overwrite_lossy})
                if not ctx.overwrite_lossy:
                    del row.values[name]
                    continue
            shown = ("", "") if name in CONTACT_FIELDS else (source_label(old), source_label(new)) if name == "source" else (old, new)
            row.changes.append((name, *shown))


def _write(ctx, rows, chunk_no):
    """Create and update the chunk's good rows, insert identities, give tags, set owners (inside the run's transaction)."""
    imp, workspace_id = ctx.imp, ctx.workspace.pk
    new = [r for r in rows if r.member_id is None]
    old = [r for r in rows if r.member_id is not None]
    if new:
        numbers = member_numbers_allocate(workspace=ctx.workspace, count=len(new))
        insert_many(Member, [
            {"workspace": workspace_id, "number": number, "display_name": r.values["display_name"],
             "gender": r.values.get("gender", ""), "city": r.values.get("city", ""), "remark": r.values.get("remark", ""),
             "source": r.values.get("source", ""), "profile": {}, "created_at": ctx.now, "barred_reason": "",
             "phone": r.values.get("phone", ""), "phone_digest": r.values.get("phone_digest", ""), "email": r.values.get("email", ""),
             "wechat": r.values.get("wechat", ""), "owner": r.owner_id}
            for number, r in zip(numbers, new)
        ])
        db = connections[DEFAULT_DB_ALIAS]
        with db.cursor() as cursor:
            cursor.execute(
                f"SELECT number, id FROM {db.ops.quote_name(Member._meta.db_table)} "
                "WHERE workspace_id = %s AND number BETWEEN %s AND %s", [workspace_id, numbers[0], numbers[-1]],
            )
            ids = dict(cursor.fetchall())
        for number, r in zip(numbers, new):
            r.member_id, r.created = ids[number], True
            r.owner_changed = r.owner_id is not None
        ctx.result.created += len(new)
    if old:
        owners = dict(Member.objects.filter(pk__in=[r.member_id for r in old]).values_list("pk", "owner_id"))
        changes = {}
        for r in old:
            change = {name: r.values[name] for name in MEMBER_FIELDS if name in r.values}
            if r.owner_id is not None and owners.get(r.member_id) != r.owner_id:
                change["owner"] = r.owner_id
                r.owner_changed, r.owner_previous = True, owners.get(r.member_id)
            changes[r.member_id] = change
        update_by_field_set(Member, changes)
        ctx.result.updated += len(old)
    insert_many(Identity, [
        {"workspace": workspace_id, "member": r.member_id, "channel": channel, "external_id": external_id,
         "display_name": r.values.get("display_name", "")[:128], "created_at": ctx.now}
        for r in rows for channel, external_id in r.values.get("identities_new", ())
    ])
    pairs = [(r.member_id, tag_id) for r in rows for tag_id in r.values.get("tag_ids", ())]
    if pairs:
        ctx.result.tags_given += tags_apply(workspace=ctx.workspace, pairs=pairs, via=TagVia.IMPORT, by=imp.by_id,
                                            at=ctx.now, key=f"import:{imp.pk}:{chunk_no}")
    kind = EventType.MEMBER_OWNER_CHANGED
    events = [
        own_member_event(kind, member_id=r.member_id, source_id=f"{kind.key}:import:{imp.pk}:{r.line}", occurred_at=ctx.now,
                         data={"owner": r.owner_id, "previous": r.owner_previous, "handover": None, "import": imp.pk})
        for r in rows if r.owner_changed
    ]
    # The member's timeline entry (and first-seen time, MemberImportedProjection): for every member created, and
    # for every member the row changed; a row that changes nothing (the same file again) leaves no entry.
    kind = EventType.MEMBER_IMPORTED
    events += [
        own_member_event(kind, member_id=r.member_id, source_id=f"{kind.key}:import:{imp.pk}:{r.line}", occurred_at=ctx.now,
                         data={"import": imp.pk, "file": imp.filename, "line": r.line, "created": r.created})
        for r in rows if r.created or r.changes or r.owner_changed or r.values.get("identities_new")
    ]
    if events:
        events_ingest(workspace=ctx.workspace, source=OWN_SOURCE, events=events)


class _Rollback(Exception):
    pass


def _columns(ctx, headers, mapping):
    """[(index, header, field)] of the mapped columns; ImportProblem for a mapping the file cannot satisfy."""
    columns: list[tuple[int, str, str]] = []
    used: dict[str, str] = {}
    for index, header in enumerate(headers):
        name = mapping.get(header, "")
        if not name:
            continue
        if name in used and name not in REPEATABLE:
            raise ImportProblem(_("Both “%(a)s” and “%(b)s” are mapped to %(field)s: map only one.")
                                % {"a": used[name], "b": header, "field": field_label(name)})
        used.setdefault(name, header)
        columns.append((index, header, name))
    missing = [h for h, name in mapping.items() if name and h not in headers]
    if missing:
        raise ImportProblem(_("The file has no column “%(column)s”.") % {"column": missing[0]})
    if not columns:
        known = any(_HEADER_LOOKUP.get(_header_key(h)) for h in headers)
        if not known and any(re.fullmatch(r"\+?[\d\s\-]{7,}", h) for h in headers):
            raise ImportProblem(_("The first row looks like data, not column names: add a header row (姓名, 手机, 标签…)."))
        raise ImportProblem(_("No column is mapped to a field: choose what each column holds."))
    if not ({"display_name", "number", "phone"} & set(used)) and not any(n.startswith(IDENTITY_PREFIX) or n == "identities"
                                                                         for n in used):
        raise ImportProblem(_("Missing a required column: map a name column (姓名), or a 学号, phone or identity column "
                              "to update existing members."))
    return columns, {name: header for name, header in used.items()}


def import_run(
    *, member_import: MemberImport, commit: bool, progress: Callable[..., object] | None = None
) -> "ImportResult":
    """Check every row of the file (dry run) or import it (commit) and return an ImportResult.

    The report lists every bad row (line, column, reason; the first REPORT_LIMIT are stored). A commit is
    one transaction: with any bad row nothing is written, unless the operator chose to skip bad rows.
    Rows whose 学号, identity or phone match an existing member update that member. `progress(done,
    total)` is called every CHUNK rows; the progress file is written too (see the module docstring).
    """
    imp = member_import
    options = import_options(imp)
    ctx = _Context(imp, commit=commit, create_tags=options.get("create_tags", False), skip_bad=options.get("skip_bad", False),
                   overwrite_lossy=options.get("overwrite_lossy", False), tag_choices=options.get("tag_choices"))
    result = ctx.result
    total = imp.rows or None
    if commit:
        MemberImport.objects.filter(pk=imp.pk).update(status=ImportStatus.RUNNING, done_rows=0)
        imp.status = ImportStatus.RUNNING
    _progress_write(imp, 0, total or 0)
    seen = _Seen(_folder(imp))
    try:
        if commit:
            with transaction.atomic():
                _walk(ctx, seen, total, progress)
                if result.bad_rows and not ctx.skip_bad:
                    raise _Rollback
                if result.rows == 0:
                    raise _Rollback
                result.committed = True
                AuditEntry.objects.create(
                    workspace=ctx.workspace, user_id=imp.by_id, action="import", subject=f"import:{imp.pk}",
                    data={"file": imp.filename, "rows": result.rows, "created": result.created, "updated": result.updated,
                          "skipped": result.bad_rows, "tags_given": result.tags_given, "new_tags": result.new_tags[:100],
                          "ignored_tags": [e["tag"] for e in ctx.missing_tags() if e["choice"] == "ignore"][:100],
                          "blank_rows": result.blank_rows, "lossy": result.lossy_count, "lossy_overwritten": ctx.overwrite_lossy},
                )
        else:
            _walk(ctx, seen, total, progress)
    except _Rollback:
        result.created = result.updated = result.tags_given = 0
    except ImportProblem as problem:
        result.error = problem.args[0] if problem.args else str(problem)
    finally:
        seen.close()
    result.missing_tags = ctx.missing_tags()
    if result.rows == 0 and not result.error:
        result.error = _("The file has a header row but no members.")
    if commit and not result.committed and not result.error:
        result.error = _("Nothing was imported: %(n)s rows are bad. Fix them, or choose to skip bad rows.") % {"n": result.bad_rows}
    _finish(imp, result, commit=commit)
    return result


def _walk(ctx, seen, total, progress):
    imp, result = ctx.imp, ctx.result
    _line, cells, data = _data_rows(imp.path, imp.encoding)
    headers = _headers(cells)
    columns, headers_of = _columns(ctx, headers, imp.mapping)
    chunk: list[Any] = []
    chunk_no = 0

    def flush():
        nonlocal chunk, chunk_no
        rows = [_parse(ctx, line, row, columns) for line, row in chunk]
        _dedupe(rows, seen, headers_of)
        _match(ctx, rows, headers_of)
        _compare(ctx, rows)
        for row in rows:
            if row.errors:
                result.bad_rows += 1
                for column, reason in row.errors:
                    if len(result.report) < REPORT_LIMIT:
                        result.report.append({"line": row.line, "column": column, "reason": reason})
            elif row.match_note and len(result.updates) < UPDATE_NOTES_LIMIT:
                result.updates.append({"line": row.line, "column": "", "reason": row.match_note,
                                       "changes": [list(c) for c in row.changes]})
        good = [r for r in rows if not r.errors]
        if ctx.commit and good and (ctx.skip_bad or not result.bad_rows):
            _write(ctx, good, chunk_no)
        result.rows += len(rows)
        if not ctx.commit:
            result.updated += sum(1 for r in good if r.member_id is not None)
            result.created += sum(1 for r in good if r.member_id is None)
        chunk, chunk_no = [], chunk_no + 1
        _progress_write(imp, result.rows, total or result.rows)
        if progress:
            progress(result.rows, total)

    blank: list[int] = []  # blank lines since the last data row: counted once a data row follows
    for line, row in data:
        if not any(row):
            blank.append(line)
            continue
        if blank:
            result.blank_rows += len(blank)
            result.blank_lines.extend(blank[: max(0, REPORT_LIMIT - len(result.blank_lines))])
            blank = []
        chunk.append((line, row))
        if len(chunk) >= CHUNK:
            flush()
    if chunk:
        flush()


def _finish(imp, result, *, commit):
    imp.rows = result.rows
    imp.done_rows = result.rows if result.committed else 0
    imp.bad_rows = result.bad_rows
    imp.report = text_json(result.report)
    imp.error = result.error[:500]
    if commit:
        imp.status = ImportStatus.DONE if result.committed else ImportStatus.FAILED
        imp.finished_at = timezone.now()
    else:
        imp.status = ImportStatus.CHECKED
    imp.save()
    _options_save(imp, summary=text_json(result.summary()), mode="commit" if commit else "check", error=text_json(result.error))
    _progress_path(imp).unlink(missing_ok=True)


def import_can_commit(member_import: MemberImport) -> bool:
    """Whether the last dry run allows a commit: no file error, and no bad rows unless they are skipped."""
    imp = member_import
    if imp.status != ImportStatus.CHECKED or imp.error:
        return False
    return imp.bad_rows == 0 or import_options(imp).get("skip_bad", False)



INLINE_BYTES = 1_000_000  # about 10,000 rows: larger files run on the queue (members.tasks)
STEP_ACTIONS = ("check", "reread", "remap", "tags", "commit", "commit_others")


def import_start(*, member_import: MemberImport, commit: bool) -> None:
    """Run a dry run (commit=False) or the import: within the call for a file up to INLINE_BYTES, else queued on
    Huey (the import is RUNNING until the worker is done; import_progress tells how far it got)."""
    if os.path.getsize(member_import.path) <= INLINE_BYTES:
        import_run(member_import=member_import, commit=commit)
        return
    from .tasks import member_import_run  # tasks imports this module

    MemberImport.objects.filter(pk=member_import.pk).update(status=ImportStatus.RUNNING)
    member_import_run(member_import.pk, commit)


def import_step(
    *, member_import: MemberImport, action: str, column_fields: dict[int, str] | None = None, encoding: str | None = None,
    skip_bad: bool = False, overwrite_lossy: bool = False, tag_choices: Mapping[str, str] | None = None,
) -> None:
    """Move an import one step through its states, as the console's wizard asks:

    - "check" / "reread" (uploaded, checked or failed): set the mapping (`column_fields`: the field chosen for
      the file's n-th column, "" to ignore), the encoding (None or the current one: unchanged) and the options;
      "check" then runs the dry run, "reread" proposes the mapping again for the new encoding, keeping choices;
    - "remap" (checked or failed): back to the mapping step;
    - "tags" (checked or failed): keep the per-tag choices for missing tags (`tag_choices`: create or ignore) and
      run the dry run again;
    - "commit": import, once the dry run allows it (ValidationError otherwise);
    - "commit_others" (checked): import the rows without problems, skipping the bad ones.

    An action that does not fit the import's state does nothing. A problem with the file (ImportProblem) is kept
    on the import as its error, for the page to show.
    """
    imp = member_import
    try:
        if action in ("check", "reread") and imp.status in (ImportStatus.UPLOADED, ImportStatus.CHECKED, ImportStatus.FAILED):
            headers = import_preview(path=imp.path, encoding=imp.encoding)["headers"]
            mapping = {h: (column_fields or {}).get(n, "") for n, h in enumerate(headers)}
            import_configure(
                member_import=imp, mapping=mapping, encoding=encoding if encoding is not None and encoding != imp.encoding else None,
                skip_bad=skip_bad, overwrite_lossy=overwrite_lossy,
            )
            if action == "reread" and encoding:
                imp.mapping = import_preview(path=imp.path, encoding=imp.encoding)["proposed"] | {
                    h: v for h, v in imp.mapping.items() if v}
                imp.save(update_fields=["mapping"])
            if action == "check":
                import_start(member_import=imp, commit=False)
        elif action == "remap" and imp.status in (ImportStatus.CHECKED, ImportStatus.FAILED):
            import_configure(member_import=imp)
        elif action == "tags" and imp.status in (ImportStatus.CHECKED, ImportStatus.FAILED):
            import_configure(member_import=imp, tag_choices=tag_choices or {})
            import_start(member_import=imp, commit=False)
        elif action == "commit_others" and imp.status == ImportStatus.CHECKED and not imp.error:
            _options_save(imp, skip_bad=True)  # the operator chose "import the other rows"
            import_start(member_import=imp, commit=True)
        elif action == "commit":
            if not import_can_commit(imp):
                raise ValidationError(_("Check the file first; it can be imported once no row is bad (or bad rows are skipped)."))
            import_start(member_import=imp, commit=True)
    except ImportProblem as problem:
        _error_keep(imp, problem)
