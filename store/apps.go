package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdock/meshdock"
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

// App is a compose app: its source as imported, how it was converted, and
// what came of it. Each file is a row; the rest are columns.
type App struct {
	ID     string
	Name   string
	Origin Origin

	// Project is the project name given at import (docker compose -p).
	Project      string
	Files        []File
	ComposeFiles []string
	EnvFiles     []string
	Env          map[string]string
	Profiles     []string

	// Namespace and BindMounts are the conversion's options.
	Namespace  string
	BindMounts string

	Objects  []*unstructured.Unstructured
	Warnings []meshdock.Warning
	Graph    meshdock.Graph
	Builds   []meshdock.Build

	CreatedAt time.Time
	UpdatedAt time.Time
}

// File is one file of an app's source: a name relative to the project
// directory, with forward slashes, and its content.
type File struct {
	Name    string
	Content []byte
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

// appColumns are the JSON-encoded columns of an app, in column order.
func (a *App) appColumns() ([]any, error) {
	var out []any
	for _, v := range []any{nonNil(a.ComposeFiles), nonNil(a.EnvFiles), nonNilMap(a.Env), nonNil(a.Profiles),
		nonNil(a.Objects), nonNil(a.Warnings), a.Graph, nonNil(a.Builds)} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode app %q: %w", a.Name, err)
		}
		out = append(out, string(b))
	}
	return out, nil
}

// CreateApp stores a new app and fills in its ID and timestamps.
func (db *DB) CreateApp(ctx context.Context, a *App) error {
	cols, err := a.appColumns()
	if err != nil {
		return err
	}
	a.ID = newID()
	ts := now()
	a.CreatedAt, a.UpdatedAt = parseTime(ts), parseTime(ts)
	return db.tx(ctx, func(tx *sql.Tx) error {
		args := append([]any{a.ID, a.Name, string(a.Origin), a.Project, a.Namespace, a.BindMounts,
			len(a.Graph.Nodes), len(a.Warnings), ts, ts}, cols...)
		if _, err := tx.ExecContext(ctx, `INSERT INTO apps
			(id, name, origin, project, namespace, bind_mounts, services, warnings, created_at, updated_at,
			 compose_files, env_files, env, profiles, objects, warning_list, graph, builds)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
			return fmt.Errorf("store app %q: %w", a.Name, err)
		}
		return insertFiles(ctx, tx, a.ID, a.Files)
	})
}

func insertFiles(ctx context.Context, tx *sql.Tx, id string, files []File) error {
	for i, f := range files {
		if _, err := tx.ExecContext(ctx, `INSERT INTO app_files (app_id, seq, name, content) VALUES (?, ?, ?, ?)`,
			id, i, f.Name, nonNil(f.Content)); err != nil {
			return fmt.Errorf("store file %q: %w", f.Name, err)
		}
	}
	return nil
}

// App returns the app with the given ID.
func (db *DB) App(ctx context.Context, id string) (*App, error) {
	var a App
	var origin, created, updated string
	var composeFiles, envFiles, env, profiles, objects, warnings, graph, builds string
	err := db.r.QueryRowContext(ctx, `SELECT id, name, origin, project, namespace, bind_mounts, created_at, updated_at,
		compose_files, env_files, env, profiles, objects, warning_list, graph, builds
		FROM apps WHERE id = ?`, id).Scan(&a.ID, &a.Name, &origin, &a.Project, &a.Namespace, &a.BindMounts, &created, &updated,
		&composeFiles, &envFiles, &env, &profiles, &objects, &warnings, &graph, &builds)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, meshdock.Errorf(meshdock.ENOTFOUND, "no app with id %s", quoteID(id))
	}
	if err != nil {
		return nil, fmt.Errorf("read app %s: %w", quoteID(id), err)
	}
	a.Origin = Origin(origin)
	a.CreatedAt, a.UpdatedAt = parseTime(created), parseTime(updated)
	if err := errors.Join(
		json.Unmarshal([]byte(composeFiles), &a.ComposeFiles),
		json.Unmarshal([]byte(envFiles), &a.EnvFiles),
		json.Unmarshal([]byte(env), &a.Env),
		json.Unmarshal([]byte(profiles), &a.Profiles),
		json.Unmarshal([]byte(objects), &a.Objects),
		json.Unmarshal([]byte(warnings), &a.Warnings),
		json.Unmarshal([]byte(graph), &a.Graph),
		json.Unmarshal([]byte(builds), &a.Builds),
	); err != nil {
		return nil, fmt.Errorf("decode app %s: %w", id, err)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT name, content FROM app_files WHERE app_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("read the files of app %s: %w", quoteID(id), err)
	}
	defer rows.Close()
	for rows.Next() {
		var f File
		if err := rows.Scan(&f.Name, &f.Content); err != nil {
			return nil, fmt.Errorf("read the files of app %s: %w", quoteID(id), err)
		}
		a.Files = append(a.Files, f)
	}
	return &a, rows.Err()
}

// Apps lists every app, oldest first.
func (db *DB) Apps(ctx context.Context) ([]AppSummary, error) {
	return list(ctx, db, "apps", func(r rowScanner) (AppSummary, error) {
		var a AppSummary
		var origin, created, updated string
		if err := r.Scan(&a.ID, &a.Name, &origin, &a.Services, &a.Warnings, &created, &updated); err != nil {
			return a, err
		}
		a.Origin = Origin(origin)
		a.CreatedAt, a.UpdatedAt = parseTime(created), parseTime(updated)
		return a, nil
	}, `SELECT id, name, origin, services, warnings, created_at, updated_at FROM apps ORDER BY created_at, id`)
}

// DeleteApp removes the app with the given ID, its files with it.
func (db *DB) DeleteApp(ctx context.Context, id string) error {
	return db.deleteOne(ctx, `DELETE FROM apps WHERE id = ?`, id, "app", "no app with id")
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
