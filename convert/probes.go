package convert

import (
	"fmt"
	"math"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"
)

// Docker's healthcheck defaults, used where the compose file sets none.
const (
	defaultInterval      = 30 * time.Second
	defaultTimeout       = 30 * time.Second
	defaultRetries       = 3
	defaultStartInterval = 5 * time.Second
)

// probesPass turns healthchecks into probes. kompose makes a liveness probe
// only, so a pod takes traffic before it is healthy, and it passes a
// `CMD-SHELL` line as one argv word, which no container can execute. Here
// `CMD-SHELL` runs through `sh -c`, `CMD` is executed as is, and each
// healthcheck is a readiness probe (what gates traffic and `depends_on:
// service_healthy`) and a liveness probe with Docker's timings, plus a
// startup probe covering `start_period`.
func probesPass(s *state) error {
	for _, name := range s.p.ServiceNames() {
		c := s.pods[name].container()
		if c == nil {
			continue
		}
		c.LivenessProbe, c.ReadinessProbe, c.StartupProbe = nil, nil, nil
		hc := s.service(name).HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 {
			continue
		}
		var cmd []string
		switch hc.Test[0] {
		case "NONE":
			continue
		case "CMD":
			cmd = hc.Test[1:]
		case "CMD-SHELL":
			if len(hc.Test) < 2 {
				s.warn(name, "healthcheck.test", "CMD-SHELL without a command; no probe is made")
				continue
			}
			cmd = []string{"sh", "-c", hc.Test[1]}
		default:
			cmd = hc.Test
		}
		if len(cmd) == 0 {
			s.warn(name, "healthcheck.test", "the healthcheck has no command; no probe is made")
			continue
		}
		interval := durationOr(hc.Interval, defaultInterval)
		timeout := durationOr(hc.Timeout, defaultTimeout)
		retries := int32(defaultRetries)
		if hc.Retries != nil {
			retries = int32(min(*hc.Retries, math.MaxInt32))
		}
		if retries < 1 {
			retries = 1
		}
		probe := func() *corev1.Probe {
			return &corev1.Probe{
				ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: append([]string(nil), cmd...)}},
				PeriodSeconds:    seconds(interval),
				TimeoutSeconds:   seconds(timeout),
				FailureThreshold: retries,
			}
		}
		c.ReadinessProbe = probe()
		c.LivenessProbe = probe()
		if hc.StartPeriod != nil && *hc.StartPeriod > 0 {
			// Compose ignores failures during start_period, then needs
			// `retries` failures `interval` apart: the startup probe allows
			// all of that before the liveness probe takes over.
			start := durationOr(hc.StartInterval, defaultStartInterval)
			sp := probe()
			sp.PeriodSeconds = seconds(start)
			window := time.Duration(*hc.StartPeriod) + time.Duration(retries)*interval
			sp.FailureThreshold = int32(math.Ceil(float64(window) / float64(time.Duration(sp.PeriodSeconds)*time.Second)))
			c.StartupProbe = sp
		}
		if interval%time.Second != 0 || (hc.StartInterval != nil && time.Duration(*hc.StartInterval)%time.Second != 0) {
			s.warn(name, "healthcheck.interval", fmt.Sprintf("probes run in whole seconds: interval %s is rounded up to %ds", interval, seconds(interval)))
		}
		if hc.Timeout != nil && timeout > interval {
			s.warn(name, "healthcheck.timeout", fmt.Sprintf("timeout %s is longer than the interval %s; Kubernetes runs probes at most once per period", timeout, interval))
		}
	}
	return nil
}

func durationOr(d *types.Duration, def time.Duration) time.Duration {
	if d == nil || *d <= 0 {
		return def
	}
	return time.Duration(*d)
}

// seconds rounds a duration up to whole seconds, at least one: probes count
// in seconds.
func seconds(d time.Duration) int32 {
	s := int32(math.Ceil(d.Seconds()))
	if s < 1 {
		return 1
	}
	return s
}
