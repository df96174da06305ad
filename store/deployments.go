package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/meshdock/meshdock"
)

// deploymentColumns are the JSON-encoded columns of a deployment, in order.
func deploymentColumns(d *meshdock.Deployment) ([]any, error) {
	var out []any
	for _, v := range []any{d.Options, nonNil(d.Objects), nonNil(d.Workloads), nonNil(d.URLs)} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode deployment %s: %w", d.Namespace, err)
		}
		out = append(out, string(b))
	}
	b, err := json.Marshal(nonNil(d.Kept))
	if err != nil {
		return nil, err
	}
	return append(out, string(b)), nil
}

// CreateDeployment stores a new deployment of an app and fills in its ID
// and timestamps. There is one deployment per namespace of a cluster: a
// second is a conflict.
func (db *DB) CreateDeployment(ctx context.Context, d *meshdock.Deployment) error {
	cols, err := deploymentColumns(d)
	if err != nil {
		return err
	}
	d.ID = newID()
	ts := now()
	d.CreatedAt, d.UpdatedAt = parseTime(ts), parseTime(ts)
	args := append([]any{d.ID, d.AppID, d.Context, d.Namespace, string(d.State), d.LastOperation, d.Message, ts, ts}, cols...)
	_, err = db.w.ExecContext(ctx, `INSERT INTO deployments
		(id, app_id, context, namespace, state, last_op, message, created_at, updated_at, options, inventory, workloads, urls, kept)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return meshdock.Errorf(meshdock.ECONFLICT, "namespace %s of context %s already holds a deployment: deploy into another namespace, or delete that one first", quoteID(d.Namespace), quoteID(d.Context))
	}
	if err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
		return meshdock.Errorf(meshdock.ENOTFOUND, "no app with id %s", quoteID(d.AppID))
	}
	if err != nil {
		return fmt.Errorf("store deployment: %w", err)
	}
	return nil
}

// UpdateDeployment writes a deployment's state, objects, workloads, URLs,
// options, last operation and message.
func (db *DB) UpdateDeployment(ctx context.Context, d *meshdock.Deployment) error {
	cols, err := deploymentColumns(d)
	if err != nil {
		return err
	}
	ts := now()
	args := append([]any{string(d.State), d.LastOperation, d.Message, ts}, cols...)
	res, err := db.w.ExecContext(ctx, `UPDATE deployments SET state = ?, last_op = ?, message = ?, updated_at = ?,
		options = ?, inventory = ?, workloads = ?, urls = ?, kept = ? WHERE id = ?`, append(args, d.ID)...)
	if err != nil {
		return fmt.Errorf("update deployment %s: %w", quoteID(d.ID), err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return meshdock.Errorf(meshdock.ENOTFOUND, "no deployment with id %s", quoteID(d.ID))
	}
	d.UpdatedAt = parseTime(ts)
	return nil
}

const deploymentSelect = `SELECT id, app_id, context, namespace, state, last_op, message, created_at, updated_at,
	options, inventory, workloads, urls, kept FROM deployments`

type rowScanner interface{ Scan(...any) error }

func scanDeployment(r rowScanner) (*meshdock.Deployment, error) {
	var d meshdock.Deployment
	var state, created, updated, options, objects, workloads, urls, kept string
	if err := r.Scan(&d.ID, &d.AppID, &d.Context, &d.Namespace, &state, &d.LastOperation, &d.Message, &created, &updated,
		&options, &objects, &workloads, &urls, &kept); err != nil {
		return nil, err
	}
	d.State = meshdock.DeploymentState(state)
	d.CreatedAt, d.UpdatedAt = parseTime(created), parseTime(updated)
	if err := errors.Join(
		json.Unmarshal([]byte(options), &d.Options),
		json.Unmarshal([]byte(objects), &d.Objects),
		json.Unmarshal([]byte(workloads), &d.Workloads),
		json.Unmarshal([]byte(urls), &d.URLs),
		json.Unmarshal([]byte(kept), &d.Kept),
	); err != nil {
		return nil, fmt.Errorf("decode deployment %s: %w", d.ID, err)
	}
	return &d, nil
}

// Deployment returns the deployment with the given ID.
func (db *DB) Deployment(ctx context.Context, id string) (*meshdock.Deployment, error) {
	d, err := scanDeployment(db.r.QueryRowContext(ctx, deploymentSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, meshdock.Errorf(meshdock.ENOTFOUND, "no deployment with id %s", quoteID(id))
	}
	if err != nil {
		return nil, fmt.Errorf("read deployment %s: %w", quoteID(id), err)
	}
	return d, nil
}

// DeploymentAt returns the deployment in a namespace of a cluster context,
// or an ENOTFOUND error.
func (db *DB) DeploymentAt(ctx context.Context, kubeContext, namespace string) (*meshdock.Deployment, error) {
	d, err := scanDeployment(db.r.QueryRowContext(ctx, deploymentSelect+` WHERE context = ? AND namespace = ?`, kubeContext, namespace))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, meshdock.Errorf(meshdock.ENOTFOUND, "no deployment in namespace %s of context %s", quoteID(namespace), quoteID(kubeContext))
	}
	if err != nil {
		return nil, fmt.Errorf("read deployment: %w", err)
	}
	return d, nil
}

// Deployments lists the deployments of an app, oldest first.
func (db *DB) Deployments(ctx context.Context, appID string) ([]*meshdock.Deployment, error) {
	return list(ctx, db, "deployments", scanDeployment, deploymentSelect+` WHERE app_id = ? ORDER BY created_at, id`, appID)
}

// DeleteDeployment forgets a deployment (its objects are the cluster's
// business: delete them first).
func (db *DB) DeleteDeployment(ctx context.Context, id string) error {
	return db.deleteOne(ctx, `DELETE FROM deployments WHERE id = ?`, id, "deployment", "no deployment with id")
}
