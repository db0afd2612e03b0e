"""``kind: files`` — a drop folder of CSV or XLSX files, each processed exactly once.

Files matching ``pattern`` are processed in name order, one at a time. State::

    {"files": {sha256: name, ...},                       # fully processed files
     "current": {"sha256": ..., "rows_done": n, "line": next line} | None}

A file is identified by its SHA-256, so a renamed copy of a processed file is skipped and
a changed file under an old name is processed. A crash mid-file resumes at the line after
the last committed chunk. All columns are strings unless the stream declares a type in
``schema:`` (typing is the mapping's job); rows whose declared type does not parse, lines
that do not decode and rows with the wrong field count become ``Reject``s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.connectors.base import (
    LOCATION_COLUMN,
    Chunk,
    ConnectorKind,
    Reject,
    State,
    StreamConfig,
    SystemConfig,
)
from hrss_hub.connectors.encoding import scan
from hrss_hub.connectors.files_csv import RowBlock
from hrss_hub.connectors.options import FilesConnection, FilesStream
from hrss_hub.connectors.registry import register_kind
from hrss_hub.connectors.sql_types import parse_type_name
from hrss_hub.errors import SchemaDriftError, SourceError


@register_kind
class FilesConnector(ConnectorKind):
    """CSV (UTF-8, UTF-8-BOM, GBK, GB18030) and XLSX files from a drop folder."""

    kind: ClassVar[str] = "files"
    # the file's options, checked when it is loaded (also at DAG-parse time)
    connection_model: ClassVar[type[FilesConnection]] = FilesConnection
    stream_model: ClassVar[type[FilesStream]] = FilesStream

    def __init__(self, config: SystemConfig) -> None:
        super().__init__(config)
        self._schemas: dict[str, pa.Schema] = {}

    # ------------------------------------------------------------------ helpers
    @property
    def folder(self) -> Path:
        """The drop folder (relative paths are relative to the workspace)."""
        return (self.config.workspace / str(self.config.connection["path"])).resolve()

    def _ctx(self, stream: str | None = None, file: Path | None = None) -> dict[str, Any]:
        return {"system": self.config.system, "stream": stream,
                "file": str(file) if file else None}

    def _files(self, sc: StreamConfig) -> list[Path]:
        pattern = str(sc.options.get("pattern", "*.csv"))
        return sorted((p for p in self.folder.glob(pattern) if p.is_file()),
                      key=lambda p: p.name)

    def _header(self, sc: StreamConfig, path: Path) -> list[str]:
        try:
            if _stream_format(sc) == "xlsx":
                from hrss_hub.connectors import files_xlsx

                return files_xlsx.read_header(path, sc.options.get("sheet"),
                                              int(sc.options.get("header_row", 1)))
            from hrss_hub.connectors import files_csv

            info = scan(path, str(sc.options.get("encoding", "auto")))
            return files_csv.read_header(path, info.encoding, info.bom_length,
                                         *_csv_dialect(sc))
        except _read_errors() as exc:
            raise self._file_error(exc, sc.name, path) from None

    def _file_error(self, exc: BaseException, stream: str, path: Path) -> SourceError:
        kind = "Excel" if path.suffix.lower() == ".xlsx" else "CSV"
        return SourceError(f"cannot read {kind} file {path.name}: {type(exc).__name__}: "
                           f"{str(exc).strip() or 'corrupt or truncated'}",
                           self._ctx(stream, path),
                           "check the file is complete and really a " + kind + " file; "
                           "move it out of the drop folder to skip it")

    # ---------------------------------------------------------------- contract
    def check(self) -> None:
        """The drop folder must exist; every stream's newest file must be readable."""
        if not self.folder.is_dir():
            raise SourceError("drop folder not found", self._ctx(file=self.folder),
                              "create it or fix connection.path")
        self.discover()

    def schema(self, stream: str) -> pa.Schema:
        """Columns of the newest matching file (or only the declared ones if none yet)."""
        if stream not in self._schemas:
            sc = self.config.stream(stream)
            declared = {str(k): parse_type_name(str(v))
                        for k, v in (sc.options.get("schema") or {}).items()}
            files = self._files(sc)
            names = self._header(sc, files[-1]) if files else list(declared)
            if len(set(names)) != len(names):
                dup = next(n for n in names if names.count(n) > 1)
                raise SourceError(f"duplicate column {dup!r} in the header",
                                  self._ctx(stream, files[-1] if files else None),
                                  "column names must be unique")
            fields = [pa.field(n, declared.get(n, pa.string())) for n in names]
            self._schemas[stream] = pa.schema([*fields, pa.field(LOCATION_COLUMN, pa.string())])
        return self._schemas[stream]

    def read(self, stream: str, state: State | None = None) -> Iterator[Chunk]:
        """Yield chunks of the files not yet processed (resuming a half-read one first)."""
        sc = self.config.stream(stream)
        schema = self.schema(stream)
        done: dict[str, str] = dict((state or {}).get("files") or {})
        current = (state or {}).get("current")
        pending = []
        for path in self._files(sc):
            try:
                info = scan(path, str(sc.options.get("encoding", "auto")))
            except (OSError, UnicodeError) as exc:
                raise self._file_error(exc, stream, path) from None
            if info.sha256 not in done:
                pending.append((path, info))
        # a half-read file goes first, whatever its name
        if current:
            resume_sha = current["sha256"]
            pending.sort(key=lambda p: p[1].sha256 != resume_sha)
        for path, info in pending:
            resume = current if current and current["sha256"] == info.sha256 else None
            rows_done = int(resume["rows_done"]) if resume else 0
            for block in self._blocks(sc, path, info, resume):
                rows_done += len(block.rows)
                batch, rejects = self._to_batch(block, schema, sc, path)
                if block.done:
                    done[info.sha256] = path.name
                    new_state: State = {"files": dict(done), "current": None}
                else:
                    new_state = {"files": dict(done), "current": {
                        "sha256": info.sha256, "rows_done": rows_done,
                        "line": block.next_line}}
                found = sorted([*block.rejects, *rejects], key=_line_of)
                yield Chunk(batch, new_state, found)
            current = None

    def _blocks(self, sc: StreamConfig, path: Path, info: Any,
                resume: dict[str, Any] | None) -> Iterator[RowBlock]:
        size = self.config.batch_size
        start = int(resume["line"]) if resume else None
        try:
            if _stream_format(sc) == "xlsx":
                from hrss_hub.connectors import files_xlsx

                yield from files_xlsx.read_blocks(
                    path, sheet=sc.options.get("sheet"),
                    header_row=int(sc.options.get("header_row", 1)), batch_size=size,
                    start_row=start)
            else:
                from hrss_hub.connectors import files_csv

                delimiter, quotechar = _csv_dialect(sc)
                yield from files_csv.read_blocks(
                    path, encoding=info.encoding, bom=info.bom_length, delimiter=delimiter,
                    quotechar=quotechar, batch_size=size, start_line=start or 2)
        except _read_errors() as exc:
            raise self._file_error(exc, sc.name, path) from None

    def _to_batch(self, block: RowBlock, schema: pa.Schema, sc: StreamConfig,
                  path: Path) -> tuple[pa.RecordBatch, list[Reject]]:
        """Rows → Arrow columns conformed to ``schema`` (once per batch, column-wise)."""
        names = block.header
        extra = [n for n in names if schema.get_field_index(n) < 0]
        if extra:
            raise SchemaDriftError(
                f"file {path.name} has columns not in the stream's schema: {extra}",
                self._ctx(sc.name, path), "files with different headers need their own "
                "stream (pattern), or move the file out of the folder")
        columns = list(zip(*block.rows, strict=True)) if block.rows else [()] * len(names)
        by_name = dict(zip(names, columns, strict=True))
        count = len(block.rows)
        location = pc.binary_join_element_wise(
            f"{path.name}:", pa.array(block.lines, pa.int64()).cast(pa.string()), "")
        arrays: list[pa.Array] = []
        keep: pa.Array | None = None
        rejects: list[Reject] = []
        for field in schema:
            if field.name == LOCATION_COLUMN:
                arrays.append(location)
                continue
            values = by_name.get(field.name)
            text = pa.array(values, pa.string()) if values is not None else pa.nulls(
                count, pa.string())
            if field.type == pa.string():
                arrays.append(text)
                continue
            typed, bad = _cast_or_mask(text, field.type)
            arrays.append(typed)
            if bad is not None:
                keep = bad if keep is None else pc.or_(keep, bad)
                for i in pc.indices_nonzero(bad).to_pylist():
                    rejects.append(Reject(f"{path.name}:{block.lines[i]}",
                                          f"column {field.name!r}: {text[i].as_py()!r} is not "
                                          f"{field.type}"))
        batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
        if keep is not None:
            batch = batch.filter(pc.invert(keep))
        return batch, rejects


