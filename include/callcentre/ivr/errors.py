"""Which database errors are worth a retry (connections, timeouts, locks, a concurrent load) and
which are permanent (``AirflowFailException``: a schema that breaks the contract, a bad value)."""

from __future__ import annotations

from callcentre.common.compat import AirflowFailException

# MariaDB server error codes that a retry can fix; every client error (>= 2000: can't connect,
# server gone away, lost connection) is transient too.
MYSQL_TRANSIENT = {
    1040,  # too many connections
    1053,  # server shutdown in progress
    1205,  # lock wait timeout
    1213,  # deadlock
    1317,  # query interrupted
    1927,  # connection was killed
    1969,  # max_statement_time exceeded
}
# PostgreSQL's unique_violation.
UNIQUE_VIOLATION = "23505"
# invalid_parameter_value: raised by a session setting a pooled backend already fixed (temp_buffers
# after a temp table was used there). Another try lands on another backend.
INVALID_PARAMETER_VALUE = "22023"
# MariaDB codes that mean "the source does not look like the contract".
MYSQL_SCHEMA = {1054, 1146, 1049}  # unknown column, unknown table, unknown database


def sqlstate_of(err: BaseException) -> str:
    """A PostgreSQL error's SQLSTATE ("" for any other error): psycopg 3 and psycopg2 name it differently."""
    return getattr(err, "sqlstate", None) or getattr(err, "pgcode", None) or ""


def raise_classified(err: BaseException, where: str) -> None:
    """Re-raise ``err``: as AirflowFailException when permanent, unchanged when transient."""
    module = type(err).__module__
    if module.startswith("MySQLdb"):
        code = err.args[0] if err.args and isinstance(err.args[0], int) else None
        if code in MYSQL_SCHEMA:
            raise AirflowFailException(f"{where}: the IVR source does not match the contract: {err}") from err
        if code in MYSQL_TRANSIENT or code is None or code >= 2000:
            raise err
        if type(err).__name__ in ("ProgrammingError", "DataError", "IntegrityError", "NotSupportedError"):
            raise AirflowFailException(f"{where}: permanent source error: {err}") from err
        raise err
    if module.startswith(("psycopg", "psycopg2")):
        sqlstate = sqlstate_of(err)
        # unique_violation: a load of another hour committed the same call first (it moved in
        # the source between the two reads). A retry deletes it there and converges.
        if sqlstate in (UNIQUE_VIOLATION, INVALID_PARAMETER_VALUE):
            raise err
        # 42: syntax/undefined objects (schema drift); 22: data exceptions; 23: constraint violations.
        if sqlstate[:2] in ("42", "22", "23"):
            raise AirflowFailException(f"{where}: permanent target error ({sqlstate}): {err}") from err
    raise err
