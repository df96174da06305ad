package convert

import (
	"regexp"

	"github.com/meshdock/meshdock"
)

var restartValue = regexp.MustCompile(`^(no|always|unless-stopped|on-failure(:[0-9]+)?)$`)

// validate checks what compose-go accepts but docker compose refuses when
// it runs the app, so the user learns of it here, with the place.
func (p *Project) validate() error {
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Restart != "" && !restartValue.MatchString(s.Restart) {
			file, line := p.loc.serviceKey(name, "restart")
			return meshdock.Errorf(meshdock.EINVALID, "%s:%d: services.%s.restart: %q is not a restart policy (no, always, on-failure[:N], unless-stopped)", file, line, name, s.Restart)
		}
	}
	return nil
}