def _read_errors() -> tuple[type[BaseException], ...]:
    """What reading a damaged file raises (truncated zip archives raise several types)."""
    import zipfile
    import zlib

    from openpyxl.utils.exceptions import InvalidFileException

    return (OSError, UnicodeError, KeyError, ValueError, EOFError, zipfile.BadZipFile,
            zlib.error, InvalidFileException)


def _line_of(reject: Reject) -> int:
    return int(reject.location.rsplit(":", 1)[1])


def _format_of(pattern: str) -> str:
    return "xlsx" if pattern.lower().endswith((".xlsx", ".xlsm")) else "csv"


def _stream_format(sc: StreamConfig) -> str:
    return str(sc.options.get("format") or _format_of(str(sc.options.get("pattern", "*.csv"))))


def _csv_dialect(sc: StreamConfig) -> tuple[str, str]:
    return str(sc.options.get("delimiter", ",")), str(sc.options.get("quotechar", '"'))


def _cast_or_mask(text: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array | None]:
    """Cast ``text``; if some values do not parse, null them and return the bad-row mask."""
    stripped = pc.utf8_trim_whitespace(text)
    empty = pc.equal(stripped, "")
    stripped = pc.if_else(empty, pa.scalar(None, pa.string()), stripped)
    try:
        return stripped.cast(target), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # slow path only for batches with bad values: find them one by one
    good: list[Any] = []
    bad: list[bool] = []
    for value in stripped.to_pylist():
        try:
            good.append(pa.array([value], pa.string()).cast(target)[0].as_py())
            bad.append(False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            good.append(None)
            bad.append(True)
    return pa.array(good, target), pa.array(bad)
