"""A small WSGI app for the end-to-end tests.

/          200
/201       201
/404       404
/err       raises (Gunicorn answers 500 and logs an exception)
/slow?s=N  sleeps N seconds, then 200
"""

import time
from urllib.parse import parse_qs


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/err":
        raise RuntimeError("boom")
    if path == "/slow":
        secs = float(parse_qs(environ.get("QUERY_STRING", "")).get("s", ["1"])[0])
        time.sleep(secs)
        status = "200 OK"
    elif path == "/201":
        status = "201 Created"
    elif path == "/404":
        status = "404 Not Found"
    else:
        status = "200 OK"
    body = (status + "\n").encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
