package backend

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/meshdock/meshdock"
)

// statusOf is the one table from error codes to HTTP status codes.
var statusOf = map[string]int{
	meshdock.EINVALID:     http.StatusBadRequest,
	meshdock.ENOTFOUND:    http.StatusNotFound,
	meshdock.ECONFLICT:    http.StatusConflict,
	meshdock.EUNAVAILABLE: http.StatusServiceUnavailable,
	meshdock.ETOOLARGE:    http.StatusRequestEntityTooLarge,
	meshdock.EINTERNAL:    http.StatusInternalServerError,
	meshdock.EUNSUPPORTED: http.StatusUnsupportedMediaType,
	meshdock.EFORBIDDEN:   http.StatusForbidden,
	// The client went away; nobody reads the answer, but logs show 499.
	meshdock.ECANCELED: 499,
}

// errorBody is the JSON body of every error answer.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// handleError answers an error returned by a handler or middleware.
// Unclassified errors are logged in full and answered "internal error".
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var body errorBody
	var he *echo.HTTPError
	if errors.As(err, &he) {
		// Echo's own errors: no route, wrong method.
		body.Error.Code, body.Error.Message = echoError(he)
	} else {
		body.Error.Code, body.Error.Message = meshdock.ErrorCode(err), meshdock.ErrorMessage(err)
	}
	status, ok := statusOf[body.Error.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if he != nil {
		status = he.Code
	}
	if status >= 500 && status != http.StatusServiceUnavailable {
		s.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	}
	// To a HEAD too: net/http sends the headers and drops the body.
	if err := c.JSON(status, body); err != nil {
		s.log.Debug("cannot send the error answer", "err", err)
	}
}

func echoError(he *echo.HTTPError) (code, message string) {
	switch he.Code {
	case http.StatusNotFound:
		return meshdock.ENOTFOUND, "no such endpoint"
	case http.StatusMethodNotAllowed:
		return meshdock.EINVALID, "method not allowed on this endpoint"
	case http.StatusRequestEntityTooLarge:
		return meshdock.ETOOLARGE, "the request body is too large"
	}
	if he.Code < 500 {
		return meshdock.EINVALID, http.StatusText(he.Code)
	}
	return meshdock.EINTERNAL, "internal error"
}
