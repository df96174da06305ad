package store_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/store"
)

func open(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func sampleApp(name string) *store.App {
	return &store.App{
		Name:       name,
		Origin:     store.OriginFiles,
		Project:    name,
		Files:      []store.File{{Name: "compose.yaml", Content: []byte("services: {web: {image: nginx}}\n")}, {Name: ".env", Content: []byte("A=1\n")}},
		Env:        map[string]string{"A": "1"},
		BindMounts: "skip",
		Graph:      meshdock.Graph{Nodes: []meshdock.Node{{ID: "web", Image: "nginx", Replicas: 1}}},
		Warnings:   []meshdock.Warning{{Service: "web", Message: "w"}},
	}
}

func TestAppsRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meshdock.db")
	db := open(t, path)
	a := sampleApp("shop")
	if err := db.CreateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || a.CreatedAt.IsZero() {
		t.Fatalf("CreateApp did not fill ID and times: %+v", a)
	}
	got, err := db.App(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "shop" || len(got.Files) != 2 || string(got.Files[0].Content) != string(a.Files[0].Content) || got.Files[1].Name != ".env" ||
		got.Env["A"] != "1" || got.Graph.Nodes[0].ID != "web" || got.Warnings[0].Message != "w" || got.BindMounts != "skip" || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("round trip changed the app: %+v", got)
	}
	list, err := db.Apps(ctx)
	if err != nil || len(list) != 1 || list[0].Services != 1 || list[0].Warnings != 1 {
		t.Fatalf("Apps = %+v, %v", list, err)
	}
	if err := db.DeleteApp(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.App(ctx, a.ID); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Fatalf("App after delete: %v, want not_found", err)
	}
	if err := db.DeleteApp(ctx, a.ID); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Fatalf("second DeleteApp: %v, want not_found", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meshdock.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	a := sampleApp("one")
	if err := db.CreateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	op, err := db.CreateOperation(ctx, "deploy", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AppendEvent(ctx, op.ID, "progress", map[string]int{"done": 1}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = open(t, path) // migrations must be a no-op the second time
	if _, err := db.App(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	n, err := db.InterruptRunning(ctx, "the server restarted")
	if err != nil || n != 1 {
		t.Fatalf("InterruptRunning = %d, %v; want 1", n, err)
	}
	got, err := db.Operation(ctx, op.ID)
	if err != nil || got.State != store.Interrupted || got.Error != "the server restarted" {
		t.Fatalf("operation after restart: %+v, %v", got, err)
	}
	evs, err := db.Events(ctx, op.ID, 0, 100)
	if err != nil || len(evs) != 2 || evs[1].Type != store.EventEnd || evs[1].Seq != 2 {
		t.Fatalf("events = %+v, %v", evs, err)
	}
}

func TestOperationEvents(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "meshdock.db"))
	op, err := db.CreateOperation(ctx, "bench", "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := db.AppendEvent(ctx, op.ID, "progress", i); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	evs, err := db.Events(ctx, op.ID, 10, 1000)
	if err != nil || len(evs) != 40 {
		t.Fatalf("Events after 10: %d events, %v", len(evs), err)
	}
	for i, ev := range evs {
		if ev.Seq != int64(11+i) {
			t.Fatalf("event %d has seq %d: sequence must have no gaps", i, ev.Seq)
		}
	}
	if _, err := db.FinishOperation(ctx, op.ID, store.Succeeded, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AppendEvent(ctx, op.ID, "late", nil); meshdock.ErrorCode(err) != meshdock.ECONFLICT {
		t.Fatalf("AppendEvent after finish: %v, want conflict", err)
	}
	if _, err := db.FinishOperation(ctx, op.ID, store.Failed, "x"); meshdock.ErrorCode(err) != meshdock.ECONFLICT {
		t.Fatalf("second finish: %v, want conflict", err)
	}
	if _, err := db.FinishOperation(ctx, op.ID, store.Running, ""); meshdock.ErrorCode(err) != meshdock.EINVALID {
		t.Fatalf("finish as running: %v, want invalid", err)
	}
	if _, err := db.Operation(ctx, "nope"); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Fatalf("unknown operation: %v", err)
	}
	if _, err := db.AppendEvent(ctx, "nope", "x", nil); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Fatalf("event of unknown operation: %v", err)
	}
}

func TestDeletingAnAppKeepsItsOperations(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "meshdock.db"))
	a := sampleApp("x")
	if err := db.CreateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	op, err := db.CreateOperation(ctx, "deploy", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteApp(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	got, err := db.Operation(ctx, op.ID)
	if err != nil || got.AppID != "" {
		t.Fatalf("operation after its app was deleted: %+v, %v", got, err)
	}
	if _, err := db.CreateOperation(ctx, "deploy", "missing"); err == nil {
		t.Fatal("an operation for an app that does not exist was stored: foreign keys are off")
	}
}

// crashChildEnv makes the test binary act as a writer that prints the ID of
// every write it got acknowledged, until it is killed.
const crashChildEnv = "MESHDOCK_STORE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

func crashChild(path string) {
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	op, err := db.CreateOperation(ctx, "burst", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		a := sampleApp(fmt.Sprintf("app-%d", i))
		if err := db.CreateApp(ctx, a); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("app %s\n", a.ID) // os.Stdout is unbuffered: printed means acknowledged
		ev, err := db.AppendEvent(ctx, op.ID, "progress", i)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("event %s %d\n", op.ID, ev.Seq)
	}
}

// TestSIGKILLKeepsAcknowledgedWrites kills a writer in the middle of a burst
// and checks that the store opens cleanly with every write it acknowledged.
func TestSIGKILLKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: starts a child process")
	}
	path := filepath.Join(t.TempDir(), "meshdock.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var apps []string
	var opID string
	var lastSeq int64
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(20 * time.Second)
	for sc.Scan() && len(apps) < 300 && time.Now().Before(deadline) {
		f := strings.Fields(sc.Text())
		switch f[0] {
		case "app":
			apps = append(apps, f[1])
		case "event":
			opID = f[1]
			fmt.Sscan(f[2], &lastSeq)
		}
	}
	// The child is still writing: kill it mid-transaction.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if len(apps) < 50 {
		t.Fatalf("the child acknowledged only %d writes", len(apps))
	}

	ctx := context.Background()
	db := open(t, path)
	for _, id := range apps {
		if _, err := db.App(ctx, id); err != nil {
			t.Fatalf("acknowledged app %s is gone after SIGKILL: %v", id, err)
		}
	}
	evs, err := db.Events(ctx, opID, 0, 100000)
	if err != nil || int64(len(evs)) < lastSeq {
		t.Fatalf("after SIGKILL %d events remain, %d were acknowledged (%v)", len(evs), lastSeq, err)
	}
	if check, err := store.IntegrityCheck(path); err != nil || check != "ok" {
		t.Fatalf("integrity check after SIGKILL: %q, %v", check, err)
	}
	t.Logf("%d acknowledged apps and %d events survived SIGKILL", len(apps), lastSeq)
}

