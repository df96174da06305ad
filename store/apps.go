package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
)

// Origin says where an app's source came from.
type Origin string

// Origins of an app's source.
const (
	OriginFiles   Origin = "files"   // uploaded or pasted files
	OriginDir     Origin = "dir"     // a directory on the server's disk
	OriginProject Origin = "project" // a compose project's files, found through the engine
	OriginRebuilt Origin = "rebuilt" // a compose model rebuilt from running containers
)

// App is a compose app with its source and the result of converting it.
type App struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Origin    Origin          `json:"origin"`
	Source    compose.Source  `json:"source"`
	Options   convert.Options `json:"options"`
	Result    convert.Result  `json:"result"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// AppSummary is what a listing shows of an app.
type AppSummary struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Origin    Origin    `json:"origin"`
	Services  int       `json:"services"`
	Warnings  int       `json:"warnings"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// CreateApp stores a new app and fills in its ID and timestamps.
func (db *DB) CreateApp(ctx context.Context, a *App) error {
	src, err := json.Marshal(a.Source)
	if err != nil {
		return fmt.Errorf("encode source: %w", err)
	}
	opt, err := json.Marshal(a.Options)
	if err != nil {
		return fmt.Errorf("encode options: %w", err)
	}
	res, err := json.Marshal(a.Result)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	a.ID = newID()
	ts := now()
	a.CreatedAt, a.UpdatedAt = parseTime(ts), parseTime(ts)
	_, err = db.w.ExecContext(ctx, `INSERT INTO apps
		(id, name, origin, source, options, result, services, warnings, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Name, string(a.Origin), src, opt, res,
		len(a.Result.Graph.Nodes), len(a.Result.Warnings), ts, ts)
	if err != nil {
		return fmt.Errorf("store app %q: %w", a.Name, err)
	}
	return nil
}

// App returns the app with the given ID.
func (db *DB) App(ctx context.Context, id string) (*App, error) {
	var a App
	var origin, src, opt, res, created, updated string
	err := db.r.QueryRowContext(ctx, `SELECT id, name, origin, source, options, result, created_at, updated_at
		FROM apps WHERE id = ?`, id).Scan(&a.ID, &a.Name, &origin, &src, &opt, &res, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, meshdock.Errorf(meshdock.ENOTFOUND, "no app with id %s", quoteID(id))
	}
	if err != nil {
		return nil, fmt.Errorf("read app %s: %w", quoteID(id), err)
	}
	a.Origin = Origin(origin)
	a.CreatedAt, a.UpdatedAt = parseTime(created), parseTime(updated)
	if err := errors.Join(
		json.Unmarshal([]byte(src), &a.Source),
		json.Unmarshal([]byte(opt), &a.Options),
		json.Unmarshal([]byte(res), &a.Result),
	); err != nil {
		return nil, fmt.Errorf("decode app %s: %w", id, err)
	}
	return &a, nil
}

// Apps lists every app, oldest first.
func (db *DB) Apps(ctx context.Context) ([]AppSummary, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, name, origin, services, warnings, created_at, updated_at
		FROM apps ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	defer rows.Close()
	apps := []AppSummary{}
	for rows.Next() {
		var a AppSummary
		var origin, created, updated string
		if err := rows.Scan(&a.ID, &a.Name, &origin, &a.Services, &a.Warnings, &created, &updated); err != nil {
			return nil, fmt.Errorf("list apps: %w", err)
		}
		a.Origin = Origin(origin)
		a.CreatedAt, a.UpdatedAt = parseTime(created), parseTime(updated)
		apps = append(apps, a)
	}
	return apps, rows.Err()
}

// DeleteApp removes the app with the given ID.
func (db *DB) DeleteApp(ctx context.Context, id string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM apps WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete app %s: %w", quoteID(id), err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return meshdock.Errorf(meshdock.ENOTFOUND, "no app with id %s", quoteID(id))
	}
	return nil
}
