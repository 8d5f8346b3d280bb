"""What each column of a table is: its kind, whether it has gaps, how it is written.

A :class:`Schema` is inferred from a DataFrame, written as JSON that validates
against ``schemas/table.schema.json``, and can be edited by hand and passed back to
``synthvae fit --schema``. Nothing here learns distributions: that is the job of
the transformers, which read the schema to pick one transformer per column.
"""

from __future__ import annotations

import dataclasses
import json
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from synthvae import datetimes
from synthvae.errors import DataError
from synthvae.personal_kinds import personal_kind

KINDS = ("continuous", "integer", "categorical", "boolean", "datetime", "constant", "identifier", "personal")

# A numeric column with at most this many distinct values is modelled as categorical:
# a softmax keeps exact relations (education <-> education-num) that a regression
# would blur, and never invents values between the levels.
MAX_NUMERIC_LEVELS = 20
# Share of non-empty cells that must parse with one format for a text column to be dates.
DATETIME_MIN_SHARE = 0.9
# Dates and times tried, in order; the first that reads the column (almost) whole,
# and writes it back as it was, wins. Each date alone, each with each time after " "
# or "T", each time alone; a zone offset or fraction of a second is found first and
# added (see :mod:`synthvae.datetimes` for ``%3f`` and ``%:z``).
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y%m%d")
TIME_FORMATS = ("%H:%M:%S", "%H:%M")
DATETIME_FORMATS = tuple(
    [date + sep + time for date in DATE_FORMATS[:-1] for sep in (" ", "T") for time in TIME_FORMATS]
    + list(DATE_FORMATS) + list(TIME_FORMATS)
)
_ZONE = re.compile(r"(Z|[+-]\d\d:?\d\d)$")
_FRACTION = re.compile(r":\d\d\.(\d+)$")
_ID_NAME = re.compile(r"(^|[^a-z])(id|key|uuid|guid)$|^id[^a-z]", re.IGNORECASE)
_ID_PATTERN = re.compile(r"^(\D*)(\d+)(\D*)$")


@dataclasses.dataclass
class ColumnSpec:
    """One column of a table.

    Attributes
    ----------
    name : str
        The column's header.
    kind : str
        One of ``KINDS``.
    nullable : bool
        Whether the training data has missing cells in this column.
    dtype : str
        The pandas dtype the column had, restored on output.
    format : str or None
        For datetimes: the ``strftime`` format of the text (``None``: a datetime dtype).
    value : object
        For constants: the one value (``None`` for an entirely empty column).
    prefix, suffix : str
        For identifiers: the text around the running number.
    width : int
        For identifiers: zero-padded width of the number (0: no padding).
    levels : list or None
        For categorical and boolean columns, optional: the values the column may take
        (never inferred; a schema file may list them, and data with another value is
        refused).
    min, max : number, str or None
        For continuous, integer and datetime columns, optional: the range the column is
        declared to lie in (never inferred; dates written in the column's format, or ISO
        for a datetime dtype). A fit with ``epsilon`` needs them: it learns nothing
        about the columns from the data.
    personal : str or None
        For personal columns (mostly unique text: names, e-mail addresses, phone
        numbers, free text, regenerated and never learned): which of
        :data:`synthvae.personal_kinds.PERSONAL_KINDS` they hold.
    written : dict or None
        How the column is written as CSV text (missing cell, decimals, boolean
        spellings...), learned from the file: see :mod:`synthvae.formats`. None: as
        pandas writes it.
    arrow : str or None
        The column's Arrow type in a Parquet input, kept for Parquet output.
    """

    name: str
    kind: str
    nullable: bool = False
    dtype: str = "object"
    format: str | None = None
    value: object = None
    prefix: str = ""
    suffix: str = ""
    width: int = 0
    levels: list | None = None
    min: float | str | None = None
    max: float | str | None = None
    personal: str | None = None
    written: dict | None = None
    arrow: str | None = None

    def to_dict(self):
        out = {"name": self.name, "kind": self.kind, "nullable": self.nullable, "dtype": self.dtype}
        if self.kind == "datetime":
            out["format"] = self.format
        if self.kind == "constant":
            out["value"] = _json_scalar(self.value)
        if self.kind == "identifier":
            out.update(prefix=self.prefix, suffix=self.suffix, width=self.width)
        if self.levels is not None:
            out["levels"] = [_json_scalar(v) for v in self.levels]
        for bound in ("min", "max"):
            if getattr(self, bound) is not None:
                out[bound] = _json_scalar(getattr(self, bound))
        if self.kind == "personal":
            out["personal"] = self.personal or "text"
        if self.written is not None:
            out["written"] = dict(self.written)
        if self.arrow is not None:
            out["arrow"] = self.arrow
        return out


