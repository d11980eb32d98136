"""The WSGI app that internal/gunicorntest runs in a real Gunicorn.

/          200
/NNN       the status NNN, a three-digit code (/200, /201, /404, /500...)
/err       raises (Gunicorn answers 500 and logs an exception)
/slow?s=N  sleeps N seconds (a float), then 200
otherwise  404
"""

import time
from http import HTTPStatus
from urllib.parse import parse_qs


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    code = 200
    if path == "/err":
        raise RuntimeError("boom")
    if path == "/slow":
        secs = float(parse_qs(environ.get("QUERY_STRING", "")).get("s", ["1"])[0])
        time.sleep(secs)
    elif len(path) == 4 and path[1:].isdigit() and path[1] != "0":
        code = int(path[1:])
    elif path != "/":
        code = 404
    try:
        reason = HTTPStatus(code).phrase
    except ValueError:
        reason = "Other"
    status = "%d %s" % (code, reason)
    body = (status + "\n").encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
