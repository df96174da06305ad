package store

import "context"

// IntegrityCheck runs SQLite's integrity check on the store at path.
func IntegrityCheck(path string) (string, error) {
	db, err := Open(context.Background(), path)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var result string
	err = db.r.QueryRow(`PRAGMA integrity_check`).Scan(&result)
	return result, err
}
