package compose

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/meshdock/meshdock"
)

var restartValue = regexp.MustCompile(`^(no|always|unless-stopped|on-failure(:[0-9]+)?)$`)

// validate checks what compose-go accepts but docker compose refuses when
// it runs the app, and numbers Kubernetes cannot hold, so the user learns
// of it here, with the place, rather than from a value that wrapped round.
func (p *Project) validate() error {
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Restart != "" && !restartValue.MatchString(s.Restart) {
			file, line := p.loc.serviceKey(name, "restart")
			return meshdock.Errorf(meshdock.EINVALID, "%s:%d: %s.%s.restart: %q is not a restart policy (no, always, on-failure[:N], unless-stopped)", file, line, p.loc.sectionOf(name), name, s.Restart)
		}
		if err := p.checkRanges(name, s); err != nil {
			return err
		}
		if err := p.checkReservation(name, s); err != nil {
			return err
		}
	}
	return nil
}

// numeric is one number of a service and the range Kubernetes takes.
type numeric struct {
	key   string
	value float64
	min   float64
	max   float64
	unit  string // how to show the range
}

const maxSeconds = math.MaxInt32 // probe and grace periods are int32 seconds

// checkRanges refuses numbers out of the range of the field they become:
// replicas and probe timings are int32, ports 16-bit, sizes and CPU counts
// must be non-negative and finite.
func (p *Project) checkRanges(name string, s types.ServiceConfig) error {
	var nums []numeric
	add := func(key string, v float64, lo, hi float64, unit string) {
		nums = append(nums, numeric{key: key, value: v, min: lo, max: hi, unit: unit})
	}
	intp := func(key string, v *int) {
		if v != nil {
			add(key, float64(*v), 0, math.MaxInt32, "")
		}
	}
	uintp := func(key string, v *uint64) {
		if v != nil {
			add(key, float64(*v), 0, math.MaxInt32, "")
		}
	}
	dur := func(key string, d *types.Duration) {
		if d != nil {
			add(key, time.Duration(*d).Seconds(), 0, maxSeconds, "s")
		}
	}
	bytes := func(key string, b types.UnitBytes, lo float64) {
		if b != 0 {
			add(key, float64(b), lo, 1<<62, "bytes")
		}
	}
	cpus := func(key string, c float32) {
		if c != 0 {
			add(key, float64(c), 0, 1<<20, "")
		}
	}
	intp("scale", s.Scale)
	if d := s.Deploy; d != nil {
		intp("deploy.replicas", d.Replicas)
		bytes("deploy.resources.limits.memory", limitsOf(d.Resources.Limits).MemoryBytes, 0)
		bytes("deploy.resources.reservations.memory", limitsOf(d.Resources.Reservations).MemoryBytes, 0)
		cpus("deploy.resources.limits.cpus", float32(limitsOf(d.Resources.Limits).NanoCPUs))
		cpus("deploy.resources.reservations.cpus", float32(limitsOf(d.Resources.Reservations).NanoCPUs))
		if rp := d.RestartPolicy; rp != nil {
			uintp("deploy.restart_policy.max_attempts", rp.MaxAttempts)
		}
	}
	if hc := s.HealthCheck; hc != nil {
		dur("healthcheck.interval", hc.Interval)
		dur("healthcheck.timeout", hc.Timeout)
		dur("healthcheck.start_period", hc.StartPeriod)
		dur("healthcheck.start_interval", hc.StartInterval)
		uintp("healthcheck.retries", hc.Retries)
	}
	dur("stop_grace_period", s.StopGracePeriod)
	bytes("mem_limit", s.MemLimit, 0)
	bytes("mem_reservation", s.MemReservation, 0)
	bytes("memswap_limit", s.MemSwapLimit, -1)
	bytes("shm_size", s.ShmSize, 0)
	cpus("cpus", s.CPUS)
	if n, ok := OnFailureRetries(s.Restart); ok {
		add("restart", n, 0, math.MaxInt32, "")
	}
	for i, port := range s.Ports {
		add(fmt.Sprintf("ports.%d", i), float64(port.Target), 0, 65535, "")
		if port.Published != "" {
			if n, err := strconv.ParseFloat(port.Published, 64); err == nil {
				add(fmt.Sprintf("ports.%d", i), n, 0, 65535, "")
			}
		}
	}
	for i, ref := range s.Secrets {
		if ref.Mode != nil {
			add(fmt.Sprintf("secrets.%d.mode", i), float64(*ref.Mode), 0, 0o777, "(0777)")
		}
	}
	for i, ref := range s.Configs {
		if ref.Mode != nil {
			add(fmt.Sprintf("configs.%d.mode", i), float64(*ref.Mode), 0, 0o777, "(0777)")
		}
	}
	for i, v := range s.Volumes {
		if v.Tmpfs != nil {
			bytes(fmt.Sprintf("volumes.%d.tmpfs.size", i), v.Tmpfs.Size, 0)
		}
	}
	for _, n := range nums {
		if n.value >= n.min && n.value <= n.max && !math.IsNaN(n.value) {
			continue
		}
		file, line := p.loc.serviceKey(name, SplitKey(n.key)...)
		value := p.loc.written(append([]string{p.loc.sectionOf(name), name}, SplitKey(n.key)...)...)
		if value == "" {
			value = shown(n.value)
		}
		return meshdock.Errorf(meshdock.EINVALID, "%s:%d: %s.%s.%s: %s is out of range: use a value from %s to %s%s",
			file, line, p.loc.sectionOf(name), name, n.key, value, shown(n.min), shown(n.max), unitSuffix(n.unit))
	}
	return nil
}

// checkReservation refuses a memory reservation over the memory limit:
// Docker refuses to create such a container, and the API server the pod.
func (p *Project) checkReservation(name string, s types.ServiceConfig) error {
	limit, limitKey := s.MemLimit, "mem_limit"
	reserve, reserveKey := s.MemReservation, "mem_reservation"
	if d := s.Deploy; d != nil {
		if m := limitsOf(d.Resources.Limits).MemoryBytes; m > 0 {
			limit, limitKey = m, "deploy.resources.limits.memory"
		}
		if m := limitsOf(d.Resources.Reservations).MemoryBytes; m > 0 {
			reserve, reserveKey = m, "deploy.resources.reservations.memory"
		}
	}
	if limit <= 0 || reserve <= limit {
		return nil
	}
	file, line := p.loc.serviceKey(name, SplitKey(reserveKey)...)
	return meshdock.Errorf(meshdock.EINVALID, "%s:%d: %s.%s.%s: %s is more than the memory limit %s (%s): Docker refuses such a container, and Kubernetes such a pod",
		file, line, p.loc.sectionOf(name), name, reserveKey, meshdock.FormatSize(int(reserve)), meshdock.FormatSize(int(limit)), limitKey)
}

func limitsOf(r *types.Resource) types.Resource {
	if r == nil {
		return types.Resource{}
	}
	return *r
}

// OnFailureRetries returns N of `restart: on-failure:N`.
func OnFailureRetries(restart string) (float64, bool) {
	n, ok := strings.CutPrefix(restart, "on-failure:")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(n, 64)
	return v, err == nil
}

func shown(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e21 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func unitSuffix(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}
