"""The bench's source table: a 金保-style AC01 (个人基本信息) with planted defects.

Nine text/integer columns, generated vectorized in chunks (never the whole table in
memory) and deterministic for a given row count and seed:

=========  ========================================================================
AAC001     integer primary key (1 … N)
AAC002     citizen ID: unique valid 18-character numbers, some written the legacy
           15-digit way, with a lower-case ``x`` or surrounding spaces (all valid)
AAC003     name (Han names; minority names with assorted separator dots)
AAC004     gender code (``1``/``2``, matching the ID's sequence parity)
AAC005     ethnicity code (GB/T 3304)
AAC006     birth date ``YYYYMMDD`` (matching the ID)
AAC009     local 户口性质 code (mapped in the connector file)
AAC011     education code (GB/T 4658)
AAE036     the cursor: last-change time, non-decreasing with AAC001, three rows a second
=========  ========================================================================

About 4% of the rows carry exactly one planted defect each (see ``DEFECTS``), so a
correct hub quarantines exactly ``Plan.defective`` rows and publishes the rest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.standard.identifiers import CITIZEN_CHECK_CHARS, CITIZEN_WEIGHTS

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection

TABLE = "AC01"
COLUMNS = ("AAC001", "AAC002", "AAC003", "AAC004", "AAC005", "AAC006", "AAC009", "AAC011",
           "AAE036")
CHUNK_ROWS = 100_000

#: planted defect → share of all rows (4.0% together); each defective row has one
DEFECTS: dict[str, float] = {
    "id_check_digit": 0.008,      # wrong check character
    "id_malformed": 0.004,        # 17 characters
    "id_duplicate": 0.006,        # the previous row's person again (duplicate key)
    "gender_vs_id": 0.006,        # gender contradicts the ID's sequence parity
    "birth_date_vs_id": 0.005,    # birth date one day off the ID's digits
    "name_missing": 0.004,        # NULL name (required)
    "gender_unmapped": 0.003,     # local gender code 9: no mapping, quarantined
    "ethnicity_unknown": 0.002,   # 77 is no GB/T 3304 code
    "birth_date_invalid": 0.002,  # month 13
}
_KINDS = ("clean", *DEFECTS)
_P = np.array([1.0 - sum(DEFECTS.values()), *DEFECTS.values()])

# 20 county-level divisions of 四川 (province 51): the ID's address code
_REGIONS = np.array([list(map(int, code)) for code in (
    "510104", "510105", "510106", "510107", "510108", "510112", "510113", "510114",
    "510115", "510116", "510117", "510118", "510121", "510129", "510131", "510181",
    "510182", "510183", "510184", "510185")], dtype=np.uint8)
_DAYS = 21_900  # birth dates 1950-01-01 … 2009-12-17
_EPOCH_1950 = -7305  # 1950-01-01 in days since 1970-01-01
_SPACE = _DAYS * 1000 * len(_REGIONS)  # distinct (region, birth date, sequence) triples
_STRIDE = 1_000_003  # prime, coprime with _SPACE: i → i·stride mod space is a bijection
_CURSOR_START = 1_704_067_200  # 2024-01-01T00:00:00 UTC, seconds

_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
                 "彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈")
_GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰文斌海燕雪梅"
              "宇浩然子涵欣怡梓轩一诺思远佳琪俊杰晓东春生冬梅国庆建华德胜丽华")
_MINORITY = ["阿依古丽", "买买提", "热依拉", "艾力", "古丽娜尔", "吐尔逊", "扎西", "卓玛"]
_DOTS = ["·", "•", "・", ".", "．"]  # all normalize to U+00B7
_ETHNIC = [f"{c:02d}" for c in range(2, 57)]
_HUKOU = np.array(["10", "20", "31", "32"], dtype=object)
_EDUCATION = np.array(["11", "14", "21", "31", "41", "61", "71", "81", "90"], dtype=object)


@dataclass
class Plan:
    """What the generator planted: the answer key the bench checks the hub against."""

    rows: int
    defects: Counter[str] = field(default_factory=Counter)

    @property
    def defective(self) -> int:
        """Rows with a planted defect (each must be quarantined)."""
        return sum(self.defects.values())

    @property
    def clean(self) -> int:
        """Rows a correct hub publishes."""
        return self.rows - self.defective


def identifier(name: str, backend: str) -> str:
    """A table or column name as it is spelled in ``backend``: PostgreSQL folds unquoted
    names to lower case, so a PostgreSQL source has ``ac01(aac001, …)``."""
    return name.lower() if backend == "postgresql" else name


def schema(backend: str) -> pa.Schema:
    """Arrow schema of the table; PostgreSQL keeps the cursor as a real TIMESTAMP."""
    cursor = pa.timestamp("us") if backend == "postgresql" else pa.string()
    types = [pa.int64()] + [pa.string()] * (len(COLUMNS) - 2) + [cursor]
    return pa.schema([(identifier(c, backend), t) for c, t in zip(COLUMNS, types, strict=True)])


def _strings(mat: np.ndarray) -> pa.Array:
    """Rows of an ASCII byte matrix as one string array (no Python objects)."""
    n, width = mat.shape
    offsets = np.arange(0, n * width + 1, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets),
                                                  pa.py_buffer(np.ascontiguousarray(mat))])


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Decimal digits of non-negative integers, most significant first, as uint8."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers % 10).astype(np.uint8)


def _yyyymmdd(days: np.ndarray) -> np.ndarray:
    """``datetime64[D]`` values as integers YYYYMMDD."""
    years = days.astype("datetime64[Y]")
    months = days.astype("datetime64[M]")
    year = years.astype(np.int64) + 1970
    month = (months - years).astype(np.int64) + 1
    ymd: np.ndarray = year * 10_000 + month * 100 + (days - months).astype(np.int64) + 1
    return ymd


def _kinds(rng: np.random.Generator, n: int) -> np.ndarray:
    kinds = rng.choice(len(_KINDS), size=n, p=_P)
    dup = _KINDS.index("id_duplicate")
    kinds[0] = 0 if kinds[0] == dup else kinds[0]  # a duplicate needs a row before it
    before = np.flatnonzero(kinds == dup) - 1
    kinds[before] = 0  # ... and that row is clean, so it is the one published
    return kinds


def batches(rows: int, *, backend: str = "sqlite", seed: int = 13,
            plan: Plan | None = None) -> Iterator[pa.RecordBatch]:
    """The table in chunks of ``CHUNK_ROWS``; counts planted defects into ``plan``."""
    out_schema = schema(backend)
    for start in range(0, rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, rows - start)
        rng = np.random.default_rng([seed, start])
        kinds = _kinds(rng, n)
        if plan is not None:
            plan.rows += n
            plan.defects.update(_KINDS[k] for k in kinds[kinds > 0].tolist())
        yield _chunk(np.arange(start, start + n, dtype=np.int64), kinds, rng, out_schema)


def _chunk(index: np.ndarray, kinds: np.ndarray, rng: np.random.Generator,
           out_schema: pa.Schema) -> pa.RecordBatch:
    n = len(index)
    kind = {name: kinds == i for i, name in enumerate(_KINDS)}
    p = (index * _STRIDE + 7) % _SPACE
    region, rest = p // (_DAYS * 1000), p % (_DAYS * 1000)
    day, seq = rest // 1000, rest % 1000
    dup = kind["id_duplicate"]
    for arr in (region, day, seq):  # the duplicate row is the previous row's person
        arr[dup] = arr[np.flatnonzero(dup) - 1]
    birth = (day + _EPOCH_1950).astype("datetime64[D]")
    ymd = _yyyymmdd(birth)
    body = np.concatenate([_REGIONS[region], _digits(ymd, 8), _digits(seq, 3)], axis=1)
    check_index = (body.astype(np.int64) @ np.array(CITIZEN_WEIGHTS)) % 11
    check_index[kind["id_check_digit"]] += 1 + rng.integers(0, 10, kind["id_check_digit"].sum())
    check = np.frombuffer(CITIZEN_CHECK_CHARS.encode(), np.uint8)[check_index % 11]
    full = np.concatenate([body + ord("0"), check[:, None]], axis=1)
    citizen = _id_variants(full, ymd, kind, rng)

    male = seq % 2 == 1
    gender = np.where(male ^ kind["gender_vs_id"], "1", "2").astype(object)
    gender[kind["gender_unmapped"]] = "9"
    shown = np.where(kind["birth_date_vs_id"], _yyyymmdd(birth + 1), ymd)
    shown[kind["birth_date_invalid"]] = shown[kind["birth_date_invalid"]] // 10_000 * 10_000 + 1301
    ethnicity = np.where(rng.random(n) < 0.9, "01",
                         np.array(_ETHNIC, dtype=object)[rng.integers(0, len(_ETHNIC), n)])
    ethnicity = ethnicity.astype(object)
    ethnicity[kind["ethnicity_unknown"]] = "77"
    cursor = _CURSOR_START + (index // 3)
    cursor_arr = pa.array(cursor * 1_000_000, pa.timestamp("us"))
    if not pa.types.is_timestamp(out_schema.field(len(COLUMNS) - 1).type):
        cursor_arr = pc.strftime(pa.array(cursor, pa.timestamp("s")), format="%Y-%m-%d %H:%M:%S")
    columns = [
        pa.array(index + 1, pa.int64()),
        citizen,
        _names(n, kind["name_missing"], rng),
        pa.array(gender, pa.string()),
        pa.array(ethnicity, pa.string()),
        pa.array(shown.astype(str).astype(object), pa.string()),
        pa.array(_HUKOU[rng.integers(0, len(_HUKOU), n)], pa.string()),
        pa.array(_EDUCATION[rng.integers(0, len(_EDUCATION), n)], pa.string()),
        cursor_arr,
    ]
    return pa.RecordBatch.from_arrays(columns, schema=out_schema)


def _id_variants(full: np.ndarray, ymd: np.ndarray, kind: dict[str, np.ndarray],
                 rng: np.random.Generator) -> pa.Array:
    """The 18-character IDs as source systems hold them: mostly clean, some legacy
    15-digit (born in the 1900s), lower-case x, padded with spaces; defects applied."""
    n = len(full)
    text = _strings(full)
    legacy = (rng.random(n) < 0.015) & (ymd < 20_000_000) & kind["clean"]
    if legacy.any():
        short = _strings(np.concatenate([full[:, :6], full[:, 8:17]], axis=1))
        text = pc.if_else(pa.array(legacy), short, text)
    lower = pa.array(rng.random(n) < 0.3)
    text = pc.if_else(lower, pc.utf8_lower(text), text)  # only affects a trailing X
    padded = pa.array((rng.random(n) < 0.005) & kind["clean"])
    text = pc.if_else(padded, pc.binary_join_element_wise(" ", text, " ", ""), text)
    malformed = pa.array(kind["id_malformed"])
    return pc.if_else(malformed, pc.utf8_slice_codeunits(text, 0, 17), text)


def _names(n: int, missing: np.ndarray, rng: np.random.Generator) -> pa.Array:
    surname = np.array(_SURNAMES, dtype=object)[rng.integers(0, len(_SURNAMES), n)]
    given = np.array(_GIVEN, dtype=object)
    first = given[rng.integers(0, len(given), n)]
    second = np.where(rng.random(n) < 0.7, given[rng.integers(0, len(given), n)], "")
    names = pc.binary_join_element_wise(pa.array(surname, pa.string()),
                                        pa.array(first, pa.string()),
                                        pa.array(second.astype(object), pa.string()), "")
    parts = np.array(_MINORITY, dtype=object)
    minority = pc.binary_join_element_wise(
        pa.array(parts[rng.integers(0, len(parts), n)], pa.string()),
        pa.array(np.array(_DOTS, dtype=object)[rng.integers(0, len(_DOTS), n)], pa.string()),
        pa.array(parts[rng.integers(0, len(parts), n)], pa.string()), "")
    names = pc.if_else(pa.array(rng.random(n) < 0.01), minority, names)
    return pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), names)


# --------------------------------------------------------------------------- loading

_DDL = ("CREATE TABLE AC01 (AAC001 BIGINT PRIMARY KEY, AAC002 VARCHAR(20), "
        "AAC003 VARCHAR(50), AAC004 VARCHAR(2), AAC005 VARCHAR(2), AAC006 VARCHAR(10), "
        "AAC009 VARCHAR(2), AAC011 VARCHAR(2), AAE036 {cursor} NOT NULL)")


def load(adbc_conn: Connection, backend: str, rows: int, seed: int = 13) -> Plan:
    """Create and fill the table through an open ADBC connection (bulk ingest: COPY on
    PostgreSQL), index the cursor like a real source does; returns the plan."""
    plan = Plan(0)
    reader = pa.RecordBatchReader.from_batches(
        schema(backend), batches(rows, backend=backend, seed=seed, plan=plan))
    cur = adbc_conn.cursor()
    cur.execute(_DDL.format(cursor="TIMESTAMP" if backend == "postgresql" else "TEXT"))
    cur.adbc_ingest(identifier(TABLE, backend), reader, mode="append")
    # the connector reads in (cursor, primary key) order: a source indexes that
    cur.execute("CREATE INDEX ix_ac01_aae036 ON AC01 (AAE036, AAC001)")
    cur.execute("ANALYZE AC01")
    cur.close()
    adbc_conn.commit()
    return plan
