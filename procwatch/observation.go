package procwatch

import (
	"net/netip"
	"time"
)

// observation is what one pass of the reader saw, a plain value the tracker
// turns into figures. Its slices are the reader's buffers, valid until the
// next pass.
type observation struct {
	at time.Time
	// master is the master's figures; master.id.pid is 0 when no master
	// runs (nothing else is then set).
	master procObs
	// newMaster says the master is not the previous pass's (a first pass,
	// a restart, a USR2 upgrade); settings are then this master's.
	newMaster bool
	settings  *settings
	// workers are the master's HTTP workers: its children that hold a
	// heartbeat file the master holds too (not a new master of a USR2
	// upgrade, nor Gunicorn 26's dirty arbiter and its workers).
	workers []procObs
	// fdsKnown says every process's file descriptors could be read.
	fdsKnown  bool
	listeners []listenerObs
}

// procObs is what a pass read of one process.
type procObs struct {
	id           procID
	utime, stime uint64 // CPU time, in ticks of 1/userHZ s
	rss          int64  // bytes
	fdsRead      bool
	// heartbeat is the change time of the worker's heartbeat file (zero
	// when unknown): the last time the worker said it was alive.
	heartbeat time.Time
	// conns are the accepted connections the worker holds (on one of the
	// master's listeners).
	conns int
	// unparked are the socket inodes of those of conns that are not
	// registered in the worker's epoll instances, when parkedKnown: being
	// served or waiting for a thread (gthread, eventlet); gevent leaves
	// some registered while it serves them.
	unparked    []uint64
	parkedKnown bool
	// inFlight are the socket inodes of those of conns whose TCP
	// information shows a request in flight (tcpTimes.inFlight), when
	// tcpKnown: every accepted connection is TCP and was looked up.
	inFlight []uint64
	tcpKnown bool
	// evidence is what the worker shows of its class.
	evidence evidence
}

// maxActiveConns bounds the connections of a worker noted as active (its
// busy count stops there).
const maxActiveConns = 256

// evidence is what a worker process shows of its worker class, read from
// its task list, file descriptors and mapped libraries.
type evidence struct {
	threads int    // tasks (threads) of the process, 0 when unknown
	epoll   bool   // it holds an epoll instance
	libs    libSet // distinctive libraries it has mapped
	read    bool   // the libraries were read
}

// listenerObs is a listening socket of the master.
type listenerObs struct {
	key          listenKey
	queue, limit int64
	queueKnown   bool
	limitKnown   bool
}

type listenKey struct {
	unix bool
	addr netip.AddrPort
	path string
}

// procID tells a process apart from a later one with the same pid.
type procID struct {
	pid   int
	start uint64 // start time, in ticks after boot
}
