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

// Reset empties the batch for reuse, keeping its capacity.
func (b *Batch) Reset() {
	clear(b.Samples) // drop references into old buffers
	b.Samples = b.Samples[:0]
	clear(b.Errors)
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
