package convert

import (
	"encoding/json"
	"testing"

	"github.com/meshdock/meshdock/compose"
)

// The images a deploy must build: the tag the pods name, the context
// relative to the project, the Dockerfile, args and target as written; what
// meshdock cannot build says why.
func TestBuilds(t *testing.T) {
	res := convertFiles(t, []compose.File{{Name: "compose.yaml", Content: []byte(`name: shop
services:
  api: {build: ./api}
  worker:
    build: {context: ./worker, dockerfile: Dockerfile.worker, args: {GO_VERSION: "1.23"}, target: runtime}
  web:
    build: .
    image: example.com/web:2
  remote: {build: "https://github.com/example/app.git#main"}
  inline:
    build: {context: ., dockerfile_inline: "FROM scratch"}
  up: {build: ../elsewhere}
  cache: {image: redis:7}
`)}})
	got, _ := json.Marshal(res.Builds)
	want := `[{"service":"api","image":"shop-api","context":"api","dockerfile":"Dockerfile"},` +
		`{"service":"inline","image":"shop-inline","context":".","why":"its Dockerfile is inline (dockerfile_inline)"},` +
		`{"service":"remote","image":"shop-remote","context":"","dockerfile":"Dockerfile","why":"its build context is remote"},` +
		`{"service":"up","image":"shop-up","context":"","dockerfile":"Dockerfile","why":"its build context is outside the project"},` +
		`{"service":"web","image":"example.com/web:2","context":".","dockerfile":"Dockerfile"},` +
		`{"service":"worker","image":"shop-worker","context":"worker","dockerfile":"Dockerfile.worker","args":{"GO_VERSION":"1.23"},"target":"runtime"}]`
	if string(got) != want {
		t.Errorf("builds:\n got %s\nwant %s", got, want)
	}
}
