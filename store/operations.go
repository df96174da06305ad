package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/meshdock/meshdock"
)

// State is where an operation stands.
type State string

// Operation states. Every state but Running is final.
const (
	Running     State = "running"
	Succeeded   State = "succeeded"
	Failed      State = "failed"
	Canceled    State = "canceled"
	Interrupted State = "interrupted" // the server stopped while it ran
)

// Final reports whether no more events can follow.
func (s State) Final() bool { return s != Running }

// EventEnd is the type of the last event of every operation; its data is
// {"state": ..., "error": ...}.
const EventEnd = "end"

// Operation is long work (a deploy, a mesh install, a benchmark) with an
// ordered log of events.
type Operation struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	AppID     string    `json:"appId,omitempty"`
	State     State     `json:"state"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Event is one entry of an operation's log. Seq starts at 1 and has no gaps.
type Event struct {
	OpID string          `json:"opId"`
	Seq  int64           `json:"seq"`
	Time time.Time       `json:"time"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// CreateOperation stores a new running operation. appID may be empty.
func (db *DB) CreateOperation(ctx context.Context, kind, appID string) (*Operation, error) {
	ts := now()
	op := &Operation{ID: newID(), Kind: kind, AppID: appID, State: Running,
		CreatedAt: parseTime(ts), UpdatedAt: parseTime(ts)}
	_, err := db.w.ExecContext(ctx, `INSERT INTO operations (id, kind, app_id, state, created_at, updated_at)
		VALUES (?, ?, NULLIF(?, ''), ?, ?, ?)`, op.ID, kind, appID, string(Running), ts, ts)
	if err != nil {
		return nil, fmt.Errorf("store operation: %w", err)
	}
	return op, nil
}

// Operation returns the operation with the given ID.
func (db *DB) Operation(ctx context.Context, id string) (*Operation, error) {
	return scanOperation(db.r.QueryRowContext(ctx, `SELECT id, kind, COALESCE(app_id, ''), state, error, created_at, updated_at
		FROM operations WHERE id = ?`, id), id)
}

func scanOperation(row *sql.Row, id string) (*Operation, error) {
	var op Operation
	var state, created, updated string
	err := row.Scan(&op.ID, &op.Kind, &op.AppID, &state, &op.Error, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, meshdock.Errorf(meshdock.ENOTFOUND, "no operation with id %s", quoteID(id))
	}
	if err != nil {
		return nil, fmt.Errorf("read operation %s: %w", quoteID(id), err)
	}
	op.State = State(state)
	op.CreatedAt, op.UpdatedAt = parseTime(created), parseTime(updated)
	return &op, nil
}

// AppendEvent adds an event to a running operation's log. data is encoded
// as JSON. It fails with ECONFLICT once the operation has finished.
func (db *DB) AppendEvent(ctx context.Context, opID, typ string, data any) (Event, error) {
	var ev Event
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		ev, err = appendEvent(ctx, tx, opID, typ, data)
		return err
	})
	return ev, err
}

// FinishOperation sets a running operation's final state and appends the
// EventEnd event, in one transaction. It fails with ECONFLICT when the
// operation had already finished.
func (db *DB) FinishOperation(ctx context.Context, opID string, state State, errMsg string) (Event, error) {
	if !state.Final() {
		return Event{}, meshdock.Errorf(meshdock.EINVALID, "%q is not a final state", state)
	}
	var ev Event
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		ev, err = finish(ctx, tx, opID, state, errMsg)
		return err
	})
	return ev, err
}

// InterruptRunning marks every operation still running as interrupted. The
// server calls it on start: whatever was running belonged to a process that
// is gone.
func (db *DB) InterruptRunning(ctx context.Context, reason string) (int, error) {
	n := 0
	err := db.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM operations WHERE state = ?`, string(Running))
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		for _, id := range ids {
			if _, err := finish(ctx, tx, id, Interrupted, reason); err != nil {
				return err
			}
		}
		n = len(ids)
		if err := rows.Err(); err != nil {
			return err
		}
		// A load test of an interrupted operation ends with it.
		_, err = tx.ExecContext(ctx, `UPDATE benchmarks SET state = ?, message = ?, updated_at = ? WHERE state = ?`,
			string(meshdock.BenchFailed), reason, now(), string(meshdock.BenchRunning))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("interrupt running operations: %w", err)
	}
	return n, nil
}

// Events returns up to limit events of an operation with a sequence number
// above after, in order.
func (db *DB) Events(ctx context.Context, opID string, after int64, limit int) ([]Event, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT seq, time, type, data FROM operation_events
		WHERE op_id = ? AND seq > ? ORDER BY seq LIMIT ?`, opID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read events of %s: %w", quoteID(opID), err)
	}
	defer rows.Close()
	evs := []Event{}
	for rows.Next() {
		ev := Event{OpID: opID}
		var ts, data string
		if err := rows.Scan(&ev.Seq, &ts, &ev.Type, &data); err != nil {
			return nil, fmt.Errorf("read events of %s: %w", quoteID(opID), err)
		}
		ev.Time, ev.Data = parseTime(ts), json.RawMessage(data)
		evs = append(evs, ev)
	}
	return evs, rows.Err()
}

func finish(ctx context.Context, tx *sql.Tx, opID string, state State, errMsg string) (Event, error) {
	ev, err := appendEvent(ctx, tx, opID, EventEnd, map[string]string{"state": string(state), "error": errMsg})
	if err != nil {
		return Event{}, err
	}
	_, err = tx.ExecContext(ctx, `UPDATE operations SET state = ?, error = ?, updated_at = ? WHERE id = ?`,
		string(state), errMsg, ev.Time.Format(timeFormat), opID)
	return ev, err
}

func appendEvent(ctx context.Context, tx *sql.Tx, opID, typ string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s event: %w", typ, err)
	}
	var state string
	err = tx.QueryRowContext(ctx, `SELECT state FROM operations WHERE id = ?`, opID).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, meshdock.Errorf(meshdock.ENOTFOUND, "no operation with id %s", quoteID(opID))
	}
	if err != nil {
		return Event{}, err
	}
	if State(state).Final() {
		return Event{}, meshdock.Errorf(meshdock.ECONFLICT, "operation %s has already finished (%s)", opID, state)
	}
	ts := now()
	ev := Event{OpID: opID, Time: parseTime(ts), Type: typ, Data: raw}
	err = tx.QueryRowContext(ctx, `INSERT INTO operation_events (op_id, seq, time, type, data)
		SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ? FROM operation_events WHERE op_id = ?
		RETURNING seq`, opID, ts, typ, string(raw), opID).Scan(&ev.Seq)
	if err != nil {
		return Event{}, fmt.Errorf("append %s event to %s: %w", typ, opID, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE operations SET updated_at = ? WHERE id = ?`, ts, opID); err != nil {
		return Event{}, err
	}
	return ev, nil
}
