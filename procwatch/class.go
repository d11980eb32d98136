package procwatch

import (
	"bytes"
	"strings"
)

// Kind is how a Gunicorn worker class serves requests, which decides what
// the watcher can measure of it (see the package doc).
type Kind uint8

// The kinds of worker classes.
const (
	// KindUnknown: not known yet.
	KindUnknown Kind = iota
	// KindSync: one request at a time per worker, each connection closed
	// after it (sync, Gunicorn's default).
	KindSync
	// KindThreaded: a pool of threads per worker, idle keep-alive
	// connections parked in an epoll instance (gthread, and sync with
	// --threads above 1).
	KindThreaded
	// KindAsync: many connections per worker on an event loop (gevent,
	// eventlet, tornado, uvicorn's UvicornWorker).
	KindAsync
)

// String returns "sync", "threaded", "async" or "unknown".
func (k Kind) String() string {
	switch k {
	case KindSync:
		return "sync"
	case KindThreaded:
		return "threaded"
	case KindAsync:
		return "async"
	}
	return "unknown"
}

// kindOf is the kind of a worker class as Gunicorn's worker_class setting
// names it, with threads threads (0 when not given): Gunicorn runs gthread
// for the sync class with more than one thread. An unknown class (a class
// path of the user's) is KindUnknown, left to what the workers show.
func kindOf(class string, threads int) Kind {
	c := strings.ToLower(class)
	c = strings.TrimPrefix(c, "egg:gunicorn#")
	switch c {
	case "", "sync", "gunicorn.workers.sync.syncworker":
		if threads > 1 {
			return KindThreaded
		}
		return KindSync
	case "gthread", "gunicorn.workers.gthread.threadworker":
		return KindThreaded
	case "gevent", "gevent_wsgi", "gevent_pywsgi", "eventlet", "tornado":
		return KindAsync
	}
	switch {
	case strings.HasPrefix(c, "gunicorn.workers.ggevent."), strings.HasPrefix(c, "gunicorn.workers.geventlet."),
		strings.HasPrefix(c, "gunicorn.workers.gtornado."), strings.HasPrefix(c, "uvicorn.workers."),
		strings.HasPrefix(c, "uvicorn_worker."):
		return KindAsync
	}
	return KindUnknown
}

// libSet is a set of distinctive libraries a process has mapped.
type libSet uint8

const (
	libGevent   libSet = 1 << iota // gevent's compiled modules
	libGreenlet                    // greenlet's (gevent and eventlet both use it)
	libUvloop                      // uvloop's
	libAsyncio                     // CPython's _asyncio module
)

// mapsLibs returns the distinctive libraries of the paths in a
// /proc/PID/maps.
func mapsLibs(data []byte) libSet {
	var s libSet
	lines(data, func(line []byte) {
		slash := bytes.IndexByte(line, '/')
		if slash < 0 {
			return
		}
		path := line[slash:]
		base := path[bytes.LastIndexByte(path, '/')+1:]
		switch {
		case bytes.HasPrefix(base, []byte("_gevent_c")) || bytes.HasPrefix(base, []byte("_corecffi")) || bytes.Contains(path, []byte("/gevent/")):
			s |= libGevent
		case bytes.HasPrefix(base, []byte("_greenlet")) || bytes.Contains(path, []byte("/greenlet/")):
			s |= libGreenlet
		case bytes.Contains(path, []byte("/uvloop/")):
			s |= libUvloop
		case bytes.HasPrefix(base, []byte("_asyncio.")):
			s |= libAsyncio
		}
	})
	return s
}

// classFromEvidence guesses the worker class from what the master and its
// workers show: gevent's or greenlet's libraries (the master imports the
// worker class, so it maps them too), uvloop's, an epoll instance in a
// worker (gthread parks its keep-alive connections in one; the sync worker
// uses select), or none of these (sync). ok is false while no worker's
// evidence has been read.
func classFromEvidence(master evidence, workers []procObs) (class string, kind Kind, ok bool) {
	libs := master.libs
	epoll, read := false, false
	for i := range workers {
		e := &workers[i].evidence
		if e.read {
			read = true
			libs |= e.libs
			epoll = epoll || e.epoll
		}
	}
	switch {
	case libs&libGevent != 0:
		return "gevent", KindAsync, true
	case libs&libGreenlet != 0:
		return "eventlet", KindAsync, true
	case libs&libUvloop != 0:
		return "uvicorn", KindAsync, true
	case !read:
		return "", KindUnknown, false
	case epoll && libs&libAsyncio != 0:
		return "uvicorn", KindAsync, true
	case epoll:
		return "gthread", KindThreaded, true
	}
	return "sync", KindSync, true
}
