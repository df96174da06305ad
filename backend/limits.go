package backend

import (
	"time"

	"github.com/meshdock/meshdock/compose"
)

// Limits bound what clients can make the server do: how much one import
// may send, how much work runs at once, and how long a client may take to
// send a request or to read an answer. A zero field takes its default.
type Limits struct {
	// What one import may send. These narrow the loader's own limits
	// (compose.MaxSourceSize, MaxFileSize, MaxFiles, MaxComposeFiles),
	// which bound any load and which a larger value here cannot raise.
	Body     int64 // the whole request body of an import (5 MiB)
	FileSize int   // one file (1 MiB)
	Files    int   // number of files (200)
	Listed   int   // names in composeFiles, in envFiles and in profiles, each (20)
	Env      int   // variables in env (1000)

	// Imports is how many imports may run at once (4); one more is refused
	// as busy rather than queued, so a burst cannot pile up work.
	Imports int
	// ImportTimeout bounds one import, from reading its source to storing
	// it (30 s), and RequestTimeout the work of any other request but an
	// event stream (30 s). Neither ends when the client half-closes its
	// connection: a request sent in full is carried out.
	ImportTimeout, RequestTimeout time.Duration

	// Streams is how many event streams may be open at once (64), and
	// OpStreams how many of them may follow one operation (16).
	Streams, OpStreams int

	// HeaderBytes bounds a request's line and headers (64 KiB).
	HeaderBytes int

	// HeaderTimeout bounds sending a request's headers (10 s), BodyTimeout
	// its body after them (30 s), and IdleTimeout how long a kept-alive
	// connection waits for the next request (120 s). They apply to the
	// servers Serve runs.
	HeaderTimeout, BodyTimeout, IdleTimeout time.Duration
	// WriteTimeout bounds writing an answer once it has begun, and each
	// event of a stream (10 s): a client that stops reading is let go.
	WriteTimeout time.Duration
}

func (l Limits) orDefaults() Limits {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defTime := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if l.Body == 0 {
		l.Body = 5 << 20
	}
	def(&l.FileSize, 1<<20)
	def(&l.Files, 200)
	def(&l.Listed, 20)
	l.FileSize = min(l.FileSize, compose.MaxFileSize, compose.MaxComposeFileSize)
	l.Files = min(l.Files, compose.MaxFiles)
	l.Listed = min(l.Listed, compose.MaxComposeFiles)
	def(&l.Env, 1000)
	def(&l.Imports, 4)
	defTime(&l.ImportTimeout, 30*time.Second)
	defTime(&l.RequestTimeout, 30*time.Second)
	def(&l.Streams, 64)
	def(&l.OpStreams, 16)
	def(&l.HeaderBytes, 64<<10)
	defTime(&l.HeaderTimeout, 10*time.Second)
	defTime(&l.IdleTimeout, 120*time.Second)
	defTime(&l.BodyTimeout, 30*time.Second)
	defTime(&l.WriteTimeout, 10*time.Second)
	return l
}
