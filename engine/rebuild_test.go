package engine_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/engine"
)

// inspected builds what the engine reports for a container compose created.
func inspected(project, service, id string, num int, cfg container.Config, hc container.HostConfig) container.InspectResponse {
	cfg.Labels = mergeLabels(cfg.Labels, map[string]string{
		"com.docker.compose.project":          project,
		"com.docker.compose.service":          service,
		"com.docker.compose.container-number": itoa(num),
		"com.docker.compose.oneoff":           "False",
	})
	if cfg.Hostname == "" {
		cfg.Hostname = id[:12]
	}
	return container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: id, Name: "/" + project + "-" + service + "-" + itoa(num),
			Image: "sha256:" + service, HostConfig: &hc},
		Config: &cfg,
		NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
			project + "_default": {Aliases: []string{project + "-" + service + "-" + itoa(num), service}},
		}},
	}
}

func mergeLabels(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestRebuildProject(t *testing.T) {
	const id1 = "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111"
	const id2 = "bbbbbbbbbbbb2222222222222222222222222222222222222222222222222222"
	const id3 = "cccccccccccc3333333333333333333333333333333333333333333333333333"
	webImage := &image.InspectResponse{Config: &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{
		Env: []string{"PATH=/usr/bin", "NGINX_VERSION=1.27"}, Cmd: []string{"nginx", "-g", "daemon off;"},
		Labels: map[string]string{"maintainer": "nginx"}, ExposedPorts: map[string]struct{}{"80/tcp": {}},
	}}}
	dbImage := &image.InspectResponse{Config: &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{
		Env: []string{"PATH=/usr/bin"}, Cmd: []string{"postgres"}, Volumes: map[string]struct{}{"/var/lib/postgresql/data": {}},
	}}}
	web := container.Config{Image: "nginx:1.27", Env: []string{"PATH=/usr/bin", "NGINX_VERSION=1.27", "API=http://api:8000", "PRICE=$5"},
		Cmd: []string{"nginx", "-g", "daemon off;"}, ExposedPorts: nat.PortSet{"80/tcp": {}},
		Labels: map[string]string{"maintainer": "nginx", "tier": "front", "com.docker.compose.depends_on": "db:service_healthy:false"}}
	webHost := container.HostConfig{PortBindings: nat.PortMap{"80/tcp": {{HostIP: "0.0.0.0", HostPort: "8080"}, {HostIP: "::", HostPort: "8080"}}},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}}
	db := container.Config{Image: "postgres:16", Env: []string{"PATH=/usr/bin", "POSTGRES_PASSWORD=secret"}, Cmd: []string{"postgres"},
		Healthcheck: &container.HealthConfig{Test: []string{"CMD-SHELL", "pg_isready -U $POSTGRES_USER"}, Interval: 5 * time.Second, Retries: 5}}
	dbc := inspected("shop", "db", id3, 1, db, container.HostConfig{})
	dbc.Mounts = []container.MountPoint{
		{Type: mount.TypeVolume, Name: "shop_pgdata", Destination: "/var/lib/postgresql/data", RW: true},
		{Type: mount.TypeBind, Source: "/home/u/shop/secret.txt", Destination: "/run/secrets/db_password"},
	}
	cs := []container.InspectResponse{
		inspected("shop", "web", id1, 1, web, webHost),
		inspected("shop", "web", id2, 2, web, webHost),
		dbc,
	}
	p, warnings := engine.RebuildProject("shop", cs, map[string]*image.InspectResponse{"sha256:web": webImage, "sha256:db": dbImage})
	y, err := p.MarshalYAML()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rebuilt:\n%s", y)
	for _, want := range []string{"image: nginx:1.27", "API: http://api:8000", "PRICE: $$5", "tier: front", "restart: unless-stopped",
		"published: \"8080\"", "condition: service_healthy", "scale: 2", "pgdata:", "/run/secrets/db_password"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("rebuilt file lacks %q", want)
		}
	}
	for _, unwanted := range []string{"NGINX_VERSION", "maintainer", "com.docker", "daemon off", "PATH"} {
		if strings.Contains(string(y), unwanted) {
			t.Errorf("rebuilt file has %q, which comes from the image or from compose itself", unwanted)
		}
	}
	if len(warnings) < 2 {
		t.Errorf("warnings = %+v, want the general one and the secret", warnings)
	}

	// The file must load as a compose project, with `$` kept literal.
	res, err := compose.Load(context.Background(), compose.Source{Files: []compose.File{{Name: "compose.yaml", Content: y}}})
	if err != nil {
		t.Fatalf("the rebuilt file does not load: %v", err)
	}
	if got := *res.Services["web"].Environment["PRICE"]; got != "$5" {
		t.Errorf("PRICE = %q after loading, want $5", got)
	}
	if got := res.Services["db"].HealthCheck.Test[1]; got != "pg_isready -U $POSTGRES_USER" {
		t.Errorf("healthcheck = %q after loading, want the runtime variable kept", got)
	}
	if n := len(res.Services); n != 2 {
		t.Errorf("%d services after loading, want 2", n)
	}
}
