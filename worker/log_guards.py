"""Library log records that would carry secrets, stopped on the logger that makes them.

The scrubbing filter of our own handler (worker/logs.py) cleans what reaches that handler, but a
log record is shared by every handler: pytest's, an APM agent's, one an operator adds while
debugging. Two libraries we use print, at DEBUG, secrets that no pattern can recognise:

- requests-oauthlib prints each token request's headers (the HTTP Basic client credentials, in
  base64) and body, and each token answer;
- SQLAlchemy's row echo prints rows after type processing, so `Encrypted` columns in clear.

A filter on the logger where such a record is created runs before any handler sees it, whatever
level anyone sets, so these records are dropped there. The rest of their logging is kept.
"""

from __future__ import annotations

import logging


class DropDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


class DropRowEcho(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


GUARDS: dict[str, type[logging.Filter]] = {
    "requests_oauthlib.oauth2_session": DropDebug,
    "requests_oauthlib.oauth2_auth": DropDebug,
    # An engine without a logging_name logs through its class logger, this one.
    "sqlalchemy.engine.Engine": DropRowEcho,
}


def guard_library_loggers() -> None:
    """Install the guards; safe to call any number of times."""
    for name, guard in GUARDS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, guard) for f in logger.filters):
            logger.addFilter(guard())
