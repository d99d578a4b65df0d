"""gunicorn's logger, with query strings taken out of every line it writes (gunicorn.conf.py).

An OAuth callback's query string carries `code=` and `state=`, and gunicorn quotes request lines
in its own warnings ("Invalid HTTP request line: 'GET /oauth/close/callback?code=…'") and in the
access log's `%(r)s`, `%(q)s` and `%(f)s` (the Referer). No log line may hold a code or a token
(CONTRACT §5 Secrets), so query strings are cut wherever they appear: the access log atoms
before formatting, and every error-log record (message and traceback) on its way out.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
# A query string right after a path or URL: everything from "?" to the next space or quote.
_QUERY = re.compile(r"(?<=[\w/.~%-])\?[^\s'\"<>\\]+")
# And key=value pairs of credential-bearing names wherever they stand (a bare %(q)s, a header).
_CREDENTIAL = re.compile(
    r"(?i)\b(code|state|token|access_token|refresh_token|id_token|client_secret|"
    r"code_verifier|password|signing_key)=[^&\s'\";]+"
)


def redact(text: str) -> str:
    return _CREDENTIAL.sub(rf"\1={REDACTED}", _QUERY.sub("?" + REDACTED, text))


class RedactQueries(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class RedactingLogger(Logger):
    _filter = RedactQueries()

    def setup(self, cfg) -> None:  # noqa: ANN001 - gunicorn's signature
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if self._filter not in log.filters:
                log.addFilter(self._filter)

    def atoms(self, resp, req, environ, request_time):  # noqa: ANN001, ANN201
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "f", "{referer}i"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        if atoms.get("q"):
            atoms["q"] = REDACTED
        return atoms
