// Package otlptest holds an in-process OTLP metrics endpoint for tests: it
// takes export requests over OTLP/HTTP (protobuf, optionally gzip) and
// OTLP/gRPC, and keeps them, with whatever it found wrong in them.
package otlptest

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// Sink is an OTLP metrics endpoint that keeps the requests it receives. Serve
// it over HTTP (it is an http.Handler for POST /v1/metrics) or register it as
// a gRPC MetricsService. The zero value is ready to use.
type Sink struct {
	colmetricpb.UnimplementedMetricsServiceServer

	// WantEncoding is the Content-Encoding every HTTP request must carry:
	// "" (none) or "gzip".
	WantEncoding string

	mu   sync.Mutex
	reqs []*colmetricpb.ExportMetricsServiceRequest
	errs []error
}

// Received reports, as test errors, whatever was wrong with the requests so
// far, and returns a copy of those that were read.
func (s *Sink) Received(t testing.TB) []*colmetricpb.ExportMetricsServiceRequest {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, err := range s.errs {
		t.Errorf("OTLP endpoint: %v", err)
	}
	return slices.Clone(s.reqs)
}

func (s *Sink) add(req *colmetricpb.ExportMetricsServiceRequest, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs = append(s.errs, err)
		return
	}
	s.reqs = append(s.reqs, req)
}

// Export is the gRPC MetricsService method.
func (s *Sink) Export(_ context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	s.add(req, nil)
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

// ServeHTTP takes one OTLP/HTTP protobuf export request. A request that is
// not one (another path or method, content type or encoding) is kept as an
// error and answered 400.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := s.decode(r)
	s.add(req, err)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func (s *Sink) decode(r *http.Request) (*colmetricpb.ExportMetricsServiceRequest, error) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/metrics" {
		return nil, fmt.Errorf("%s %s, want POST /v1/metrics", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		return nil, fmt.Errorf("Content-Type %q, want application/x-protobuf", ct)
	}
	enc := r.Header.Get("Content-Encoding")
	if enc != s.WantEncoding {
		return nil, fmt.Errorf("Content-Encoding %q, want %q", enc, s.WantEncoding)
	}
	var body io.Reader = r.Body
	if enc == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		defer zr.Close()
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	req := new(colmetricpb.ExportMetricsServiceRequest)
	if err := proto.Unmarshal(data, req); err != nil {
		return nil, fmt.Errorf("decoding %d bytes: %w", len(data), err)
	}
	return req, nil
}
