package dirguard

import "testing"

// On Windows only a drive's paths are read: a share or a device path is
// refused before it is opened (opening one sends the user's credentials).
// On macOS the automounter's network trees are refused.
func TestLocalAndRemote(t *testing.T) {
	for p, ok := range map[string]bool{
		`C:\Users\me\shop`: true, `d:\src\shop`: true, `C:/Users/me/shop`: true,
		`\\evil.example\share\shop`: false, `//evil.example/share`: false, `\\?\UNC\evil\s`: false,
		`\\?\C:\Users\me`: false, `\\.\pipe\x`: false, `\Users\me`: false,
	} {
		if err := localOn("windows", p); (err == nil) != ok {
			t.Errorf("windows %s: %v", p, err)
		}
		if err := localOn("linux", p); err != nil {
			t.Errorf("linux %s: %v", p, err)
		}
	}
	for p, want := range map[string]bool{"/net/evil/x": true, "/net": true, "/Network/Servers/x": true, "/Users/me/shop": false, "/network/x": false, "/netx/y": false} {
		if remoteOn("darwin", p) != want || remoteOn("linux", p) {
			t.Errorf("%s: darwin %v, want %v", p, remoteOn("darwin", p), want)
		}
	}
}
