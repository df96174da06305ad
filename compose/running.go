package compose

import (
	"context"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
)

// Loader loads a source: Snapshot, or LoadOnly for Load.
type Loader func(context.Context, Source) (*Project, Source, error)

// LoadOnly is Load as a Loader: the source is returned as given.
func LoadOnly(ctx context.Context, src Source) (*Project, Source, error) {
	p, err := Load(ctx, src)
	return p, src, err
}

// LoadRunning loads the source of a project that runs, whose running
// services are named, with the profiles they were started under: compose
// does not record those, so the project is loaded with every profile and
// narrowed to the profiles of the running services. When it cannot be
// loaded with every profile (a service of a profile nobody started names a
// file that is not there, which docker compose allows), it is loaded with
// the default services and the profiles of the running ones alone; if
// that fails too, the first error stands. The source returned names the
// profiles it was narrowed to.
func LoadRunning(ctx context.Context, src Source, running []string, load Loader) (*Project, Source, error) {
	all := src
	all.Profiles = []string{"*"}
	p, out, err := load(ctx, all)
	if err == nil {
		profiles := profilesOf(p.Services, running)
		narrowed, err := p.WithProfiles(profiles)
		if err != nil {
			return nil, Source{}, err
		}
		out.Profiles = profiles
		return narrowed, out, nil
	}
	first := err
	defaults := src
	defaults.Profiles = nil
	p, out, err = load(ctx, defaults)
	if err != nil {
		return nil, Source{}, first
	}
	profiles := profilesOf(p.DisabledServices, running)
	if len(profiles) == 0 {
		out.Profiles = []string{}
		return p, out, nil
	}
	some := src
	some.Profiles = profiles
	if p, out, err = load(ctx, some); err != nil {
		return nil, Source{}, first
	}
	out.Profiles = profiles
	return p, out, nil
}

// profilesOf returns the profiles of the named services among these,
// sorted.
func profilesOf(services types.Services, names []string) []string {
	out := []string{}
	for _, n := range names {
		for _, prof := range services[n].Profiles {
			if !slices.Contains(out, prof) {
				out = append(out, prof)
			}
		}
	}
	slices.Sort(out)
	return out
}
