"""Bad ledger URLs give a LedgerError that names the URL but never the password."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from hrss_hub.errors import LedgerError
from hrss_hub.ledger import Ledger, head_revision, safe_url

PASSWORD = "S3cretPw"


def test_unreachable_server(pg_url: str) -> None:
    url = f"postgresql+psycopg://hub:{PASSWORD}@127.0.0.1:1/ledger"
    with pytest.raises(LedgerError) as err:
        Ledger.open(url)
    text = str(err.value)
    assert PASSWORD not in text and PASSWORD not in repr(err.value)
    assert "cannot connect to the ledger database" in text
    assert "127.0.0.1:1/ledger" in text and "hub:***@" in text
    assert "hint:" in text and "ledger_url" in text
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_missing_database_on_real_server(pg_url: str) -> None:
    url = make_url(pg_url).set(password=PASSWORD, database="hrss_no_such_db")
    with pytest.raises(LedgerError) as err:
        Ledger.open(url.render_as_string(hide_password=False))
    assert PASSWORD not in str(err.value)
    assert "hrss_no_such_db" in str(err.value)


def test_not_a_url() -> None:
    with pytest.raises(LedgerError, match="not a valid database URL"):
        Ledger.open(f"user:{PASSWORD}@nowhere")


def test_unknown_backend() -> None:
    with pytest.raises(LedgerError) as err:
        Ledger.open(f"nosuchdb://u:{PASSWORD}@host/db")
    assert PASSWORD not in str(err.value)
    assert "supported" in str(err.value)


def test_sqlite_folder_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(LedgerError, match="cannot create the ledger folder"):
        Ledger.open(f"sqlite:///{blocker / 'sub' / 'ledger.db'}")


def test_sqlite_parent_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "ledger.db"
    with Ledger.open(f"sqlite:///{path}") as led:
        assert led.current_revision() == head_revision()
    assert path.exists()


def test_in_memory_sqlite_keeps_one_database() -> None:
    with Ledger.open("sqlite://") as led:
        run = led.start_run("hub", "demo")
        assert led.get_run(run) is not None


def test_safe_url_and_repr() -> None:
    url = f"postgresql+psycopg://hub:{PASSWORD}@db:5432/ledger"
    assert safe_url(url) == "postgresql+psycopg://hub:***@db:5432/ledger"
    assert PASSWORD not in repr(Ledger(url))
