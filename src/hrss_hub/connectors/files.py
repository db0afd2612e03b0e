"""``kind: files`` — a drop folder of CSV or XLSX files, each processed exactly once.

Files matching ``pattern`` are processed in name order, one at a time. State::

    {"files": {sha256: name, ...},                       # fully processed files
     "current": {"sha256": ..., "rows_done": n, "line": next line} | None}

A file is identified by its SHA-256, so a renamed copy of a processed file is skipped and
a changed file under an old name is processed. A crash mid-file resumes at the line after
the last committed chunk. All columns are strings unless the stream declares a type in
``schema:`` (typing is the mapping's job); rows whose declared type does not parse, lines
that do not decode and malformed records become ``Reject``s, each with its own line.

Before any row is read, every unprocessed file is checked as a whole, and a file that
fails stops the stream (nothing of this run is committed, so the file stays unprocessed):

* its header against the stream's schema (the newest file's header): a file lacking a
  column or carrying an extra one is schema drift, handled by the stream's ``drift:``
  policy — ``fail`` (default) refuses it; ``evolve`` / ``ignore`` read it (missing
  columns empty, extra ones dropped) and report it in the run summary (``Chunk.drift``);
* its bytes against an explicit ``encoding:``: a file in another encoding is refused with
  the first undecodable line and byte offset and the encoding ``auto`` detects (a few
  undecodable lines in a file of the right encoding are quarantined line by line).
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
from hrss_hub.connectors.encoding import FileScan, scan
from hrss_hub.connectors.files_csv import RowBlock
from hrss_hub.connectors.options import FilesConnection, FilesStream
from hrss_hub.connectors.registry import register_kind
from hrss_hub.connectors.sql_types import parse_type_name
from hrss_hub.errors import (
    FatalSourceError,
    HubError,
    SchemaDriftError,
    SourceError,
)


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
        self._scans: dict[tuple[str, int, int, str], FileScan] = {}

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

            info = self._scan(sc, path)
            try:
                return files_csv.read_header(path, info.encoding, info.bom_length,
                                             *_csv_dialect(sc))
            except UnicodeDecodeError as exc:
                raise self._encoding_error(sc, path, info, f"line 1 (the header) is not valid "
                                           f"{info.encoding} at byte offset "
                                           f"{info.bom_length + exc.start}") from None
        except HubError:
            raise
        except _read_errors() as exc:
            raise self._file_error(exc, sc.name, path) from None

    def _file_error(self, exc: BaseException, stream: str, path: Path) -> SourceError:
        kind = "Excel" if path.suffix.lower() == ".xlsx" else "CSV"
        return SourceError(f"cannot read {kind} file {path.name}: {type(exc).__name__}: "
                           f"{str(exc).strip() or 'corrupt or truncated'}",
                           self._ctx(stream, path),
                           "check the file is complete and really a " + kind + " file; "
                           "move it out of the drop folder to skip it")

    def _scan(self, sc: StreamConfig, path: Path) -> FileScan:
        """Checksum and encoding of ``path``; a file in another encoding than declared fails.

        A file is scanned once per content (its size and modification time), not once for
        the schema, once for the header check and once for reading.
        """
        encoding = str(sc.options.get("encoding", "auto"))
        try:
            stat = path.stat()
            key = (str(path), stat.st_mtime_ns, stat.st_size, encoding)
            info = self._scans.get(key)
            if info is None:
                info = self._scans[key] = scan(path, encoding)
        except (OSError, UnicodeError) as exc:
            raise self._file_error(exc, sc.name, path) from None
        if info.mismatch and _stream_format(sc) == "csv":  # an XLSX file is a zip archive
            where = info.first_undecodable
            if where is not None:
                detail = (f"the first undecodable bytes are at line {where.line}, byte offset "
                          f"{where.offset} ({where.reason})")
            else:
                detail = (f"its bytes are {info.detected} text, which {info.encoding} would "
                          "decode into wrong characters")
            raise self._encoding_error(sc, path, info, detail)
        return info

    def _encoding_error(self, sc: StreamConfig, path: Path, info: FileScan,
                        detail: str) -> FatalSourceError:
        declared = str(sc.options.get("encoding", "auto"))
        index = self.config.streams.index(sc)
        said = f"encoding: {declared}" if declared != "auto" else "encoding: auto"
        other = (f"encoding: {info.detected}" if info.detected != info.encoding
                 else "the encoding the file was saved in")
        hint = (f"set encoding: auto on the stream (it detects {info.detected} for this file) "
                f"or {other}" if declared != "auto" else
                "set the stream's encoding: to the one the file was saved in (utf-8, gb18030)")
        return FatalSourceError(
            f"file {path.name} does not decode as {info.encoding} ({said}): {detail}",
            {**self._ctx(sc.name, path), "config": str(self.config.source_file),
             "path": f"streams[{index}].encoding"},
            hint + "; the file stays unprocessed until then")

    def _check_file(self, sc: StreamConfig, path: Path, schema: pa.Schema) -> str | None:
        """Compare one file's header with the stream's schema under its drift policy.

        Returns the sentence the run summary shows when the policy accepts a difference;
        raises ``SchemaDriftError`` when it refuses it.
        """
        header = self._header(sc, path)
        dup = next((n for n in header if header.count(n) > 1), None)
        if dup is not None:
            raise SourceError(f"duplicate column {dup!r} in the header of {path.name}",
                              self._ctx(sc.name, path), "column names must be unique")
        columns = [f.name for f in schema if f.name != LOCATION_COLUMN]
        missing = [c for c in columns if c not in header]
        extra = [c for c in header if c not in columns]
        if not missing and not extra:
            return None
        files = self._files(sc)
        newest = files[-1].name if files else "the declared schema"
        parts = []
        if missing:
            parts.append(f"lacks column(s) {', '.join(missing)}")
        if extra:
            parts.append(f"has column(s) {', '.join(extra)} not in the stream's schema")
        what = (f"file {path.name} " + " and ".join(parts) +
                f" (the stream's schema is the header of {newest})")
        if sc.drift == "fail":
            raise SchemaDriftError(
                what, self._ctx(sc.name, path),
                "fix or replace the file, or move files with another layout to their own "
                "stream (pattern); `drift: evolve` on the stream reads such files (missing "
                "columns empty, extra ones dropped) and reports each one")
        effects = ([f"{', '.join(missing)} read as empty"] if missing else []) + (
            [f"{', '.join(extra)} dropped"] if extra else [])
        return f"{sc.drift}: {what}; {' and '.join(effects)}"

    # ---------------------------------------------------------------- contract
    def check(self) -> None:
        """The drop folder must exist; every stream's newest file must be readable (and in
        its declared encoding)."""
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
            info = self._scan(sc, path)
            if info.sha256 not in done:
                pending.append((path, info))
        # a half-read file goes first, whatever its name
        if current:
            resume_sha = current["sha256"]
            pending.sort(key=lambda p: p[1].sha256 != resume_sha)
        # every file is checked before any row is read: a refused file refuses the read
        notes = {path: self._check_file(sc, path, schema) for path, _ in pending}
        for path, info in pending:
            resume = current if current and current["sha256"] == info.sha256 else None
            rows_done = int(resume["rows_done"]) if resume else 0
            note = notes[path]
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
                yield Chunk(batch, new_state, found, [note] if note else [])
                note = None  # reported once per file
            current = None

    def estimate_rows(self, stream: str, state: State | None = None) -> int | None:
        """About how many records ``read(stream, state)`` yields, from the unprocessed
        files' sizes: a CSV's lines are counted in its first MiB and scaled to its size
        (exact for a smaller file), an XLSX's rows come from its sheet dimension; a
        half-read file counts only its rest. The checksums this needs are the ones the
        read computes anyway (cached per file content)."""
        sc = self.config.stream(stream)
        done = set(((state or {}).get("files") or {}).keys())
        current = (state or {}).get("current") or {}
        total = 0
        for path in self._files(sc):
            info = self._scan(sc, path)
            if info.sha256 in done:
                continue
            rows = self._estimate_file(sc, path, info)
            if rows is None:
                return None
            if current.get("sha256") == info.sha256:
                rows -= int(current.get("rows_done") or 0)
            total += max(rows, 0)
        return total

    def _estimate_file(self, sc: StreamConfig, path: Path, info: FileScan) -> int | None:
        if _stream_format(sc) == "xlsx":
            from hrss_hub.connectors import files_xlsx

            return files_xlsx.estimate_rows(path, sc.options.get("sheet"),
                                            int(sc.options.get("header_row", 1)))
        from hrss_hub.connectors import files_csv

        return files_csv.estimate_rows(path, info.bom_length, info.size)

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
        # the header was checked against the schema (_check_file): columns the schema lacks
        # are dropped here only under a drift policy that accepts that
        names = block.header
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
