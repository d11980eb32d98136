// Package procwatch watches a Gunicorn master and its workers from outside,
// through Linux's /proc and socket diagnostics, and records what it sees in
// OpenTelemetry instruments: how many workers are busy, busy worker-seconds,
// how long the longest request has run, each process's CPU, memory and
// uptime, worker restarts, and the listen sockets' accept queues. It needs no
// change to Gunicorn or the app and works on every Gunicorn version.
//
// It is not a StatsD receiver (that is otelbridge, whose figures these sit
// beside), does not read Gunicorn's logs or control socket, and does not
// run on other systems than Linux (New returns an error wrapping
// errors.ErrUnsupported there).
//
// Inside, each pass has three steps: a reader (Linux) reads the processes
// and sockets into a plain value; a tracker, pure logic built and tested on
// any system, turns it into figures; a reporter owns the instruments (their
// names are the Metric constants) and their attribute sets.
//
//	w, err := procwatch.New(meterProvider,
//		procwatch.WithPIDFile("/run/gunicorn.pid"),
//		procwatch.WithAttributes(attribute.String("app", "shop.web")))
//	...
//	go w.Run(ctx) // samples every 100 ms until ctx is done
//
// # Finding the master
//
// Exactly one of WithPID, WithPIDFile and WithDiscover says which master.
// The pid file is read at each pass, so a master replaced by a USR2 upgrade
// or a restart is followed; WithDiscover finds a master by its command line
// or title, again when it is gone. While no master runs, gunicorn.up is 0
// and no other gauge is reported (the counters keep their totals). Workers
// are the master's children (/proc/PID/task/*/children) that hold a
// heartbeat file the master holds too (each worker's is made by the master
// before the fork): not a new master during a USR2 upgrade (it holds its own
// workers' files), nor Gunicorn 26's dirty arbiter. The listeners are the
// master's listening sockets that its workers hold too: not Gunicorn 25's
// control socket, which only the master holds. A pid or pid file that names
// no running master at the first pass is logged as a warning.
//
// # Knowing the worker class
//
// What busy means depends on the worker class, and how big the pool is on
// its threads, worker connections and timeout. The watcher takes each of
// them from the first of these that says: the program's options
// (WithWorkerClass, WithThreads, WithWorkerConnections, WithTimeout); the
// master's settings, read as Gunicorn reads them, its configuration file
// (named by -c, else ./gunicorn.conf.py in its working directory: the
// top-level assignments of literals, such as threads = 4), then
// GUNICORN_CMD_ARGS in its environment, then its arguments; then what the
// workers show (gevent's or greenlet's libraries in /proc/PID/maps, which
// the master maps too as it imports the class; an epoll instance in a
// worker, which gthread has and the sync worker has not; asyncio's module
// beside one for uvicorn; the most threads seen in a gthread worker, whose
// pool starts a thread per request up to --threads; for a sync worker's
// timeout, the cadence of its heartbeat, touched every timeout/2 while it
// waits); then Gunicorn's defaults (sync, 1000 worker connections, 30 s).
// With setproctitle installed, the master's arguments and environment are
// gone (its title is "gunicorn: master [app]"): the file and the workers
// still tell. Each change of what was decided is logged with its source.
//
// # What busy means
//
// One model serves every class: gunicorn.worker.capacity is the requests
// the pool can serve at once (workers for sync, workers × threads for
// gthread, workers × worker_connections for async classes),
// gunicorn.worker.busy the requests being served now, gunicorn.worker.queued
// (gthread) the accepted requests waiting for a thread, and
// gunicorn.worker.busy_time the request-seconds served, summed over passes
// (each adds the busy requests × the time since the previous pass), so that
// rate(busy_time) / capacity is the utilization over any window.
//
// A worker's accepted connections are the sockets in its /proc/PID/fd,
// other than the listeners it inherits, that /proc/PID/net/tcp{,6} shows in
// a state other than LISTEN with the local address and port of one of the
// master's listeners (a listener on 0.0.0.0 or :: matches any address), or
// that /proc/PID/net/unix shows as a connected stream socket with a
// listener's path. A worker's own connections (to a database, say) do not
// count. An accepted connection is in those tables from its birth, and its
// addresses never change: the watcher looks a socket up once, when a
// worker first holds it, and the socket stays what it was found to be until
// the worker closes it. Which of them are requests in flight:
//
//   - sync: a worker handles one request at a time and closes each
//     connection, so it is busy exactly while it holds an accepted
//     connection (one in CLOSE_WAIT, whose client has gone, is still on its
//     hands). gunicorn.worker.count then has one point per state
//     (gunicorn.worker.state = busy, idle). Exact.
//   - gthread: the worker's poller (an epoll instance; /proc/PID/fdinfo/N
//     lists its targets) holds the listener and the idle keep-alive
//     connections; a connection leaves it while it is served or waits for a
//     thread. So the accepted connections not in it are the requests in
//     flight, min(that, threads) of them busy and the rest queued. Exact on
//     every release (20.1 to 26.1), for held requests and idle keep-alive
//     connections alike; a connection that has sent nothing yet counts as
//     busy on 20.1 and 24.1, where a thread blocks on it.
//   - eventlet: likewise, only the sockets it waits to read are registered:
//     exact.
//   - gevent: libev leaves a socket registered when a request starts on it,
//     so the epoll list alone is a lower bound; a connection also counts when
//     its TCP information (sock_diag, looked up for that one connection)
//     shows data received after the last data sent, or none sent yet.
//     uvicorn's asyncio loop keeps every socket registered: the TCP
//     information alone tells (and so nothing does for a unix-socket bind).
//     The kernel keeps those times in ticks (4 ms at HZ=250): a request that
//     arrives on a keep-alive connection in the tick of the previous response
//     is not seen, nor a response still being streamed.
//
// A class whose signal cannot be read (no fd access, a uvicorn worker on a
// unix socket) reports capacity and the worker count, and no busy.
// gthread and async workers also report gunicorn.worker.connections, the
// accepted connections each holds.
//
// # Request age
//
// Each worker keeps open an unlinked temporary file (wgunicorn-XXXX) that it
// touches whenever it is between requests (fchmod before Gunicorn 22.0,
// os.utime since). Both move the file's change time, so the time since the
// ctime of /proc/PID/fd/N is how long a busy sync worker has been on its
// current request. A gthread or async worker touches it from its main loop
// whatever its requests do; their request age is the time since the
// connection was first seen in flight. gunicorn.worker.request.age.max is the
// largest, 0 when none is busy. Gunicorn kills a sync worker at --timeout of
// it (other classes: when their main loop stalls that long):
// gunicorn.worker.timeout is that timeout, not reported with --timeout 0. An
// alert on request.age.max > 0.8 × timeout of sync workers warns before
// Gunicorn kills one.
//
// # Accept queue
//
// The listeners are the master's sockets in LISTEN state. For each,
// gunicorn.listen.backlog is the connections waiting to be accepted and
// gunicorn.listen.backlog.limit the most the kernel queues (min of
// --backlog and net.core.somaxconn), both from sock_diag over netlink when
// the master is in the watcher's network namespace (which also lists the
// listeners). Otherwise the listeners and a TCP queue come from
// /proc/PID/net/tcp{,6} and unix, read at each pass, and the limit from
// --backlog (default 2048) and sys/net/core/somaxconn; a unix queue is then
// not reported.
//
// # Restarts and slots
//
// gunicorn.worker.restarts counts workers that exited and were replaced: a
// worker that disappears and a new one that appears within 5 seconds of it
// make one restart (a killed or crashed worker, --max-requests, a HUP
// reload). Workers removed with TTOU or added with TTIN are not counted,
// unless one of each happens within those 5 seconds. Workers of a new master
// are not restarts.
//
// A worker's series (CPU, memory, uptime, connections) carry its slot,
// gunicorn.worker.slot: the lowest number no other live worker has, taken
// again by the worker that replaces it. A fleet recycling workers with
// --max-requests then makes no new series; a slot's CPU counter starts
// again at each new worker (a counter reset). WithPIDAttribute adds
// process.pid, for a new series per worker.
//
// # Permissions
//
// /proc/PID/stat is readable by anyone; /proc/PID/fd needs the same user as
// Gunicorn or CAP_SYS_PTRACE (in Kubernetes, a sidecar in a pod with
// shareProcessNamespace: true, as the same user). Without it the watcher logs
// once, counts each failure in gunicorn.watch.errors (error.type =
// fd_access), and keeps what it can: the worker count, CPU, memory, uptime,
// and the backlog of the listeners named by the master's --bind.
//
// # Instruments
//
// Made once by New, under the scope ScopeName (see WithMeterName); all
// asynchronous, reporting the last pass, so the series of a worker that
// exited vanish from the next collection. Every point carries the
// attributes of WithAttributes (and of WithPrefixAttribute); with
// WithPIDAttribute a worker's series carry process.pid too.
//
//	gunicorn.worker.count            Int64ObservableGauge    {worker}      gunicorn.worker.state (sync only)
//	gunicorn.worker.capacity         Int64ObservableGauge    {request}
//	gunicorn.worker.busy             Int64ObservableGauge    {request}
//	gunicorn.worker.queued           Int64ObservableGauge    {request}     (gthread only)
//	gunicorn.worker.busy_time        Float64ObservableCounter s
//	gunicorn.worker.request.age.max  Float64ObservableGauge   s
//	gunicorn.worker.connections      Int64ObservableGauge    {connection}  gunicorn.process.role, gunicorn.worker.slot (gthread/async)
//	gunicorn.worker.restarts         Int64ObservableCounter  {worker}
//	gunicorn.worker.timeout          Float64ObservableGauge   s
//	gunicorn.process.cpu.time        Float64ObservableCounter s            gunicorn.process.role, gunicorn.worker.slot (workers) or process.pid (master), cpu.mode
//	gunicorn.process.memory.usage    Int64ObservableGauge    By            gunicorn.process.role, gunicorn.worker.slot or process.pid
//	gunicorn.process.uptime          Float64ObservableGauge   s            gunicorn.process.role, gunicorn.worker.slot or process.pid
//	gunicorn.listen.backlog          Int64ObservableGauge    {connection}  network.transport, network.local.address, network.local.port (tcp)
//	gunicorn.listen.backlog.limit    Int64ObservableGauge    {connection}  same
//	gunicorn.up                      Int64ObservableGauge
//	gunicorn.watch.errors            Int64ObservableCounter  {error}       error.type
//
// # Cost
//
// A pass reads a stat of each process, the master's task list, each
// process's fd directory and links, and, when the master is in the
// watcher's network namespace, a sock_diag dump of the LISTEN sockets. The
// socket tables /proc/PID/net/tcp{,6} and unix, which the kernel makes by
// walking a hash table sized by the machine's memory (about 1.8 ms for tcp
// and tcp6 on a 23 GB VM, however few connections there are), are read only
// in a pass where a worker holds a socket not seen before, and only those of
// the listeners' families; without sock_diag (another namespace) the three
// are read at each pass. A worker that holds connections costs more: its
// epoll instances' fdinfo (gthread, eventlet, gevent) and, for gevent and
// uvicorn, one sock_diag lookup of each connection's TCP information. Each
// worker's /proc/PID/maps is read once, when its class must be told from
// what it shows. BENCHMARKS.md has the figures by class: watching 4 idle
// workers at the default rate costs 1.2 to 1.5% of a core on a 2-core VM
// whatever the class, about 2.1% with some 40 requests a second.
//
// # Options and logging
//
// New takes options in the OpenTelemetry SDK's style: each Option is made by
// a With... function, options apply in order (a later one wins), a nil
// Option is ignored, and an option given a value it does not take makes New
// fail with an error that names it (every such error, joined).
//
// The package logs with log/slog, to slog.Default() (as it is when New is
// called) unless WithLogger gives another logger: slog.New(slog.DiscardHandler)
// logs nothing, and WithLogger(nil) makes New fail. WithLogger says what is
// logged, at which level and how often.
package procwatch