# The schema file's version. Version 1 files (without written formats) still load:
# their columns' formats are then learned from the data at fit.
VERSION = 2


@dataclasses.dataclass
class Schema:
    """The ordered columns of a table, the rules its rows obey, and the layout of the
    CSV file it was read from.

    ``rules``: rules declared in the schema file (see :mod:`synthvae.rules`), which the
    data must obey and every generated row will; ``None`` when the file declares
    none, and the rules are then found in the training rows. An empty list declares
    that there are none.

    ``csv``: the layout of the CSV file (delimiter, line ends, quoting, encoding; see
    :class:`synthvae.formats.CsvDialect`), None when the table came from elsewhere.
    """

    columns: list[ColumnSpec]
    rules: list | None = None
    csv: dict | None = None

    @property
    def names(self):
        return [c.name for c in self.columns]

    def __getitem__(self, name):
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_dict(self):
        out = {"version": VERSION, "columns": [c.to_dict() for c in self.columns]}
        if self.rules is not None:
            from synthvae.rules import rules_to_dicts

            out["rules"] = rules_to_dicts(self.rules)
        if self.csv is not None:
            out["csv"] = dict(self.csv)
        return out

    def with_formats(self, frame):
        """This schema, with the written formats, Arrow types and CSV layout that
        ``frame.attrs`` records (as the reader learned them) filled in where it has none."""
        written, arrow = frame.attrs.get("written", {}), frame.attrs.get("arrow", {})
        columns = [
            dataclasses.replace(
                c,
                written=c.written if c.written is not None else written.get(c.name),
                arrow=c.arrow if c.arrow is not None else arrow.get(c.name),
            )
            for c in self.columns
        ]
        return Schema(columns, rules=self.rules, csv=self.csv if self.csv is not None else frame.attrs.get("csv"))

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, obj, checked=False):
        """Build a schema from its JSON form, validating it first (``checked``: it was
        validated against the schema file's JSON Schema already, as a model file's
        schema member is with the rest of the file)."""
        if checked:
            check_column_names(obj)
        else:
            validate_schema_dict(obj)
        rules = None
        if "rules" in obj:
            from synthvae.rules import rules_from_dicts

            rules = rules_from_dicts(obj["rules"])
            names = {c["name"] for c in obj["columns"]}
            for rule in rules:
                unknown = [n for n in rule.columns if n not in names]
                if unknown:
                    raise DataError(f"schema file: the rule {rule.describe()!r} names {unknown[0]!r}, which is not a column")
        return cls([ColumnSpec(**c) for c in obj["columns"]], rules=rules, csv=obj.get("csv"))

    def check_data(self, frame):
        """Raise DataError, naming the column and the first row that does not fit, unless
        every column of ``frame`` can be what this schema says it is. See
        :func:`synthvae.schema_check.check_column`."""
        from synthvae.schema_check import check_column

        self.check_frame(frame)
        for spec in self.columns:
            check_column(frame[spec.name], spec)

    def check_frame(self, frame):
        """Raise DataError unless ``frame`` has exactly this schema's columns."""
        missing = [n for n in self.names if n not in frame.columns]
        extra = [n for n in frame.columns if n not in self.names]
        if missing:
            raise DataError(
                f"the schema names columns the data lacks: {', '.join(map(str, missing))}"
            )
        if extra:
            raise DataError(
                f"the data has columns the schema does not name: {', '.join(map(str, extra))}"
            )


