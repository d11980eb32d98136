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
// are the master's children (/proc/PID/task/*/children), except a child
// holding no heartbeat file (a new master during a USR2 upgrade) and
// Gunicorn 26's dirty arbiter when setproctitle names it.
//
// # What busy means
//
// A sync worker handles one request at a time and closes each connection,
// so it is busy exactly while it holds an accepted connection: a socket in
// its /proc/PID/fd, other than the listeners it inherits, that
// /proc/PID/net/tcp{,6} shows in a state other than LISTEN with the local
// address and port of one of the master's listeners (a listener on 0.0.0.0
// or :: matches any address), or that /proc/PID/net/unix shows as a
// connected stream socket with a listener's path. A worker's own connections
// (to a database, say) do not count. An accepted connection is in those
// tables from its birth, and its address never changes: the watcher looks a
// socket up once, when a worker first holds it, and the socket stays what
// it was found to be until the worker closes it (a connection in CLOSE_WAIT,
// whose client has gone, or one reset by its client, which the tables no
// longer show, is still on the worker's hands). Each pass adds busy workers
// × the time since the previous pass to gunicorn.worker.busy_time, so that
// rate(busy_time) / worker count is the utilization over any window.
//
// The worker class is read from the master's arguments (-k, --worker-class,
// --threads, also in GUNICORN_CMD_ARGS), or given with WithWorkerClass; with
// none, it is Gunicorn's default, sync. For sync workers, gunicorn.worker.count
// has one point per state (gunicorn.worker.state = busy, idle). For gthread
// and async workers (gevent, eventlet...), which keep idle keep-alive
// connections, busy has no such meaning: gunicorn.worker.count then has one
// point without the state attribute, gunicorn.worker.connections reports the
// accepted connections each worker holds, and busy_time and request.age.max
// are not reported. The same single point is reported when the fds cannot be
// read.
//
// # Request age
//
// Each worker keeps open an unlinked temporary file (wgunicorn-XXXX) that it
// touches whenever it is between requests (fchmod before Gunicorn 22.0,
// os.utime since). Both move the file's change time, so the time since the
// ctime of /proc/PID/fd/N is how long a busy worker has been on its current
// request. gunicorn.worker.request.age.max is the largest over busy workers,
// 0 when none is busy. Gunicorn kills a worker at --timeout of it:
// gunicorn.worker.timeout is that timeout, from the master's -t or --timeout
// (also in GUNICORN_CMD_ARGS), Gunicorn's default of 30 s when neither gives
// one (a timeout set in a configuration file is not seen), and not reported
// with --timeout 0, which turns the timeout off. An alert on
// request.age.max > 0.8 × timeout warns before Gunicorn kills a worker.
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
// # Restarts
//
// gunicorn.worker.restarts counts workers that exited and were replaced: a
// worker that disappears and a new one that appears within 5 seconds of it
// make one restart (a killed or crashed worker, --max-requests, a HUP
// reload). Workers removed with TTOU or added with TTIN are not counted,
// unless one of each happens within those 5 seconds. Workers of a new master
// are not restarts.
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
// attributes of WithAttributes.
//
//	gunicorn.worker.count            Int64ObservableGauge    {worker}      gunicorn.worker.state (sync only)
//	gunicorn.worker.busy_time        Float64ObservableCounter s
//	gunicorn.worker.request.age.max  Float64ObservableGauge   s
//	gunicorn.worker.connections      Int64ObservableGauge    {connection}  process.pid (gthread/async)
//	gunicorn.worker.restarts         Int64ObservableCounter  {worker}
//	gunicorn.worker.timeout          Float64ObservableGauge   s
//	gunicorn.process.cpu.time        Float64ObservableCounter s            gunicorn.process.role, process.pid, cpu.mode
//	gunicorn.process.memory.usage    Int64ObservableGauge    By            gunicorn.process.role, process.pid
//	gunicorn.process.uptime          Float64ObservableGauge   s            gunicorn.process.role, process.pid
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
// are read at each pass. Watching 4 idle workers at the default rate costs
// about 1.3% of a core on a 2-core VM (BENCHMARKS.md); one pass over a real
// Gunicorn with 4 idle workers (BenchmarkSampleGunicorn) takes about 0.8 ms
// and 124 allocations, and one over a recorded tree of a master with 32
// workers on a host with 10,000 unrelated sockets (BenchmarkSample, which
// reads the three tables) about 4 ms and 548 allocations.
package procwatch
