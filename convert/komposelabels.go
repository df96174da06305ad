package convert

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
)

// komposeNumbers are the labels kompose reads as numbers, and their range:
// kompose would wrap a larger one into an int32 without a word.
var komposeNumbers = map[string][2]int64{
	"kompose.service.nodeport.port": {1, 65535},
	"kompose.cronjob.backoff_limit": {0, math.MaxInt32},
	"kompose.hpa.replicas.min":      {1, math.MaxInt32},
	"kompose.hpa.replicas.max":      {1, math.MaxInt32},
	"kompose.hpa.cpu":               {1, math.MaxInt32},
	"kompose.hpa.memory":            {1, math.MaxInt32},
}

// checkKomposeLabels refuses the kompose labels whose numbers are out of
// range, before kompose reads them.
func checkKomposeLabels(p *compose.Project) error {
	for _, name := range p.ServiceNames() {
		if err := checkServiceKomposeLabels(p, name); err != nil {
			return err
		}
	}
	return nil
}

func checkServiceKomposeLabels(p *compose.Project, name string) error {
	s := p.Services[name]
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		r, ok := komposeNumbers[k]
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(s.Labels[k]), 10, 64); err != nil || n < r[0] || n > r[1] {
			file, line := p.Locate(name, "labels")
			return meshdock.Errorf(meshdock.EINVALID, "%s:%d: services.%s.labels.%s: %q is not a whole number from %d to %d", file, line, name, k, s.Labels[k], r[0], r[1])
		}
	}
	return nil
}
