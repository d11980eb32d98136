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

    path = scope.get("path", "/")
    code = 200
    if path == "/err":
        raise RuntimeError("boom")
    if path == "/slow":
        query = parse_qs(scope.get("query_string", b"").decode())
        await asyncio.sleep(float(query.get("s", ["1"])[0]))
    elif len(path) == 4 and path[1:].isdigit() and path[1] != "0":
        code = int(path[1:])
    elif path != "/":
        code = 404
    try:
        reason = HTTPStatus(code).phrase
    except ValueError:
        reason = "Other"
    body = ("%d %s\n" % (code, reason)).encode()
    await send({"type": "http.response.start", "status": code,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
