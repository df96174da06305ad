package dirguard

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// systemDirs hold the machine's own configuration, devices, programs and
// processes, never a compose project: a folder import reads none of them
// nor anything inside them.
func systemDirs() []string {
	switch runtime.GOOS {
	case "windows":
		var out []string
		for _, env := range []string{"SystemRoot", "ProgramFiles", "ProgramFiles(x86)", "ProgramData"} {
			if v := os.Getenv(env); v != "" {
				out = append(out, v)
			}
		}
		return append(out, `C:\Windows`, `C:\Program Files`, `C:\Program Files (x86)`, `C:\ProgramData`)
	case "darwin":
		return []string{"/System", "/Library", "/private/etc", "/private/var/run", "/etc", "/var/run", "/dev", "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/cores"}
	}
	return []string{"/proc", "/sys", "/dev", "/etc", "/run", "/boot", "/var/run", "/root"}
}

// local refuses a path that names a network share or a device rather than
// a folder of a local disk: on Windows only a drive letter's paths are
// (not \\server\share, \\?\ or \\.\ paths, whose opening alone sends the
// user's credentials to the server that answers).
func local(p string) error { return localOn(runtime.GOOS, p) }

func localOn(goos, p string) error {
	if goos != "windows" {
		return nil
	}
	if v := volumeName(p); len(v) != 2 || v[1] != ':' || strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, `//`) {
		return errors.New("only a folder on a drive of this computer is read, not a network or device path")
	}
	return nil
}

// remote tells a folder of the automounter's network trees (macOS's /net
// and /Network, where a name is a server to contact).
func remote(p string) bool { return remoteOn(runtime.GOOS, p) }

func remoteOn(goos, p string) bool {
	if goos != "darwin" {
		return false
	}
	for _, d := range []string{"/net", "/Network"} {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// volumeName is filepath.VolumeName as Windows reads a path, on any
// system: a drive letter ("C:"), or the \\server\share, \\?\ or \\.\ head
// of another path.
func volumeName(p string) string {
	if runtime.GOOS == "windows" {
		return filepath.VolumeName(p)
	}
	if len(p) >= 2 && p[1] == ':' && ('a' <= p[0]|0x20 && p[0]|0x20 <= 'z') {
		return p[:2]
	}
	if len(p) >= 2 && (p[0] == '\\' || p[0] == '/') && (p[1] == '\\' || p[1] == '/') {
		return p // a UNC or device path: not a drive's
	}
	return ""
}
