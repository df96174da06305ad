package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/meshdock/meshdock"
)

// TestCanceledAnswer: work that really was canceled is answered as such,
// whoever classified it, never as an internal error.
func TestCanceledAnswer(t *testing.T) {
	s := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, err := range []error{
		context.Canceled,
		fmt.Errorf("read app: %w", context.Canceled),
		meshdock.Errorf(meshdock.ECANCELED, ""),
		meshdock.Wrap(meshdock.ECANCELED, context.Canceled, ""),
	} {
		rec := httptest.NewRecorder()
		s.handleError(err, echo.New().NewContext(httptest.NewRequest("GET", "/api/v1/apps", nil), rec))
		var body errorBody
		json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != 499 || body.Error.Code != meshdock.ECANCELED || body.Error.Message != "canceled" {
			t.Errorf("%#v: %d %s", err, rec.Code, rec.Body)
		}
	}
}
