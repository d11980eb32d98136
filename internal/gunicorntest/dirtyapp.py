"""A dirty app for Gunicorn 26's dirty arbiter (--dirty-workers N --dirty-app dirtyapp:Hello),
for the tests that check the arbiter is not taken for an HTTP worker."""

from gunicorn.dirty.app import DirtyApp


class Hello(DirtyApp):
    def init(self):
        self.n = 0

    def __call__(self, action, *args, **kwargs):
        self.n += 1
        return {"n": self.n}

    def close(self):
        pass
