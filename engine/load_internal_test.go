package engine

import "testing"

func TestParseSnapshotter(t *testing.T) {
	for _, tc := range []struct{ name, config, want string }{
		{"version 2", "version = 2\n[plugins]\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n    [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n      snapshotter = \"overlayfs\"\n  [plugins.\"io.containerd.snapshotter.v1.native\"]\n    snapshotter = \"wrong\"\n", "overlayfs"},
		{"version 3", "version = 3\n[plugins]\n  [plugins.'io.containerd.cri.v1.images']\n    snapshotter = 'fuse-overlayfs'\n", "fuse-overlayfs"},
		{"version 3, quoted as the dump does", "version = 3\n[plugins]\n  [plugins.\"io.containerd.cri.v1.images\"]\n    snapshotter = \"fuse-overlayfs\"\n", "fuse-overlayfs"},
		{"none", "version = 2\n", ""},
		{"not a name", "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\nsnapshotter = \"a b\"\n", ""},
	} {
		if got := parseSnapshotter(tc.config); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
