package backend

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/store"
)

// maxLogWait bounds how long GET .../log waits for a new event.
const maxLogWait = 25 * time.Second

// operationLog answers an operation's events after ?lastEventId= as JSON,
// for clients that cannot read a stream (Docker Desktop's extension
// client): at most 500 at once, and, with ?wait=10s, after waiting at
// most that long for one when there is none yet. done says the end event
// is among them.
func (h *handlers) operationLog(c echo.Context) error {
	ctx, id := c.Request().Context(), c.Param("id")
	after, err := lastEventID(c)
	if err != nil {
		return err
	}
	var wait time.Duration
	if q, err := queryParam(c, "wait"); err != nil {
		return err
	} else if q != "" {
		if wait, err = time.ParseDuration(q); err != nil || wait < 0 || wait > maxLogWait {
			return meshdock.Errorf(meshdock.EINVALID, "wait must be a duration from 0s to %s", maxLogWait)
		}
	}
	if _, err := h.store.Operation(ctx, id); err != nil {
		return err
	}
	if c.Request().Method == http.MethodHead {
		wait = 0 // the headers of an answer, at once
	}
	// A waiting poll holds the server as a stream does: it takes a place
	// among the streams (Limits.Streams, Limits.OpStreams).
	if wait > 0 {
		if err := h.streams.open(id, h.limits); err != nil {
			return err
		}
		defer h.streams.close(id)
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		changed := h.WatchOperation(id)
		evs, err := h.store.Events(ctx, id, after, 500)
		if err != nil {
			return err
		}
		done := len(evs) > 0 && evs[len(evs)-1].Type == store.EventEnd
		if done {
			h.ForgetOperation(id)
		} else if len(evs) == 0 {
			if done, err = h.pastTheEnd(ctx, id, after); err != nil {
				return err
			}
		}
		if len(evs) > 0 || wait == 0 || done {
			return c.JSON(http.StatusOK, map[string]any{"events": nonNilEvents(evs), "done": done})
		}
		select {
		case <-changed:
		case <-deadline.C:
			wait = 0
		case <-ctx.Done():
			return nil // the client is gone
		case <-h.done:
			wait = 0
		}
	}
}

func nonNilEvents(evs []store.Event) []store.Event {
	if evs == nil {
		return []store.Event{}
	}
	return evs
}
