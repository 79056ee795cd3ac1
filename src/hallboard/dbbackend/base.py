"""Django's PostgreSQL backend with the outage behaviour of ``hallboard.dbhealth``.

- ``get_new_connection`` fails at once while the database is known to be
  down, and marks it down when no connection can be had in time (the pool's
  ``timeout``, libpq's ``connect_timeout``).
- Every query, commit, rollback and health check is a round trip bounded by
  the watchdog (statement timeout + grace): a network that swallows packets
  cannot hold a request, a gateway batch or a probe forever.
- The pool's own health check (``CONN_HEALTH_CHECKS``) is bounded the same
  way, so a connection that died during an outage is replaced before a
  request gets it; the first dead one found has the whole pool checked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool

from hallboard import dbhealth

T = TypeVar("T")
logger = logging.getLogger("hallboard.database")


def bound_seconds(settings_dict: dict[str, Any]) -> float | None:
    """How long one round trip may take before the watchdog cuts it (None: unbounded)."""
    seconds = settings_dict.get("STATEMENT_TIMEOUT")
    if not seconds:
        return None
    return float(seconds) + dbhealth.WATCHDOG_GRACE


def _fd(connection: Any) -> int | None:
    try:
        return int(connection.pgconn.socket)
    except Exception:  # closed, or not connected
        return None


def bounded(connection: Any, seconds: float | None, op: Callable[[], T]) -> T:
    """Run ``op`` (a round trip on the psycopg ``connection``) under the watchdog."""
    with dbhealth.WATCHDOG.bound(_fd(connection), seconds) as was_cut:
        try:
            return op()
        except Exception as exc:
            failure = exc
    if was_cut():
        raise OperationalError(
            f"no answer from the database within {seconds:.0f} s; connection cut"
        ) from failure
    raise failure


class BoundedPool(ConnectionPool):
    """psycopg_pool's pool, its connection checks bounded by the watchdog.

    A connection that fails its check before a request gets it means others in
    the pool may be dead too (the database restarted): they are all checked at
    once in the background, instead of one per request with the pool's growing
    backoff between them.
    """

    bound: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._purging = threading.Lock()

    def check_connection(self, conn: Any) -> None:  # type: ignore[override]
        """Used by ``check()`` too: a connection that does not answer is cut."""
        bounded(conn, self.bound, lambda: ConnectionPool.check_connection(conn))

    def check_or_purge(self, conn: Any) -> None:
        try:
            self.check_connection(conn)
        except Exception:
            if self._purging.acquire(blocking=False):
                threading.Thread(target=self._purge, name="pool-purge", daemon=True).start()
            raise

    def _purge(self) -> None:
        try:
            self.check()
        except Exception:  # the pool closed meanwhile
            logger.debug("pool purge failed", exc_info=True)
        finally:
            self._purging.release()


class DatabaseWrapper(base.DatabaseWrapper):
    _health: dbhealth.Health | None = None

    @property
    def health(self) -> dbhealth.Health:
        """Up or down: per process and database (tests may give a wrapper its own)."""
        return self._health or dbhealth.health_for(self.settings_dict)

    @health.setter
    def health(self, value: dbhealth.Health) -> None:
        self._health = value

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.round_trip_bound = bound_seconds(self.settings_dict)
        self.execute_wrappers.append(self._bounded_execute)

    # --- connecting --------------------------------------------------------------
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        self.health.check()
        try:
            return super().get_new_connection(conn_params)
        except Exception as exc:
            self.health.failed(exc, self._probe_function(conn_params))
            raise

    def _probe_function(self, conn_params: dict[str, Any]) -> Callable[[], None]:
        params = {k: v for k, v in conn_params.items() if k != "pool"}
        params["autocommit"] = True
        seconds = self.round_trip_bound

        def probe() -> None:
            connection = self.Database.connect(**params)
            try:
                bounded(connection, seconds, lambda: connection.execute("SELECT 1").fetchone())
            finally:
                connection.close()

        return probe

    @property
    def pool(self) -> Any:
        """Django's pool, with the pool's health check bounded by the watchdog."""
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options:
            return None
        pools: dict[str, Any] = self._connection_pools  # type: ignore[attr-defined]
        if self.alias not in pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True
            made: list[BoundedPool] = []
            pool = BoundedPool(
                kwargs=connect_kwargs,
                open=False,
                configure=self._configure_connection,  # type: ignore[attr-defined]
                check=(lambda conn: made[0].check_or_purge(conn))
                if self.settings_dict["CONN_HEALTH_CHECKS"]
                else None,
                **({} if pool_options is True else pool_options),
            )
            pool.bound = self.round_trip_bound
            made.append(pool)
            pools.setdefault(self.alias, pool)
        return pools[self.alias]

    # --- round trips ---------------------------------------------------------------
    def _round_trip(self, op: Callable[[], T]) -> T:
        try:
            return bounded(self.connection, self.round_trip_bound, op)
        except Exception as exc:
            if dbhealth.is_unavailable(exc) and self._lost():
                self.health.failed(exc, self._probe_function(self.get_connection_params()))
            raise

    def _lost(self) -> bool:
        connection = self.connection
        return connection is None or bool(getattr(connection, "broken", False)) or connection.closed

    def _bounded_execute(
        self, execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any
    ) -> Any:
        return self._round_trip(lambda: execute(sql, params, many, context))

    def _commit(self) -> Any:
        return self._round_trip(super()._commit)  # type: ignore[misc]

    def _rollback(self) -> Any:
        return self._round_trip(super()._rollback)  # type: ignore[misc]

    def is_usable(self) -> bool:
        if self.connection is None:
            return False
        try:
            return bool(bounded(self.connection, self.round_trip_bound, super().is_usable))
        except OperationalError:
            return False
