"""Which statements keep one plan, and which are planned for their values at every run.

A statement the connection runs often is prepared (psycopg's `prepare_threshold`). PostgreSQL
plans a prepared statement for its values five times, then keeps a plan made for no value in
particular (a generic plan) when it costs no more (`plan_cache_mode=auto`): the statement is
then no longer planned at every run. That suits a statement whose best plan is the same for
every value, a row by primary key say, and most statements are such.

It does not suit one whose best plan depends on its values: a price range that holds most
products or a few, a rare or a common search word. A plan kept for one price range would be
used for every other (measured at 1M products: lists filtered by ever-new prices ran 2-7x
slower). Such a statement runs inside `planned_per_value()`: it is not prepared, and PostgreSQL
plans a statement that is not prepared for its values every time. The paginator does so for
every list and its count (a search's too). Inside it, `plan_kept()` marks a statement whose plan
does not depend on its values after all (an unfiltered keyset page), or that PostgreSQL plans for
its values anyway (a search of words alone: app/models.py CompiledSearch), which psycopg then
prepares as it would anywhere else. Both change nothing on other databases. (`executemany` is always
prepared by psycopg; nothing that reads a list uses it.)
"""

from contextlib import contextmanager
from contextvars import ContextVar

# Whether statements with parameters are prepared: None lets psycopg decide.
_prepare: ContextVar[bool | None] = ContextVar("prepare", default=None)


@contextmanager
def _preparing(choice: bool | None):
    token = _prepare.set(choice)
    try:
        yield
    finally:
        _prepare.reset(token)


def planned_per_value():
    """Statements with parameters run inside are planned for their values at every run."""
    return _preparing(False)


def plan_kept():
    """Statements run inside are prepared as psycopg decides (after `prepare_threshold` runs),
    and may keep one plan, even within `planned_per_value()`."""
    return _preparing(None)


def prepare_choice() -> bool | None:
    """Whether a statement with parameters is to be prepared here (None: as psycopg decides)."""
    return _prepare.get()
