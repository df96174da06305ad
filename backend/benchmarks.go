package backend

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"

	"github.com/labstack/echo/v4"
	"sigs.k8s.io/yaml"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/store"
)

// benchRequest starts a test: a spec, or a saved profile's name.
type benchRequest struct {
	meshdock.BenchmarkSpec
	Profile string `json:"profile,omitempty"`
}

// compareRequest compares two stored tests (a, b), or runs one test on
// the same Service in two namespaces (spec, namespaces).
type compareRequest struct {
	A          string                  `json:"a,omitempty"`
	B          string                  `json:"b,omitempty"`
	Spec       *meshdock.BenchmarkSpec `json:"spec,omitempty"`
	Namespaces []string                `json:"namespaces,omitempty"`
}

var (
	specFields  = jsonFields(reflect.TypeFor[meshdock.BenchmarkSpec]())
	specKeys    = &keyRule{fields: specFields, about: "the fields are", sub: map[string]*keyRule{"labels": {}}}
	benchKeys   = &keyRule{fields: append([]string{"profile"}, specFields...), about: "the fields are", sub: map[string]*keyRule{"labels": {}}}
	profileKeys = &keyRule{fields: []string{"spec"}, about: "the fields are", sub: map[string]*keyRule{"spec": specKeys}}
	compareKeys = &keyRule{fields: jsonFields(reflect.TypeFor[compareRequest]()), about: "the fields are", sub: map[string]*keyRule{"spec": specKeys}}
)

// benchPolicy: the API loads addresses of this machine only, and the
// cluster's Services.
func (h *handlers) benchPolicy() app.BenchPolicy {
	return app.BenchPolicy{Image: h.loadgenImage}
}

// benchAllowed: a test that reads the cluster needs the listener to use
// it; what the spec says on its own is checked first.
func (h *handlers) benchAllowed(spec meshdock.BenchmarkSpec) error {
	if err := app.CheckSpec(spec, h.benchPolicy()); err != nil {
		return err
	}
	if spec.Service != "" || spec.InCluster {
		return h.clustersAllowed()
	}
	return nil
}

// createBenchmark starts a load test -> 202 {benchmark, operation}.
func (h *handlers) createBenchmark(c echo.Context) error {
	var req benchRequest
	if err := decodeJSON(c.Request().Body, &req, benchKeys); err != nil {
		return err
	}
	ctx := c.Request().Context()
	spec := req.BenchmarkSpec
	if req.Profile != "" {
		if !reflect.DeepEqual(spec, meshdock.BenchmarkSpec{}) {
			return meshdock.Errorf(meshdock.EINVALID, "give a profile or a test, not both")
		}
		p, err := h.Profile(ctx, req.Profile)
		if err != nil {
			return err
		}
		spec = p.Spec
	}
	if err := h.benchAllowed(spec); err != nil {
		return err
	}
	b, op, err := h.StartBenchmark(ctx, spec, h.benchPolicy())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", apiPrefix+"/benchmarks/"+b.ID)
	return c.JSON(http.StatusAccepted, map[string]any{"benchmark": b, "operation": op})
}

func (h *handlers) listBenchmarks(c echo.Context) error {
	limit := 0
	if q, err := queryParam(c, "limit"); err != nil {
		return err
	} else if q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > store.MaxBenchmarks {
			return meshdock.Errorf(meshdock.EINVALID, "limit must be a number from 1 to %d", store.MaxBenchmarks)
		}
		limit = n
	}
	list, err := h.Benchmarks(c.Request().Context(), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"benchmarks": list})
}

func (h *handlers) getBenchmark(c echo.Context) error {
	b, err := h.Benchmark(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, b)
}

func (h *handlers) deleteBenchmark(c echo.Context) error {
	if err := h.DeleteBenchmark(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// benchmarkSMP answers a result as SMP: ?format=json (default) or yaml.
func (h *handlers) benchmarkSMP(c echo.Context) error {
	format, err := choiceParam(c, "format", "json", "yaml")
	if err != nil {
		return err
	}
	r, err := h.BenchmarkResult(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	smp := app.SMP(r)
	if format == "yaml" {
		data, err := yaml.Marshal(smp)
		if err != nil {
			return meshdock.Wrap(meshdock.EINTERNAL, err, "encode SMP: %v", err)
		}
		c.Response().Header().Set("Content-Disposition", `attachment; filename="smp-`+r.Benchmark.ID+`.yaml"`)
		return c.Blob(http.StatusOK, "application/yaml", data)
	}
	return c.JSON(http.StatusOK, smp)
}

// benchmarkFortio answers fortio's own JSON, as fortio's report UI loads it.
func (h *handlers) benchmarkFortio(c echo.Context) error {
	r, err := h.BenchmarkResult(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(r.Fortio, "", "  ")
	if err != nil {
		return meshdock.Wrap(meshdock.EINTERNAL, err, "encode fortio's result: %v", err)
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="fortio-`+r.Benchmark.ID+`.json"`)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, data)
}

// compareBenchmarks compares two stored tests -> 200 comparison, or runs
// one test in two namespaces -> 202 {benchmarks, operation} whose last
// event before the end is the comparison.
func (h *handlers) compareBenchmarks(c echo.Context) error {
	var req compareRequest
	if err := decodeJSON(c.Request().Body, &req, compareKeys); err != nil {
		return err
	}
	ctx := c.Request().Context()
	switch {
	case req.Spec != nil && (req.A != "" || req.B != ""):
		return meshdock.Errorf(meshdock.EINVALID, "compare two stored tests (a, b) or run one in two namespaces (spec, namespaces), not both")
	case req.Spec != nil:
		if err := h.benchAllowed(*req.Spec); err != nil {
			return err
		}
		bs, op, err := h.StartComparison(ctx, *req.Spec, req.Namespaces, h.benchPolicy())
		if err != nil {
			return err
		}
		c.Response().Header().Set("Location", apiPrefix+"/operations/"+op.ID)
		return c.JSON(http.StatusAccepted, map[string]any{"benchmarks": bs, "operation": op})
	case req.A == "" || req.B == "":
		return meshdock.Errorf(meshdock.EINVALID, "name the two tests to compare: a (the baseline) and b")
	case len(req.Namespaces) > 0:
		return meshdock.Errorf(meshdock.EINVALID, "namespaces go with spec (a test to run in each)")
	}
	cmp, err := h.CompareBenchmarks(ctx, req.A, req.B, h.allowClusters)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cmp)
}

func (h *handlers) listProfiles(c echo.Context) error {
	list, err := h.Profiles(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"profiles": list})
}

func (h *handlers) getProfile(c echo.Context) error {
	p, err := h.Profile(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// putProfile saves {"spec": ...} under the path's name.
func (h *handlers) putProfile(c echo.Context) error {
	var req struct {
		Spec *meshdock.BenchmarkSpec `json:"spec"`
	}
	if err := decodeJSON(c.Request().Body, &req, profileKeys); err != nil {
		return err
	}
	if req.Spec == nil {
		return meshdock.Errorf(meshdock.EINVALID, "spec: give the test to save")
	}
	p := &meshdock.BenchProfile{Name: c.Param("name"), Spec: *req.Spec}
	if err := h.SaveProfile(c.Request().Context(), p); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (h *handlers) deleteProfile(c echo.Context) error {
	if err := h.DeleteProfile(c.Request().Context(), c.Param("name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
