"""The apps that internal/gunicorntest runs in a real Gunicorn: app (WSGI) and
asgi (ASGI, for uvicorn.workers.UvicornWorker), with the same routes.

/          200
/NNN       the status NNN, a three-digit code (/200, /201, /404, /500...)
/err       raises (Gunicorn answers 500 and logs an exception)
/slow?s=N  sleeps N seconds (a float), then 200
otherwise  404
"""

import time
from http import HTTPStatus
from urllib.parse import parse_qs


def route(path, query):
    """What both apps answer: the status code and the seconds to sleep first."""
    if path == "/err":
        raise RuntimeError("boom")
    if path == "/slow":
        return 200, float(parse_qs(query).get("s", ["1"])[0])
    if len(path) == 4 and path[1:].isdigit() and path[1] != "0":
        return int(path[1:]), 0
    return (200 if path == "/" else 404), 0


def status_line(code):
    try:
        reason = HTTPStatus(code).phrase
    except ValueError:
        reason = "Other"
    return "%d %s" % (code, reason)


def app(environ, start_response):
    code, secs = route(environ.get("PATH_INFO", "/"), environ.get("QUERY_STRING", ""))
    if secs:
        time.sleep(secs)
    status = status_line(code)
    body = (status + "\n").encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


async def asgi(scope, receive, send):
    """The same routes as app, as an ASGI app (uvicorn.workers.UvicornWorker)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    import asyncio

    code, secs = route(scope.get("path", "/"), scope.get("query_string", b"").decode())
    if secs:
        await asyncio.sleep(secs)
    body = (status_line(code) + "\n").encode()
    await send({"type": "http.response.start", "status": code,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
