"""``nenscope users``: users of the web service and their bearer tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nenscope.cli import app
from nenscope.cli._common import console, print_json
from nenscope.cli.serve import DATA_DIR

users_app = typer.Typer(help="Users of the web service (roles: technologist, physician, admin).")
app.add_typer(users_app, name="users")

DataDir = Annotated[
    Path, typer.Option("--data-dir", help="The service's data directory (SQLite store).")
]
Db = Annotated[
    str | None, typer.Option("--db", help="Database URL [default: SQLite in --data-dir].")
]


def _store(data_dir: Path, db: str | None):
    from nenscope.service import Settings
    from nenscope.store import Store

    return Store(Settings(data_dir=data_dir, db_url=db).database_url)


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name (unique).")],
    role: Annotated[
        str, typer.Option("--role", help="technologist, physician or admin.")
    ] = "technologist",
    data_dir: DataDir = DATA_DIR,
    db: Db = None,
) -> None:
    """Add a user and print the bearer token (shown once: only its hash is stored)."""
    from nenscope.store.users import add_user

    store = _store(data_dir, db)
    with store.transaction() as session:
        token = add_user(session, name, role)
    store.close()
    print(token)


@users_app.command("list")
def list_(
    data_dir: DataDir = DATA_DIR,
    db: Db = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the users and their roles."""
    from nenscope.store.users import list_users

    store = _store(data_dir, db)
    with store.transaction() as session:
        rows = [
            {"id": u.id, "name": u.name, "role": u.role.value, "created_at": u.created_at}
            for u in list_users(session)
        ]
    store.close()
    if json_:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} user(s)")
    for col in ("id", "name", "role", "created"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]), r["name"], r["role"], r["created_at"].isoformat(timespec="seconds")
        )
    console.print(table)
