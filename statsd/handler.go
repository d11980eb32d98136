package statsd

// A Batch holds what a Handler is given at once: the samples of one or more
// datagrams (or TCP lines) read together, the lines that were rejected, and
// the tags that were dropped.
//
// A Batch and everything it points to is valid only during the Handle call:
// the server reuses it, and its samples point into the read buffer and into
// the Batch's own scratch space, which Reset reuses.
type Batch struct {
	// Samples are the parsed samples, in the order they arrived.
	Samples []Sample
	// Errors are the rejected lines, each with its reason.
	Errors []ParseError
	// TagErrors are the tags the parser dropped from lines it kept: one
	// entry per dropped tag, with its reason (today always ReasonBadTag)
	// and the whole line it was in. A line with packed values counts its
	// dropped tags once, not once per sample. Count them by Reason, as
	// Errors; they are not rejected lines.
	TagErrors []ParseError
	// Forgiven are the lines a Parser of a lenient Dialect kept where
	// DialectDefault rejects them, each with the reason it would have been
	// rejected for (ReasonBadSampleRate, ReasonBadTimestamp): one entry per
	// reason and sample. Their samples are in Samples.
	Forgiven []ParseError
	// Datagrams counts the datagrams (for TCP: lines) parsed into this batch,
	// including ones that held only rejected or empty lines.
	Datagrams int
	// Lines counts the non-empty lines parsed into this batch, rejected
	// ones included (a line over the Parser's MaxLineLength too; not a
	// datagram or TCP line the Server refused as too long before parsing).
	// A line with packed values, or a multi-metric line, is one line.
	Lines int

	// scratch holds the names and tags Parse could not leave in the
	// datagram (see Sample). It only grows: samples parsed earlier keep
	// pointing at the old array when it is reallocated.
	scratch []byte
}

// Reset empties the batch for reuse, keeping its capacity. It does not zero
// the old entries: until they are overwritten they still point into the
// buffers they were parsed from, which a reused batch's reader reuses anyway.
func (b *Batch) Reset() {
	b.Samples = b.Samples[:0]
	b.Errors = b.Errors[:0]
	b.TagErrors = b.TagErrors[:0]
	b.Forgiven = b.Forgiven[:0]
	b.Datagrams = 0
	b.Lines = 0
	b.scratch = b.scratch[:0]
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
