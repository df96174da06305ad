package convert

import (
	"errors"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/meshdock/meshdock"
)

// A panic caught inside compose-go or kompose is meshdock's defect, not
// the user's mistake: internal, with the stack for the log and nothing of
// it shown.
func TestRecoveredPanicsAreInternal(t *testing.T) {
	var nilMap map[string]int
	var r any
	func() {
		defer func() { r = recover() }()
		nilMap["x"] = 1
	}()
	for name, v := range map[string]any{
		"runtime error": r,
		"logrus fatal":  komposeExit{"Unable to retrieve file"},
		"logrus panic":  &logrus.Entry{Message: "service web is broken"},
		"error value":   errors.New("Health check must contain a command"),
	} {
		err := komposeFailure(v)
		if meshdock.ErrorCode(err) != meshdock.EINTERNAL || meshdock.ErrorMessage(err) != "internal error" {
			t.Errorf("%s: %s %q, want internal", name, meshdock.ErrorCode(err), meshdock.ErrorMessage(err))
		}
		if !strings.Contains(err.Error(), "panic in kompose") || !strings.Contains(err.Error(), "goroutine") {
			t.Errorf("%s: the log would lack the cause or the stack: %v", name, err)
		}
	}
}
