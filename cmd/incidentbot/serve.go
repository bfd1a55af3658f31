package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/incidentbot/incidentbot/incident/boltstore"
)

// shutdownTimeout bounds the graceful shutdown of the HTTP server.
const shutdownTimeout = 15 * time.Second

func (a *app) serve(args []string) int {
	flags := a.newFlags("serve", "serve [--config FILE] [--sandbox]")
	path := flags.String("config", "", "configuration file (default ./incidentbot.yaml if present)")
	sandbox := flags.Bool("sandbox", false, "run without Slack: no tokens needed")
	if _, err := parseFlags(flags, args, 0); err != nil {
		return flagExit(err)
	}
	s, _, ok := a.loadSettings(*path)
	if !ok {
		return 1
	}
	if !*sandbox {
		if err := requireSlack(s); err != nil {
			fmt.Fprintln(a.stderr, err)
			return 1
		}
	}

	log := slog.New(slog.NewJSONHandler(a.stderr, nil))
	ver, rev, _, _ := buildVersion()
	log.Info("incidentbot starting", "version", ver, "commit", rev, "sandbox", *sandbox, "settings", s)

	ctx, stop := signal.NotifyContext(a.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	store, err := boltstore.Open(s.Storage.Path, boltstore.Options{Logger: log})
	if err != nil {
		log.Error("cannot open storage", "path", s.Storage.Path, "err", err)
		return 1
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing storage", "err", err)
		}
	}()
	if *sandbox {
		log.Warn("sandbox: Slack is disabled")
	}

	if err := a.serveHTTP(ctx, log, s.HTTP.Listen, newMux()); err != nil {
		log.Error("http server", "err", err)
		return 1
	}
	log.Info("incidentbot stopped")
	return 0
}

// newMux routes the HTTP endpoints served so far.
func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
	})
	return mux
}

// serveHTTP serves h on addr until ctx is done, then shuts down gracefully.
func (a *app) serveHTTP(ctx context.Context, log *slog.Logger, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (http.listen): %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", ln.Addr().String())
	if a.onListen != nil {
		a.onListen(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
