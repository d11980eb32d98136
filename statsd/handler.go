package statsd

// A Batch holds what a Handler is given at once: the samples of one or more
// datagrams (or TCP lines) read together, and the lines that were rejected.
//
// A Batch and everything it points to is valid only during the Handle call:
// the server reuses it, and its samples point into the read buffer.
type Batch struct {
	// Samples are the parsed samples, in the order they arrived.
	Samples []Sample
	// Errors are the rejected lines, each with its reason.
	Errors []ParseError
	// Datagrams counts the datagrams (for TCP: lines) parsed into this batch,
	// including ones that held only rejected or empty lines.
	Datagrams int
}

// Reset empties the batch for reuse, keeping its capacity. It does not zero
// the old entries: until they are overwritten they still point into the
// buffers they were parsed from, which a reused batch's reader reuses anyway.
func (b *Batch) Reset() {
	b.Samples = b.Samples[:0]
	b.Errors = b.Errors[:0]
	b.Datagrams = 0
}

// A Handler receives batches of samples from a Server.
//
// Handle is called from the server's reader goroutines, several at once when
// the server has several readers or listeners: it must be safe for concurrent
// use. It must not keep the Batch, nor any slice inside it, after it returns.
type Handler interface {
	Handle(b *Batch)
}

// HandlerFunc adapts an ordinary function to a Handler.
type HandlerFunc func(b *Batch)

// Handle calls f(b).
func (f HandlerFunc) Handle(b *Batch) { f(b) }
