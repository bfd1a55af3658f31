// Package incident is the domain of incidentbot: the service catalogue with its
// financial exposure and availability targets, the loss model that prices an
// incident, classification, the incident lifecycle and its append-only
// timeline. It imports nothing from Slack, PagerDuty or storage; adapters live
// in subpackages and in the bot and review packages.
package incident

import (
	"errors"
	"fmt"
)

// Error codes. They say what kind of failure happened so that adapters can
// map it to an HTTP status or a Slack reply without parsing text.
const (
	EINVALID   = "invalid"   // bad input from a user or an alert; nothing changed
	ENOTFOUND  = "not_found" // the incident, service or user does not exist
	ECONFLICT  = "conflict"  // the request clashes with the incident's state
	EFORBIDDEN = "forbidden" // the actor may not do this
	EINTERNAL  = "internal"  // a bug or an infrastructure failure
)

// Error is a domain error whose Message is safe to show to a user.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with a formatted, user-facing message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err. Internal errors get a
// generic message: their detail belongs in the log, not in front of a user.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Something went wrong on our side; it has been logged."
}