def _json_scalar(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def table_json_schema():
    """The JSON Schema (draft 2020-12) of the schema file, as a dict."""
    return json.loads(table_json_schema_text())


def table_json_schema_text():
    """:func:`table_json_schema` as the text of its file."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "setup.py").is_file() and (checkout / "schemas" / "table.schema.json").is_file():
        # A source checkout: its own top-level schemas/, whatever is installed.
        return (checkout / "schemas" / "table.schema.json").read_text("utf-8")
    return resources.files("synthvae.schemas").joinpath("table.schema.json").read_text("utf-8")


def validate_schema_dict(obj):
    """Raise DataError naming the first problem if ``obj`` is not a valid schema file."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(table_json_schema())
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "top level"
        raise DataError(f"schema file is not valid at {where}: {err.message}")
    check_column_names(obj)


def check_column_names(obj):
    """Raise DataError if the schema file ``obj`` names a column twice."""
    names = [c["name"] for c in obj["columns"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"schema file names a column twice: {', '.join(dupes)}")


def load_schema(path):
    """Read and validate a schema file."""
    try:
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read schema file {path}: {exc}") from None
    return Schema.from_dict(obj)


def infer_schema(frame):
    """Infer a :class:`Schema` for every column of ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame

    Returns
    -------
    Schema
    """
    gaps = set(frame.attrs.get("gaps", ()))
    schema = Schema([infer_column(frame[name], name, gaps=name in gaps) for name in frame.columns])
    return schema.with_formats(frame)


def infer_column(series, name, gaps=False):
    """Infer the :class:`ColumnSpec` of one column.

    The order matters: booleans, then dates (text in a date format, or whole numbers
    written ``yyyymmdd``), then numbers, then text (personal text before identifiers). A column is nullable when a value is
    missing after parsing (an unparseable date is a gap), or when ``gaps`` says the
    whole table, of which ``series`` is a sample, has a gap in it.
    """
    dtype = str(series.dtype)
    values = series.dropna()
    nullable = bool(len(values) < len(series)) or gaps
    spec = dict(name=str(name), nullable=nullable, dtype=dtype)

    if len(values) == 0:
        return ColumnSpec(kind="constant", value=None, **spec)
    n_unique = values.nunique()
    if n_unique == 1 and not nullable:
        return ColumnSpec(kind="constant", value=_json_scalar(values.iloc[0]), **spec)
    if pd.api.types.is_bool_dtype(series.dtype) or _is_bool_values(values):
        return ColumnSpec(kind="boolean", **spec)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return ColumnSpec(kind="datetime", format=None, **spec)
    if pd.api.types.is_numeric_dtype(series.dtype):
        if _is_yyyymmdd(values):
            return ColumnSpec(kind="datetime", format="%Y%m%d", **spec)
        return _infer_numeric(values, n_unique, len(series), spec)

    text = values.astype(str)
    fmt = detect_datetime_format(text)
    if fmt is not None:
        spec["nullable"] = nullable or bool(np.isnan(datetimes.to_seconds(text, fmt)).any())
        return ColumnSpec(kind="datetime", format=fmt, **spec)
    personal = personal_kind(text)
    if personal is not None:
        return ColumnSpec(kind="personal", personal=personal, **spec)
    if n_unique == len(series) and len(series) >= 10 and not _decimal_text(text):
        return _identifier(text, spec)
    return ColumnSpec(kind="categorical", **spec)


def _is_yyyymmdd(values):
    """Whether the numbers ``values`` are all dates written yyyymmdd (20240105), years
    1800 to 2199: such a column is dates, not integers."""
    numbers = values.to_numpy(dtype=np.float64)
    if not len(numbers) or numbers.min() < 18000101 or numbers.max() > 21991231:
        return False
    if not np.all(numbers == np.round(numbers)):
        return False
    text = pd.Series(numbers.astype(np.int64).astype(str))
    parsed = pd.to_datetime(text, format="%Y%m%d", errors="coerce")
    return bool(parsed.notna().all() and (parsed.dt.strftime("%Y%m%d") == text).all())


def _decimal_text(text):
    """Whether most of ``text`` is numbers with a fraction (``3.25``, ``3,25``): measurements
    written with some other text among them, never identifiers."""
    numbers = pd.to_numeric(text.str.strip().str.replace(",", ".", regex=False), errors="coerce")
    share = numbers.notna().mean()
    return bool(share >= DATETIME_MIN_SHARE and (numbers.dropna() % 1 != 0).any())


def _infer_numeric(values, n_unique, n_rows, spec):
    numbers = values.to_numpy(dtype=np.float64)
    if not np.isfinite(numbers).all():
        raise DataError(
            f"column {spec['name']!r} holds infinite values; replace them with numbers or empty cells"
        )
    whole = bool(np.all(numbers == np.round(numbers)))
    if n_unique <= min(MAX_NUMERIC_LEVELS, max(2, n_rows // 10)):
        return ColumnSpec(kind="categorical", **spec)
    if whole and n_unique == n_rows and _looks_like_counter(numbers, spec["name"]):
        return ColumnSpec(kind="identifier", **spec)
    return ColumnSpec(kind="integer" if whole else "continuous", **spec)


def _looks_like_counter(numbers, name):
    span = numbers.max() - numbers.min() + 1
    return bool(_ID_NAME.search(name)) or span == len(numbers)


def _is_bool_values(values):
    if values.dtype != object and not pd.api.types.is_string_dtype(values.dtype):
        return False
    return set(values.unique()).issubset({True, False}) and values.map(type).eq(bool).all()


def _identifier(text, spec):
    parts = text.str.extract(_ID_PATTERN)
    if not parts[1].isna().any() and parts[0].nunique() == 1 and parts[2].nunique() == 1:
        widths = parts[1].str.len()
        width = int(widths.iloc[0]) if widths.nunique() == 1 and parts[1].str.startswith("0").any() else 0
        return ColumnSpec(
            kind="identifier", prefix=parts[0].iloc[0], suffix=parts[2].iloc[0], width=width, **spec
        )
    return ColumnSpec(kind="identifier", prefix=f"{spec['name']}-", width=len(str(len(text))), **spec)


def detect_datetime_format(text, sample_size=2000):
    """Return the format (see :mod:`synthvae.datetimes`) that reads ``text`` as dates,
    or None.

    Only formats whose output round-trips are accepted, so writing a parsed date back
    with the returned format reproduces the original text: date-only, time-only, with
    or without seconds, a fraction of 3, 6 or 9 digits, a ``T``, a zone offset.
    """
    sample = text.iloc[:sample_size] if len(text) > sample_size else text
    sample = sample.reset_index(drop=True)
    if sample.str.contains(r"\d", regex=True).mean() < DATETIME_MIN_SHARE:
        return None
    base, zone = _split_zone(sample)
    base, fraction = _split_fraction(base)
    for fmt in DATETIME_FORMATS:
        if fraction and not fmt.endswith("%S"):
            continue
        read = fmt + ".%f" if fraction else fmt
        parsed = pd.to_datetime(base, format=read, errors="coerce")
        ok = parsed.notna()
        if ok.mean() < DATETIME_MIN_SHARE:
            continue
        if (parsed[ok].dt.strftime(read) == base[ok]).mean() >= DATETIME_MIN_SHARE:
            return fmt + (f".%{fraction}f" if fraction else "") + zone
    return None


def _split_zone(sample):
    """(the text without its zone offsets, the zone's part of the format): the one
    offset all share as plain text, else ``%z`` or ``%:z``; ``""`` without offsets."""
    zones = sample.str.extract(_ZONE)[0]
    if zones.notna().mean() < DATETIME_MIN_SHARE:
        return sample, ""
    base = sample.str.replace(_ZONE, "", regex=True)
    present = zones.dropna()
    if present.nunique() == 1:
        return base, present.iloc[0]
    return base, "%:z" if present.str.contains(":").mean() >= 0.5 else "%z"


def _split_fraction(sample):
    """(the text with its fractions of a second padded to 6 digits, their digits: 3, 6,
    9 or 0 when the text has none)."""
    digits = sample.str.extract(_FRACTION)[0].str.len()
    if digits.notna().mean() < DATETIME_MIN_SHARE or digits.nunique() != 1 or int(digits.iloc[0]) not in (3, 6, 9):
        return sample, 0
    count = int(digits.dropna().iloc[0])
    if count == 3:
        return sample + "000", 3
    if count == 9:
        return sample.str.slice(0, -3), 9
    return sample, 6
