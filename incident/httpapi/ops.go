package httpapi

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

// readyTimeout bounds the storage probe of /readyz.
const readyTimeout = 2 * time.Second

// Probe is the body of /healthz and /readyz.
type Probe struct {
	Status string `json:"status"`           // ok, unavailable
	Reason string `json:"reason,omitempty"` // why not ready
}

// healthz serves GET /healthz: the process is alive and serving HTTP.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, Probe{Status: "ok"})
}

// readyz serves GET /readyz: storage answers and Ready says yes.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if reason := s.notReady(r.Context()); reason != "" {
		w.Header().Set("Retry-After", "5")
		WriteJSON(w, http.StatusServiceUnavailable, Probe{Status: "unavailable", Reason: reason})
		return
	}
	WriteJSON(w, http.StatusOK, Probe{Status: "ok"})
}

// notReady returns why the bot is not ready, or "". The reason is shown to
// unauthenticated clients, so storage errors (which name the file) are
// only logged.
func (s *Server) notReady(ctx context.Context) string {
	if s.store == nil {
		return "storage is not configured"
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.store.Ping(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			s.log.Warn("readiness: storage does not answer", "err", err)
			return "storage does not answer"
		}
	case <-ctx.Done():
		s.log.Warn("readiness: storage did not answer in time", "timeout", readyTimeout)
		return "storage does not answer"
	}
	if ok, reason := s.ready(); !ok {
		if reason == "" {
			reason = "not ready"
		}
		return reason
	}
	return ""
}

// backup serves GET /api/backup: a consistent copy of the database,
// streamed from one read transaction. `incidentbot backup FILE` calls it
// when the serving bot holds the database file.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	select {
	case s.backups <- struct{}{}:
		defer func() { <-s.backups }()
	default:
		w.Header().Set("Retry-After", "30")
		WriteError(w, http.StatusTooManyRequests, "a backup is already running; try again when it has finished")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="incidentbot-`+s.now().UTC().Format("20060102T150405Z")+`.db"`)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	// A large database takes longer than a server-wide write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	cw := &countingWriter{w: w}
	start := time.Now()
	n, err := s.store.Backup(cw)
	if err != nil {
		if !cw.called && incident.ErrorCode(err) == incident.EINVALID {
			// This storage offers no backup here (PostgreSQL: pg_dump).
			WriteError(w, http.StatusNotImplemented, incident.ErrorMessage(err))
			return
		}
		if !cw.called {
			// Nothing sent yet: the client gets a proper error.
			s.internal(w, r, err)
			return
		}
		// Part of the copy is out. Abort the connection so the client sees
		// a truncated body (no final chunk), never a short file as success.
		s.log.Error("backup failed part-way", "bytes", cw.n, "err", err)
		panic(http.ErrAbortHandler)
	}
	s.log.Info("backup served", "bytes", n, "took", time.Since(start).Round(time.Millisecond), "remote", r.RemoteAddr)
}

// countingWriter counts what reached the client.
type countingWriter struct {
	w      io.Writer
	n      int64
	called bool // the response is committed
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.called = true
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
