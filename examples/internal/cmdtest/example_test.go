package cmdtest_test

import (
	"fmt"

	"github.com/gunicornotel/gunicornotel/examples/internal/cmdtest"
)

// JSONLog checks that every line of a program's stderr is a record of
// --log.format=json.
func ExampleJSONLog() {
	recs, err := cmdtest.JSONLog([]string{
		`{"time":"2026-12-07T12:00:00Z","level":"WARN","msg":"otelbridge: a limit dropped data","limit":"series_limit"}`,
	})
	fmt.Println(recs[0]["limit"], err)
	_, err = cmdtest.JSONLog([]string{`time=2026-12-07T12:00:00Z level=WARN msg=plain`})
	fmt.Println(err != nil)
	// Output:
	// series_limit <nil>
	// true
}