// TestFilesArePrivate checks that the store's files, which hold uploaded
// secrets and env values, are readable by their owner only, whatever the
// umask, and that its directory is when it is the store's own.
func TestFilesArePrivate(t *testing.T) {
	ctx := context.Background()
	mode := func(t *testing.T, path string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	check := func(t *testing.T, db *store.DB, path string, dirMode os.FileMode) {
		t.Helper()
		// A write, so that the -wal and -shm files exist.
		if err := db.CreateApp(ctx, sampleApp("private")); err != nil {
			t.Fatal(err)
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if m := mode(t, path+suffix); m != 0o600 {
				t.Errorf("%s has mode %v, want 0600", filepath.Base(path+suffix), m)
			}
		}
		if m := mode(t, filepath.Dir(path)); m != dirMode {
			t.Errorf("the data directory has mode %v, want %v", m, dirMode)
		}
	}

	t.Run("new directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a", "data", "meshdock.db")
		check(t, open(t, path), path, 0o700)
	})

	t.Run("existing directory of the store alone", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		path := filepath.Join(dir, "meshdock.db")
		// As an older meshdock left it: an open directory, readable files.
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateApp(ctx, sampleApp("old")); err != nil {
			t.Fatal(err)
		}
		wal, err := os.ReadFile(path + "-wal")
		if err != nil || len(wal) == 0 {
			t.Fatalf("no WAL to copy: %d bytes, %v", len(wal), err)
		}
		db.Close()
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		// A WAL file as a killed process leaves it: SQLite itself fixes
		// the mode of an empty one only.
		if err := os.WriteFile(path+"-wal", wal, 0o644); err != nil {
			t.Fatal(err)
		}
		check(t, open(t, path), path, 0o700)
	})

	t.Run("directory shared with other files", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "meshdock.db")
		check(t, open(t, path), path, 0o755)
	})
}

// A store of schema version 1, whose apps kept their source, options and
// result as JSON documents, opens as the current version with each app's
// files as rows and everything else in its columns.
func TestMigrateAppsFromJSON(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	initSQL, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	src := `{"name":"shop","files":[{"name":"compose.yaml","content":"c2VydmljZXM6IHt3ZWI6IHtpbWFnZTogbmdpbnh9fQo="},{"name":".env","content":"QT0xCg=="}],` +
		`"composeFiles":["compose.yaml"],"env":{"A":"1"},"profiles":["debug"]}`
	res := `{"project":"shop","objects":[{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"}}],` +
		`"warnings":[{"service":"web","key":"ports","message":"w"}],"graph":{"nodes":[{"id":"web","image":"nginx","replicas":1}],"edges":[]}}`
	for _, stmt := range []string{string(initSQL),
		`CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`,
		`INSERT INTO schema_version VALUES (1, '2026-11-01T00:00:00.000000000Z')`,
		`INSERT INTO apps (id, name, origin, source, options, result, services, warnings, created_at, updated_at) VALUES
		 ('a1', 'shop', 'files', '` + src + `', '{"namespace":"shop","bindMounts":"configmap"}', '` + res + `', 1, 1,
		  '2026-11-01T00:00:00.000000000Z', '2026-11-01T00:00:00.000000000Z')`,
	} {
		if _, err := raw.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%v\n%s", err, stmt)
		}
	}
	raw.Close()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := db.App(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Files) != 2 || a.Files[0].Name != "compose.yaml" || string(a.Files[0].Content) != "services: {web: {image: nginx}}\n" || string(a.Files[1].Content) != "A=1\n" {
		t.Errorf("files: %+v", a.Files)
	}
	if a.Project != "shop" || a.Namespace != "shop" || a.BindMounts != "configmap" || a.Env["A"] != "1" || a.Profiles[0] != "debug" || a.ComposeFiles[0] != "compose.yaml" {
		t.Errorf("columns: %+v", a)
	}
	if len(a.Objects) != 1 || a.Objects[0].GetKind() != "Service" || a.Warnings[0].Key != "ports" || a.Graph.Nodes[0].ID != "web" {
		t.Errorf("result: objects %v, warnings %v, graph %v", a.Objects, a.Warnings, a.Graph)
	}
	list, err := db.Apps(ctx)
	if err != nil || len(list) != 1 || list[0].Services != 1 {
		t.Errorf("listing: %v %v", list, err)
	}
}
