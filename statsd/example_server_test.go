package statsd_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gunicornotel/gunicornotel/statsd"
)

func ExampleServer() {
	var mu sync.Mutex
	var got []string
	srv := &statsd.Server{
		Handler: statsd.HandlerFunc(func(b *statsd.Batch) {
			mu.Lock()
			defer mu.Unlock()
			for _, s := range b.Samples {
				// Copy what is kept: s.Name points into the read buffer.
				got = append(got, fmt.Sprintf("%s %s %v", s.Name, s.Type, s.Value))
			}
			for _, e := range b.Errors {
				got = append(got, fmt.Sprintf("rejected %q: %s", e.Line, e.Reason))
			}
		}),
	}
	addr, err := srv.Start("127.0.0.1:0") // UDP, on a free port
	if err != nil {
		fmt.Println(err)
		return
	}

	// What Gunicorn sends with --statsd-host pointing at addr.
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.Write([]byte("gunicorn.request.duration:12.5|ms"))
	c.Write([]byte("gunicorn.requests:1|c|@1.0\ngunicorn.workers:two|g"))

	// Shutdown reads what is queued and waits for the Handler.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		fmt.Println(err)
	}
	for _, line := range got {
		fmt.Println(line)
	}
	st := srv.Stats()
	fmt.Println("datagrams:", st.Datagrams, "samples:", st.Samples, "bad_value:", st.Errors[statsd.ReasonBadValue])
	// Output:
	// gunicorn.request.duration timer 12.5
	// gunicorn.requests counter 1
	// rejected "gunicorn.workers:two|g": bad_value
	// datagrams: 2 samples: 2 bad_value: 1
}

func ExampleServer_ListenAndServe() {
	srv := &statsd.Server{
		Handler:  statsd.HandlerFunc(func(b *statsd.Batch) { /* record b.Samples */ }),
		Readers:  2,
		MaxConns: 64,
	}
	// Each address in its own goroutine; all share the Handler and Stats.
	// Gunicorn: --statsd-host localhost:8125 or --statsd-host unix:/run/gunicorn/statsd.sock
	for _, addr := range []string{"localhost:8125", "unix:/run/gunicorn/statsd.sock", "tcp://localhost:8125"} {
		go func() {
			if err := srv.ListenAndServe(addr); err != statsd.ErrServerClosed {
				fmt.Println(err)
			}
		}()
	}
	// ... until the program is asked to stop:
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		fmt.Println("shutdown:", err)
	}
}
