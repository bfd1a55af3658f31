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

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident/alertmanager"
	"github.com/incidentbot/incidentbot/incident/boltstore"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/httpapi"
	"github.com/incidentbot/incidentbot/incident/pagerduty"
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
		if err := a.serveHTTP(ctx, log, s.HTTP.Listen, newMux()); err != nil {
			log.Error("http server", "err", err)
			return 1
		}
		log.Info("incidentbot stopped")
		return 0
	}

	w := wire(s, store, log, ver)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	go func() { errc <- w.runner.Run(ctx) }()
	go func() { errc <- w.bot.Serve(ctx, w.socket) }()
	mux := http.NewServeMux()
	w.routes(mux)
	go func() { errc <- a.serveHTTP(ctx, log, s.HTTP.Listen, mux) }()
	code := 0
	for i := 0; i < 3; i++ {
		err := <-errc
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Error("incidentbot is stopping", "err", err)
			code = 1
		}
		cancel()
	}
	log.Info("incidentbot stopped")
	return code
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

// wired is the running bot's parts.
type wired struct {
	desk   *desk.Desk
	runner *desk.Runner
	bot    *bot.Bot
	socket *socketmode.Client
	routes func(mux *http.ServeMux)
}

// wire assembles the bot from settings: the store is the source of truth,
// the desk applies operations and plans effects, the runner carries them
// out through the Slack and PagerDuty adapters and the duties.
func wire(s Settings, store *boltstore.Store, log *slog.Logger, version string) wired {
	cat := s.Catalogue
	loc := cat.WorkingHours.Location
	effects := []string{"slack"}
	if s.PagerDuty.Enabled() {
		effects = append(effects, "pagerduty")
	}
	d := desk.New(store, &cat, desk.Options{
		Logger: log, GroupingWindow: s.GroupingWindow, CommanderTimeout: s.CommanderTimeout,
		UpdateInterval: s.UpdateInterval, Effects: effects,
	})
	runner := desk.NewRunner(store, desk.RunnerOptions{Logger: log, Classify: bot.Classify})
	api := slack.New(s.Slack.BotToken.Reveal(), slack.OptionAPIURL(s.Slack.APIURL), slack.OptionAppLevelToken(s.Slack.AppToken.Reveal()))
	b := bot.New(api, d, store, bot.Options{Logger: log, AnnounceChannel: s.Slack.AnnounceChannel, PublicURL: s.HTTP.PublicURL, Wake: runner.Wake})
	b.Register(runner)

	finder := desk.OnCallFinder(desk.RotationFinder{Location: loc})
	var pdc *pagerduty.Client
	if s.PagerDuty.Enabled() {
		users := pagerduty.NewSlackUsers(api, pagerduty.SlackUsersOptions{})
		pdc = pagerduty.NewClient(pagerduty.ClientOptions{Token: s.PagerDuty.APIToken.Reveal(), APIURL: s.PagerDuty.APIURL,
			FromEmail: s.PagerDuty.FromEmail, Users: users, Logger: log})
		finder = pagerduty.Finder{PD: pdc, Fallback: desk.RotationFinder{Location: loc}, Logger: log}
		pagerduty.NewSync(pdc, d, pagerduty.SyncOptions{ManagerPolicy: s.PagerDuty.IncidentManagerEscalationPolicy, KV: store, Logger: log}).Register(runner)
	}
	(&desk.Duties{Desk: d, OnCall: finder, Enqueue: store.Enqueue}).Register(runner)

	routes := func(mux *http.ServeMux) {
		api := httpapi.New(httpapi.Options{
			Desk: d, Store: store, APIToken: s.HTTP.APIToken.Reveal(), Logger: log, Version: version,
			Ready: func() (bool, string) {
				if b.Connected() {
					return true, ""
				}
				return false, "slack is not connected"
			},
		})
		api.Routes(mux)
		m := api.Metrics()
		mux.Handle("POST "+alertmanager.Path, m.Instrument(alertmanager.Path, alertmanager.Handler(d, alertmanager.Options{
			BearerToken: s.Alertmanager.BearerToken.Reveal(), ServiceLabel: s.Alertmanager.ServiceLabel,
			AutoResolve: s.Alertmanager.AutoResolve, Logger: log,
		})))
		if s.PagerDuty.WebhookSecret != "" {
			o := pagerduty.Options{Secret: s.PagerDuty.WebhookSecret.Reveal(), Logger: log}
			if pdc != nil {
				o.Incidents = pdc
			}
			mux.Handle("POST "+pagerduty.WebhookPath, m.Instrument(pagerduty.WebhookPath, pagerduty.WebhookHandler(d, store, o)))
		}
	}
	return wired{desk: d, runner: runner, bot: b, socket: socketmode.New(api), routes: routes}
}
