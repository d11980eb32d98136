package statsdtest

import "time"

// GunicornMix returns one datagram of each kind Gunicorn sends, as Gunicorn
// started as cfg says writes them: three requests (status 200 in 1.016036 s,
// whose duration Python writes with float noise as 1016.0360000000001; 404 in
// 0.493 ms; 500 in 12.73 ms; three datagrams each), the worker count (4) and a
// critical log line (a worker timeout). The project's benchmarks rotate over
// it, one datagram per op, so that their figures can be compared.
func GunicornMix(cfg Config) [][]byte {
	e := NewEmitter(cfg, nil)
	var d [][]byte
	d = e.AppendRequest(d, 200, time.Second+16036*time.Microsecond)
	d = e.AppendRequest(d, 404, 493*time.Microsecond)
	d = e.AppendRequest(d, 500, 12730*time.Microsecond)
	d = e.appendWorkers(d, 4)
	d = e.appendLog(d, LogCritical)
	return d
}
