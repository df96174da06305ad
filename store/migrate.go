package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// goMigrations are the steps of a schema version that SQL alone cannot
// take, run after that version's SQL in the same transaction.
var goMigrations = map[int]func(context.Context, *sql.Tx) error{
	2: splitAppJSON,
}

// splitAppJSON copies each app of version 1, whose source, options and
// result were JSON documents, into the rows and columns of version 2, then
// drops the JSON columns. The old documents are decoded with types of
// their own here, so the store depends on no other package's types.
func splitAppJSON(ctx context.Context, tx *sql.Tx) error {
	type v1Source struct {
		Name  string `json:"name"`
		Files []struct {
			Name    string `json:"name"`
			Content []byte `json:"content"`
		} `json:"files"`
		ComposeFiles []string          `json:"composeFiles"`
		EnvFiles     []string          `json:"envFiles"`
		Env          map[string]string `json:"env"`
		Profiles     []string          `json:"profiles"`
	}
	type v1Options struct {
		Namespace  string `json:"namespace"`
		BindMounts string `json:"bindMounts"`
	}
	type v1Result struct {
		Objects  json.RawMessage `json:"objects"`
		Warnings json.RawMessage `json:"warnings"`
		Graph    json.RawMessage `json:"graph"`
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, source, options, result FROM apps`)
	if err != nil {
		return err
	}
	type old struct{ id, src, opt, res string }
	var apps []old
	for rows.Next() {
		var o old
		if err := rows.Scan(&o.id, &o.src, &o.opt, &o.res); err != nil {
			rows.Close()
			return err
		}
		apps = append(apps, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, o := range apps {
		var src v1Source
		var opt v1Options
		var res v1Result
		if err := json.Unmarshal([]byte(o.src), &src); err != nil {
			return fmt.Errorf("app %s: source: %w", o.id, err)
		}
		_ = json.Unmarshal([]byte(o.opt), &opt)
		if err := json.Unmarshal([]byte(o.res), &res); err != nil {
			return fmt.Errorf("app %s: result: %w", o.id, err)
		}
		a := App{ComposeFiles: src.ComposeFiles, EnvFiles: src.EnvFiles, Env: src.Env, Profiles: src.Profiles}
		cols, err := a.appColumns()
		if err != nil {
			return err
		}
		raw := func(m json.RawMessage, empty string) string {
			if len(m) == 0 || string(m) == "null" {
				return empty
			}
			return string(m)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE apps SET project = ?, namespace = ?, bind_mounts = ?,
			compose_files = ?, env_files = ?, env = ?, profiles = ?, objects = ?, warning_list = ?, graph = ?
			WHERE id = ?`, src.Name, opt.Namespace, opt.BindMounts, cols[0], cols[1], cols[2], cols[3],
			raw(res.Objects, "[]"), raw(res.Warnings, "[]"), raw(res.Graph, `{"nodes":[],"edges":[]}`), o.id); err != nil {
			return fmt.Errorf("app %s: %w", o.id, err)
		}
		files := make([]File, len(src.Files))
		for i, f := range src.Files {
			files[i] = File{Name: f.Name, Content: f.Content}
		}
		if err := insertFiles(ctx, tx, o.id, files); err != nil {
			return err
		}
	}
	for _, col := range []string{"source", "options", "result"} {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE apps DROP COLUMN `+col); err != nil {
			return err
		}
	}
	return nil
}
