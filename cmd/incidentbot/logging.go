package main

import (
	"io"
	"log/slog"
)

// newLogger is the JSON logger of every command, from level on: durations
// read as people write them ("retry_in": "2s", "took": "1m30s"), not as
// nanoseconds.
func newLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: readableDurations}))
}

// readableDurations writes a time.Duration attribute as its String form.
func readableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
