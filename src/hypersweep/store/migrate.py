"""Bringing a store made by an older version up to date: columns added since are created.
Only nullable columns are ever added, so an old store and new code agree on every row."""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, inspect
from sqlalchemy.exc import SQLAlchemyError


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """ALTER TABLE ... ADD COLUMN for each nullable column the database lacks. Returns
    "table.column" for each column added."""
    inspector = inspect(engine)
    added = []
    for table in metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(
                        f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'
                    )
            except SQLAlchemyError:
                # Another process added it between our look and our ALTER: fine; anything
                # else shows up as a clear error on first use of the column.
                continue
            added.append(f"{table.name}.{column.name}")
    return added
