package engine

import (
	"slices"
	"strings"
	"testing"

	"github.com/meshdock/meshdock"
)

func TestReadBuildOutput(t *testing.T) {
	stream := `{"stream":"Step 1/2 : FROM scratch"}
{"stream":"\n"}
{"stream":" ---\u003e a\nStep 2/2 : COPY x /x\n"}
{"status":"Pulling fs layer","progressDetail":{},"id":"l1"}
{"status":"Downloading","progressDetail":{"current":1,"total":9},"progress":"[=\u003e   ]","id":"l1"}
{"status":"Downloading","progressDetail":{"current":5,"total":9},"progress":"[===\u003e ]","id":"l1"}
{"status":"Download complete","progressDetail":{},"id":"l1"}
{"aux":{"ID":"sha256:abc"}}
{"stream":"partial"}
`
	var lines []string
	if err := readBuildOutput(strings.NewReader(stream), "app-web", func(l string) { lines = append(lines, l) }); err != nil {
		t.Fatal(err)
	}
	want := []string{"Step 1/2 : FROM scratch", " ---> a", "Step 2/2 : COPY x /x", "l1: Pulling fs layer", "l1: Downloading", "l1: Download complete", "partial"}
	if !slices.Equal(lines, want) {
		t.Errorf("lines:\n got %q\nwant %q", lines, want)
	}

	stream = `{"stream":"Step 2/2 : COPY missing /x\n"}
{"errorDetail":{"message":"COPY failed: stat /var/lib/docker/tmp/docker-builder123456/missing: no such file or directory"},"error":"COPY failed: stat /var/lib/docker/tmp/docker-builder123456/missing: no such file or directory"}
`
	err := readBuildOutput(strings.NewReader(stream), "app-web", func(string) {})
	if meshdock.ErrorCode(err) != meshdock.EINVALID || err.Error() != "build of app-web failed: COPY failed: stat missing: no such file or directory" {
		t.Errorf("failed build: %v", err)
	}
	err = readBuildOutput(strings.NewReader(`{"stream":"x"`), "app-web", func(string) {})
	if err == nil || meshdock.ErrorCode(err) == meshdock.EINVALID {
		t.Errorf("broken stream: %v", err)
	}
}
