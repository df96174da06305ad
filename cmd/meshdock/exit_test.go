package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/meshdock/meshdock"
)

// Each error code ends the process with the status the README promises.
func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{meshdock.Errorf(meshdock.EINVALID, "x"), exitError},
		{meshdock.Errorf(meshdock.ETOOLARGE, "x"), exitError},
		{meshdock.Errorf(meshdock.ENOTFOUND, "x"), exitError},
		{meshdock.Errorf(meshdock.EFORBIDDEN, "x"), exitError},
		{meshdock.Internal(errors.New("panic")), exitInternal},
		{errors.New("unclassified"), exitInternal},
		{meshdock.Errorf(meshdock.EUNAVAILABLE, "x"), exitInternal},
		{fmt.Errorf("step: %w", context.Canceled), exitCanceled},
		{meshdock.Errorf(meshdock.ECANCELED, "x"), exitCanceled},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
