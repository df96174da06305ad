package backend

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/store"
)

func (h *handlers) getOperation(c echo.Context) error {
	op, err := h.store.Operation(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, op)
}

// operationEvents streams an operation's events as server-sent events: each
// with its sequence number as id, so a client that reconnects with
// Last-Event-ID gets only what it missed. The stream ends after the end
// event; comments keep an idle stream open.
//
// Streams are capped (Limits.Streams, Limits.OpStreams), and each write has
// Limits.WriteTimeout to reach the client: a stream has no overall write
// timeout, since it may rightly last as long as its operation.
func (h *handlers) operationEvents(c echo.Context) error {
	ctx, id := c.Request().Context(), c.Param("id")
	after, err := lastEventID(c)
	if err != nil {
		return err
	}
	if _, err := h.store.Operation(ctx, id); err != nil {
		return err
	}
	w := c.Response()
	streamHeaders := func() {
		w.Header().Set(echo.HeaderContentType, "text/event-stream")
		w.Header().Set(echo.HeaderCacheControl, "no-cache")
		w.Header().Set("X-Accel-Buffering", "no")
	}
	if c.Request().Method == http.MethodHead {
		streamHeaders()
		return c.NoContent(http.StatusOK) // the headers of a stream, and no stream
	}
	if err := h.streams.open(id, h.limits); err != nil {
		return err
	}
	defer h.streams.close(id)
	streamHeaders()
	// Echo's Flush hides the error of a flush that timed out; the writer
	// under it reports it.
	rc := http.NewResponseController(w.Unwrap())
	// Whatever ends the stream, the server still writes the end of the
	// answer after this returns: that too must not wait for ever.
	defer rc.SetWriteDeadline(time.Now().Add(h.limits.WriteTimeout))
	write := func(format string, args ...any) error {
		if err := rc.SetWriteDeadline(time.Now().Add(h.limits.WriteTimeout)); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return err
		}
		return rc.Flush()
	}
	w.WriteHeader(http.StatusOK)
	err = write("retry: 2000\n\n")
	if err == nil {
		err = h.stream(ctx, id, after, func(ev *store.Event) error {
			if ev == nil {
				return write(": keep-alive\n\n")
			}
			return write("id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, ev.Data)
		})
	}
	if err != nil && ctx.Err() == nil {
		h.log.Warn("event stream ended early", "op", id, "err", err)
	}
	return nil // the answer has started; errors cannot be sent any more
}

// streams counts the open event streams, in all and per operation.
type streams struct {
	mu    sync.Mutex
	total int
	perOp map[string]int
}

// open takes a place for a stream of opID, or says the server is busy.
func (st *streams) open(opID string, lim Limits) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case st.total >= lim.Streams:
		return meshdock.Errorf(meshdock.EUNAVAILABLE, "busy: too many event streams are open (at most %d), try again later", lim.Streams)
	case st.perOp[opID] >= lim.OpStreams:
		return meshdock.Errorf(meshdock.EUNAVAILABLE, "busy: %d event streams already follow this operation (at most %d), close one and try again", st.perOp[opID], lim.OpStreams)
	}
	st.total++
	st.perOp[opID]++
	return nil
}

func (st *streams) close(opID string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.total--
	if st.perOp[opID]--; st.perOp[opID] == 0 {
		delete(st.perOp, opID)
	}
}

// stream calls send for each event after seq `after`, in order, until the
// end event, and with nil when there has been nothing to send for a
// heartbeat interval.
func (s *Server) stream(ctx context.Context, opID string, after int64, send func(*store.Event) error) error {
	heartbeat := time.NewTicker(s.heartbeat)
	defer heartbeat.Stop()
	for {
		changed := s.WatchOperation(opID)
		evs, err := s.store.Events(ctx, opID, after, 100)
		if err != nil {
			return err
		}
		for i := range evs {
			if err := send(&evs[i]); err != nil {
				return err
			}
			after = evs[i].Seq
			if evs[i].Type == store.EventEnd {
				s.ForgetOperation(opID)
				return nil
			}
		}
		if len(evs) == 100 {
			continue
		}
		if len(evs) == 0 {
			if past, err := s.pastTheEnd(ctx, opID, after); err != nil || past {
				return err
			}
		}
		select {
		case <-changed:
		case <-heartbeat.C:
			if err := send(nil); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return nil
		}
	}
}

// pastTheEnd tells, when no event follows seq after, whether none will: a
// client resuming past the end, or an operation that ended without a log
// (it cannot, but a reader must not wait for ever if it does). It forgets
// the operation's watch then.
func (s *Server) pastTheEnd(ctx context.Context, opID string, after int64) (bool, error) {
	op, err := s.store.Operation(ctx, opID)
	if err != nil {
		return false, err
	}
	if !op.State.Final() {
		return false, nil
	}
	if evs, err := s.store.Events(ctx, opID, after, 1); err == nil && len(evs) > 0 {
		return false, nil
	}
	s.ForgetOperation(opID)
	return true, nil
}

// lastEventID reads where a client resumes: the Last-Event-ID header (sent
// by EventSource on reconnect) or a lastEventId query parameter (for a
// first connection that resumes).
func lastEventID(c echo.Context) (int64, error) {
	hv := c.Request().Header.Values("Last-Event-ID")
	if len(hv) > 1 {
		return 0, meshdock.Errorf(meshdock.EINVALID, "Last-Event-ID is given %d times", len(hv))
	}
	qv, err := queryParam(c, "lastEventId")
	if err != nil {
		return 0, err
	}
	v := qv
	if len(hv) == 1 {
		v = hv[0]
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, meshdock.Errorf(meshdock.EINVALID, "Last-Event-ID %s is not an event id (a non-negative integer)", quoteName(v))
	}
	return n, nil
}
