"""A WSGI app for the end-to-end test: /<code> answers with that status code."""


def app(environ, start_response):
    code = environ.get("PATH_INFO", "/").strip("/") or "200"
    status = code + " " + {"200": "OK", "404": "Not Found", "500": "Internal Server Error"}.get(code, "Other")
    body = (status + "\n").encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
