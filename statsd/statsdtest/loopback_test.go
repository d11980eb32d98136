package statsdtest_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gunicornotel/gunicornotel/statsd"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

func TestLoopback(t *testing.T) {
	for _, unixgram := range []bool{false, true} {
		t.Run(fmt.Sprint("unixgram=", unixgram), func(t *testing.T) {
			rec := &statsdtest.Recorder{}
			var opts []statsdtest.LoopbackOption
			if unixgram {
				opts = append(opts, statsdtest.LoopbackUnixgram())
			}
			opts = append(opts, statsdtest.LoopbackServer(func(s *statsd.Server) { s.Readers = 2 }))
			lb := statsdtest.NewLoopback(t, rec, opts...)
			if unixgram != strings.HasPrefix(lb.Addr, "unix:/") {
				t.Fatalf("Addr %q", lb.Addr)
			}
			// The Addr works with Dial, as with Gunicorn's --statsd-host.
			c, err := statsdtest.Dial(lb.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte("dialed:1|c"))

			e := statsdtest.NewEmitter(statsdtest.Config{Prefix: "shop.web"}, lb)
			const n = 1000
			for range n {
				if err := e.Workers(3); err != nil {
					t.Fatal(err)
				}
			}
			lb.Send("bad")
			lb.Flush()
			lb.Flush()
			if got := rec.Datagrams(); got != n+2 {
				t.Errorf("datagrams %d, want %d", got, n+2)
			}
			samples := rec.Samples()
			if len(samples) != n+1 || !slices.ContainsFunc(samples, func(s statsdtest.Sample) bool { return s.Name == "dialed" }) {
				t.Errorf("%d samples, want %d with dialed", len(samples), n+1)
			}
			if st := lb.Server.Stats(); st.Datagrams != n+2 || len(rec.Errors()) != 1 || rec.Errors()[0].Reason != statsd.ReasonMalformedLine {
				t.Errorf("stats %+v", st)
			}
			if unixgram {
				if _, err := os.Lstat(strings.TrimPrefix(lb.Addr, "unix:")); !os.IsNotExist(err) {
					t.Errorf("socket file left after Flush: %v", err)
				}
			}
		})
	}
}

// NewLoopback belongs in a test function: it needs the test's testing.TB
// (for its temporary directory, failures and cleanup), so this example is
// compiled but not run. TestLoopback runs the same steps.
func ExampleNewLoopback() {
	_ = func(t *testing.T) {
		rec := &statsdtest.Recorder{}
		lb := statsdtest.NewLoopback(t, rec) // t.Cleanup closes it

		lb.Send("gunicorn.requests:1|c|@1.0", "gunicorn.workers:2|g")
		lb.Flush() // everything sent is handled when Flush returns

		if got := len(rec.Samples()); got != 2 {
			t.Errorf("got %d samples, want 2", got)
		}
	}
}
