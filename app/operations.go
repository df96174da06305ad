package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/store"
)

// Work is the body of an operation. It reports progress through emit and
// returns when done; it must return soon after ctx is canceled.
type Work func(ctx context.Context, emit func(typ string, data any) error) error

// operations runs operations and tells event streams when a log grows.
type operations struct {
	store Store
	log   *slog.Logger

	ctx    context.Context // canceled by shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	changed map[string]chan struct{}      // closed when the op's log grows
	cancels map[string]context.CancelFunc // of the operations running
}

func newOperations(st Store, log *slog.Logger) *operations {
	ctx, cancel := context.WithCancel(context.Background())
	return &operations{store: st, log: log, ctx: ctx, cancel: cancel, changed: map[string]chan struct{}{},
		cancels: map[string]context.CancelFunc{}}
}

// StartOperation stores a new operation and runs work in the background.
// The operation outlives the request that started it; it ends as
// succeeded, failed, canceled or, when the server stops, interrupted.
func (s *Service) StartOperation(ctx context.Context, kind, appID string, work Work) (*store.Operation, error) {
	o := s.ops
	if o.ctx.Err() != nil {
		return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "the server is stopping")
	}
	op, err := o.store.CreateOperation(ctx, kind, appID)
	if err != nil {
		return nil, err
	}
	octx, cancel := context.WithCancel(o.ctx)
	o.mu.Lock()
	o.cancels[op.ID] = cancel
	o.mu.Unlock()
	o.wg.Add(1)
	go o.run(octx, op, work)
	return op, nil
}

// CancelOperation asks a running operation to stop; it ends as canceled
// once its work has returned.
func (s *Service) CancelOperation(ctx context.Context, id string) error {
	o := s.ops
	o.mu.Lock()
	cancel, ok := o.cancels[id]
	o.mu.Unlock()
	if ok {
		cancel()
		return nil
	}
	op, err := o.store.Operation(ctx, id)
	if err != nil {
		return err
	}
	if op.State.Final() {
		return meshdock.Errorf(meshdock.ECONFLICT, "operation %s has ended already (%s)", id, op.State)
	}
	return meshdock.Errorf(meshdock.ECONFLICT, "operation %s is not run by this server", id)
}

func (o *operations) run(ctx context.Context, op *store.Operation, work Work) {
	defer o.wg.Done()
	defer func() {
		o.mu.Lock()
		if cancel := o.cancels[op.ID]; cancel != nil {
			cancel()
		}
		delete(o.cancels, op.ID)
		o.mu.Unlock()
	}()
	emit := func(typ string, data any) error {
		if typ == store.EventEnd {
			return meshdock.Errorf(meshdock.EINVALID, "event type %q is reserved", typ)
		}
		_, err := o.store.AppendEvent(context.WithoutCancel(o.ctx), op.ID, typ, data)
		o.notify(op.ID)
		return err
	}
	err := o.safely(ctx, op, work, emit)
	state, msg := store.Succeeded, ""
	switch {
	case o.ctx.Err() != nil:
		state, msg = store.Interrupted, "the server stopped while it ran"
	case errors.Is(err, context.Canceled) || meshdock.ErrorCode(err) == meshdock.ECANCELED:
		state, msg = store.Canceled, "canceled"
	case err != nil:
		state, msg = store.Failed, meshdock.ErrorMessage(err)
		if meshdock.ErrorCode(err) == meshdock.EINTERNAL {
			o.log.Error("operation failed", "op", op.ID, "kind", op.Kind, "err", err)
		}
	}
	if _, err := o.store.FinishOperation(context.Background(), op.ID, state, msg); err != nil &&
		meshdock.ErrorCode(err) != meshdock.ECONFLICT { // shutdown may have marked it already
		o.log.Error("cannot record the end of an operation", "op", op.ID, "err", err)
	}
	o.notify(op.ID)
	o.mu.Lock()
	delete(o.changed, op.ID)
	o.mu.Unlock()
}

// safely runs work, turning a panic into an error so that the operation
// still ends.
func (o *operations) safely(ctx context.Context, op *store.Operation, work Work, emit func(string, any) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			o.log.Error("operation panicked", "op", op.ID, "kind", op.Kind, "panic", r)
			err = meshdock.Errorf(meshdock.EINTERNAL, "internal error")
		}
	}()
	return work(ctx, emit)
}

// WatchOperation returns a channel that is closed when opID's log next
// grows or the operation ends. Take it before reading the log, so nothing
// is missed.
func (s *Service) WatchOperation(opID string) <-chan struct{} { return s.ops.watch(opID) }

// ForgetOperation drops what WatchOperation keeps for a finished operation.
func (s *Service) ForgetOperation(opID string) { s.ops.forget(opID) }

// watch returns a channel that is closed when opID's log next grows or the
// operation ends. Take it before reading the log, so nothing is missed.
func (o *operations) watch(opID string) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	ch, ok := o.changed[opID]
	if !ok {
		ch = make(chan struct{})
		o.changed[opID] = ch
	}
	return ch
}

func (o *operations) notify(opID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ch, ok := o.changed[opID]; ok {
		close(ch)
		delete(o.changed, opID)
	}
}

// shutdown cancels every operation and waits for them to record their end;
// those that do not return in time are marked interrupted all the same.
func (o *operations) shutdown(ctx context.Context) error {
	o.cancel()
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	_, err := o.store.InterruptRunning(context.WithoutCancel(ctx), "the server stopped while it ran")
	return err
}

// forget drops the watch channel of a finished operation.
func (o *operations) forget(opID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.changed, opID)
}
