package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/meshdock/meshdock"
)

// MaxBenchmarks is how many results the store keeps: storing one more
// drops the oldest. MaxProfiles is how many test profiles it keeps: one
// more is refused.
const (
	MaxBenchmarks = 500
	MaxProfiles   = 100
)

// CreateBenchmark stores a new load test and fills in its ID and
// timestamps.
func (db *DB) CreateBenchmark(ctx context.Context, b *meshdock.Benchmark) error {
	spec, err := json.Marshal(b.Spec)
	if err != nil {
		return fmt.Errorf("encode benchmark: %w", err)
	}
	b.ID = newID()
	ts := now()
	b.CreatedAt, b.UpdatedAt = parseTime(ts), parseTime(ts)
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO benchmarks (id, state, op_id, spec, target, mesh, mesh_version, message, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, b.ID, string(b.State), b.OperationID, string(spec), b.Target, b.Mesh, b.MeshVersion, b.Message, ts, ts); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM benchmarks WHERE id IN
			(SELECT id FROM benchmarks ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?)`, MaxBenchmarks)
		return err
	})
	if err != nil {
		return fmt.Errorf("store benchmark: %w", err)
	}
	return nil
}

// UpdateBenchmark writes a load test's state, operation, target, mesh,
// summary and message; result, when not nil, is its fortio JSON.
func (db *DB) UpdateBenchmark(ctx context.Context, b *meshdock.Benchmark, result []byte) error {
	summary, err := json.Marshal(b.Summary)
	if err != nil {
		return fmt.Errorf("encode benchmark %s: %w", quoteID(b.ID), err)
	}
	ts := now()
	q := `UPDATE benchmarks SET state = ?, op_id = ?, target = ?, mesh = ?, mesh_version = ?, summary = ?, message = ?, updated_at = ?`
	args := []any{string(b.State), b.OperationID, b.Target, b.Mesh, b.MeshVersion, string(summary), b.Message, ts}
	if result != nil {
		q += `, result = ?`
		args = append(args, result)
	}
	res, err := db.w.ExecContext(ctx, q+` WHERE id = ?`, append(args, b.ID)...)
	if err != nil {
		return fmt.Errorf("update benchmark %s: %w", quoteID(b.ID), err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return meshdock.Errorf(meshdock.ENOTFOUND, "no benchmark with id %s", quoteID(b.ID))
	}
	b.UpdatedAt = parseTime(ts)
	return nil
}

const benchmarkSelect = `SELECT id, state, op_id, spec, target, mesh, mesh_version, summary, message, created_at, updated_at FROM benchmarks`

func scanBenchmark(r rowScanner) (*meshdock.Benchmark, error) {
	var b meshdock.Benchmark
	var state, spec, summary, created, updated string
	if err := r.Scan(&b.ID, &state, &b.OperationID, &spec, &b.Target, &b.Mesh, &b.MeshVersion, &summary, &b.Message, &created, &updated); err != nil {
		return nil, err
	}
	b.State = meshdock.BenchmarkState(state)
	b.CreatedAt, b.UpdatedAt = parseTime(created), parseTime(updated)
	if err := errors.Join(json.Unmarshal([]byte(spec), &b.Spec), json.Unmarshal([]byte(summary), &b.Summary)); err != nil {
		return nil, fmt.Errorf("decode benchmark %s: %w", b.ID, err)
	}
	return &b, nil
}

// Benchmark returns the load test with the given ID.
func (db *DB) Benchmark(ctx context.Context, id string) (*meshdock.Benchmark, error) {
	b, err := scanBenchmark(db.r.QueryRowContext(ctx, benchmarkSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, meshdock.Errorf(meshdock.ENOTFOUND, "no benchmark with id %s", quoteID(id))
	}
	if err != nil {
		return nil, fmt.Errorf("read benchmark %s: %w", quoteID(id), err)
	}
	return b, nil
}

// BenchmarkResult returns a load test's result as fortio's JSON; a test
// without one yet is ENOTFOUND.
func (db *DB) BenchmarkResult(ctx context.Context, id string) ([]byte, error) {
	var res []byte
	err := db.r.QueryRowContext(ctx, `SELECT result FROM benchmarks WHERE id = ?`, id).Scan(&res)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, meshdock.Errorf(meshdock.ENOTFOUND, "no benchmark with id %s", quoteID(id))
	}
	if err != nil {
		return nil, fmt.Errorf("read benchmark %s: %w", quoteID(id), err)
	}
	if len(res) == 0 {
		return nil, meshdock.Errorf(meshdock.ENOTFOUND, "benchmark %s has no result yet", quoteID(id))
	}
	return res, nil
}

// Benchmarks lists load tests, newest first, at most limit of them.
func (db *DB) Benchmarks(ctx context.Context, limit int) ([]*meshdock.Benchmark, error) {
	if limit <= 0 || limit > MaxBenchmarks {
		limit = MaxBenchmarks
	}
	return list(ctx, db, "benchmarks", scanBenchmark, benchmarkSelect+` ORDER BY created_at DESC, id DESC LIMIT ?`, limit)
}

// DeleteBenchmark removes a load test and its result.
func (db *DB) DeleteBenchmark(ctx context.Context, id string) error {
	return db.deleteOne(ctx, `DELETE FROM benchmarks WHERE id = ?`, id, "benchmark", "no benchmark with id")
}

// SaveProfile stores a test profile under its name, replacing one of the
// same name.
func (db *DB) SaveProfile(ctx context.Context, p *meshdock.BenchProfile) error {
	spec, err := json.Marshal(p.Spec)
	if err != nil {
		return fmt.Errorf("encode profile: %w", err)
	}
	ts := now()
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(name = ?), 0) > 0 FROM bench_profiles`, p.Name).Scan(&n, &exists); err != nil {
			return err
		}
		if !exists && n >= MaxProfiles {
			return meshdock.Errorf(meshdock.ECONFLICT, "there are %d test profiles, the most kept: delete one first", n)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO bench_profiles (name, spec, created_at, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at`, p.Name, string(spec), ts, ts)
		return err
	})
	var me *meshdock.Error
	if errors.As(err, &me) {
		return err
	}
	if err != nil {
		return fmt.Errorf("store profile %s: %w", quoteID(p.Name), err)
	}
	got, err := db.Profile(ctx, p.Name)
	if err != nil {
		return err
	}
	*p = *got
	return nil
}

// Profile returns the test profile of a name.
func (db *DB) Profile(ctx context.Context, name string) (*meshdock.BenchProfile, error) {
	p, err := scanProfile(db.r.QueryRowContext(ctx, `SELECT name, spec, created_at, updated_at FROM bench_profiles WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, meshdock.Errorf(meshdock.ENOTFOUND, "no test profile named %s", quoteID(name))
	}
	if err != nil {
		return nil, fmt.Errorf("read profile %s: %w", quoteID(name), err)
	}
	return p, nil
}

func scanProfile(r rowScanner) (*meshdock.BenchProfile, error) {
	var p meshdock.BenchProfile
	var spec, created, updated string
	if err := r.Scan(&p.Name, &spec, &created, &updated); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = parseTime(created), parseTime(updated)
	if err := json.Unmarshal([]byte(spec), &p.Spec); err != nil {
		return nil, fmt.Errorf("decode profile %s: %w", p.Name, err)
	}
	return &p, nil
}

// Profiles lists the test profiles by name.
func (db *DB) Profiles(ctx context.Context) ([]*meshdock.BenchProfile, error) {
	return list(ctx, db, "profiles", scanProfile, `SELECT name, spec, created_at, updated_at FROM bench_profiles ORDER BY name`)
}

// DeleteProfile removes a test profile.
func (db *DB) DeleteProfile(ctx context.Context, name string) error {
	return db.deleteOne(ctx, `DELETE FROM bench_profiles WHERE name = ?`, name, "profile", "no test profile named")
}
