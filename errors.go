// Package meshdock holds the few types every part of meshdock shares: the
// domain error with its code. Adapters and the core return these errors so the
// HTTP layer and the CLI can tell the user what went wrong without leaking
// internal detail.
package meshdock

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"unicode/utf8"
)

// Error codes. The HTTP layer maps each one to a status code; the CLI maps
// them to exit codes.
const (
	EINVALID     = "invalid"     // the input is wrong; the message says where
	ENOTFOUND    = "not_found"   // the thing asked for does not exist
	ECONFLICT    = "conflict"    // the request clashes with the current state
	EUNAVAILABLE = "unavailable" // an outside world (engine, cluster) cannot be reached
	ETOOLARGE    = "too_large"   // the input is over a size limit
	EINTERNAL    = "internal"    // anything else: logged in full, shown as "internal error"
	EUNSUPPORTED = "unsupported" // a valid request meshdock cannot carry out
	EFORBIDDEN   = "forbidden"   // the request is refused on purpose (host, origin)
	ECANCELED    = "canceled"    // the caller gave up
)

// Error is a domain error: a code and a message that is safe to show a user.
type Error struct {
	Code    string
	Message string
	// Err is the cause, kept for logs and errors.Is; never shown to users.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the code and message that keeps err as its cause.
func Wrap(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain; for an
// unclassified error, ECANCELED when the cause is a cancelled context and
// EINTERNAL otherwise. A nil error has no code: "".
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	if errors.Is(err, context.Canceled) {
		return ECANCELED
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the message of its
// *Error, "canceled" for a cancelled context, or "internal error" for
// anything unclassified. A nil error has no message: "".
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL && e.Code != "" {
		if e.Message == "" && e.Code == ECANCELED {
			return "canceled"
		}
		return e.Error()
	}
	if ErrorCode(err) == ECANCELED {
		return "canceled"
	}
	return "internal error"
}

// Internal wraps a failure that is meshdock's own, such as a panic caught
// inside a library: the cause is kept for the log, the user sees "internal
// error".
func Internal(err error) *Error {
	return &Error{Code: EINTERNAL, Err: err}
}

// FromContext classifies an error met once ctx is done: the caller gave
// up (canceled) or ran out of time (unavailable), whatever the step that
// noticed made of it. Other errors pass unchanged.
func FromContext(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return Wrap(EUNAVAILABLE, err, "the conversion did not finish in time")
	}
	return Wrap(ECANCELED, err, "the conversion was canceled")
}

// FormatSize writes a number of bytes for a message: 512 bytes, 1.5 KiB,
// 16.0 MiB.
func FormatSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// Recovered turns a value recovered from a library's panic into an
// internal error, with the stack for the log: a panic on user input is a
// defect, never the user's mistake.
func Recovered(lib string, r any) error {
	return Internal(fmt.Errorf("panic in %s: %v\n%s", lib, r, debug.Stack()))
}

// QuoteName quotes a value a client sent for a message, cut to 60
// characters: an answer repeats what it must, not a whole request.
func QuoteName(s string) string { return Quote(s, 60) }

// QuotePath quotes a path a client sent, cut only where no path is that
// long (Linux's PATH_MAX).
func QuotePath(s string) string { return Quote(s, 4096) }

// Quote quotes s for a message, cut to n characters.
func Quote(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%.*q...", n, s)
}
