// Package reqbody guards and reads request bodies the same way for every
// API surface: a size limit, a deadline for the body to arrive, and the
// checks that it is JSON (Content-Type) in UTF-8. Surfaces turn its *Error
// into their own error format.
package reqbody

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is a body the gateway refuses: Status is 400, 408, 413 or 415.
type Error struct {
	Status int
	// Param names what is wrong for surfaces that report a field:
	// "Content-Type" for a 415, empty otherwise.
	Param string
	Msg   string
	// Limit is the byte limit a 413 refers to.
	Limit int64
}

func (e *Error) Error() string { return e.Msg }

// ErrTimeout is the read error of a body that did not arrive within the
// deadline Guard set.
var ErrTimeout = errors.New("the request body did not arrive in time")

// Guard bounds r's body before any handler reads it: over limit bytes is a
// *http.MaxBytesError (at once when Content-Length says so), and a body
// that has not fully arrived within timeout fails with ErrTimeout. Call it
// after authentication, so that an unauthenticated client is refused
// before the gateway waits for its body.
func Guard(w http.ResponseWriter, r *http.Request, limit int64, timeout time.Duration) {
	if r.ContentLength > limit {
		r.Body = tooLarge{limit}
		return
	}
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if timeout <= 0 {
		return
	}
	// The deadline is the connection's: it must be lifted once the body is
	// read, or the server's background read (which notices a client that
	// goes away) would fail at the deadline and cancel a long stream.
	b := &deadlineBody{ReadCloser: r.Body, rc: *http.NewResponseController(w)}
	if b.rc.SetReadDeadline(time.Now().Add(timeout)) != nil {
		return // not a net/http connection (tests calling the handler)
	}
	r.Body = b
}

// tooLarge is the body of a request whose declared length is over the limit.
type tooLarge struct{ limit int64 }

func (t tooLarge) Read([]byte) (int, error) { return 0, &http.MaxBytesError{Limit: t.limit} }
func (t tooLarge) Close() error             { return nil }

// deadlineBody lifts the connection's read deadline once the body has been
// read. A body is read by one goroutine, so lifted needs no lock.
type deadlineBody struct {
	io.ReadCloser
	rc     http.ResponseController
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n, fmt.Errorf("%w: %w", ErrTimeout, err)
		}
		if !b.lifted {
			b.lifted = true
			b.rc.SetReadDeadline(time.Time{})
		}
	}
	return n, err
}

// CheckContentType refuses a Content-Type that is neither absent nor JSON
// (application/json, or any type ending in +json such as Elasticsearch's
// application/vnd.elasticsearch+json), or that names a charset other than
// UTF-8.
func CheckContentType(r *http.Request) *Error {
	ct := r.Header.Get("Content-Type")
	if ct == "" || ct == "application/json" {
		return nil // the common cases, without parsing
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "utf8") {
			return nil
		}
	}
	return &Error{Status: http.StatusUnsupportedMediaType, Param: "Content-Type",
		Msg: fmt.Sprintf("Unsupported Content-Type %q: send the body as application/json (UTF-8).", truncate(ct, 100))}
}

// Read reads a JSON request body whole: its Content-Type must be JSON or
// absent, it must arrive in time and within the limit (see Guard), and be
// valid UTF-8. An empty body is returned as is (surfaces word that
// themselves).
func Read(r *http.Request) ([]byte, *Error) {
	if e := CheckContentType(r); e != nil {
		return nil, e
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		// Bodies are read as sent: a compressed one would be taken for
		// (bad) JSON.
		return nil, &Error{Status: http.StatusUnsupportedMediaType, Param: "Content-Encoding",
			Msg: fmt.Sprintf("Unsupported Content-Encoding %q: send the body uncompressed.", truncate(ce, 50))}
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Limit: mbe.Limit,
				Msg: fmt.Sprintf("The request body is larger than the gateway's limit of %d bytes.", mbe.Limit)}
		case errors.Is(err, ErrTimeout):
			return nil, &Error{Status: http.StatusRequestTimeout,
				Msg: "The request body did not arrive in time (server.body_read_timeout)."}
		}
		return nil, &Error{Status: http.StatusBadRequest, Msg: "The request body could not be read: " + err.Error()}
	}
	if !utf8.Valid(data) {
		return nil, &Error{Status: http.StatusBadRequest,
			Msg: fmt.Sprintf("The request body is not valid UTF-8 (invalid byte at offset %d); JSON must be UTF-8.", invalidAt(data))}
	}
	return data, nil
}

func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
