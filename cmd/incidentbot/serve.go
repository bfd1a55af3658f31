package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/slack-go/slack/socketmode"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/incident/alertmanager"
	"github.com/incidentbot/incidentbot/incident/desk"
	"github.com/incidentbot/incidentbot/incident/httpapi"
	"github.com/incidentbot/incidentbot/incident/pagerduty"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
	"github.com/incidentbot/incidentbot/internal/sandbox"
	"github.com/incidentbot/incidentbot/internal/telemetry"
	"github.com/incidentbot/incidentbot/review"
	"github.com/incidentbot/incidentbot/review/insights"
	"github.com/incidentbot/incidentbot/review/site"
	"github.com/incidentbot/incidentbot/templates"
)

// shutdownTimeout bounds the graceful shutdown of the HTTP server.
const shutdownTimeout = 15 * time.Second

func (a *app) serve(args []string) int {
	flags := a.newFlags("serve", "serve [--config FILE] [--sandbox [--sandbox-public]]")
	path := flags.String("config", "", "configuration file (default ./incidentbot.yaml if present)")
	sandboxMode := flags.Bool("sandbox", false, "run against a built-in Slack-compatible workspace at /sandbox: no tokens, no config needed")
	sandboxPublic := flags.Bool("sandbox-public", false, "let the sandbox listen on a non-loopback http.listen: whoever reaches it acts as every sandbox user")
	if _, err := parseFlags(flags, args, 0); err != nil {
		return flagExit(err)
	}
	var builtin []byte
	if *sandboxMode {
		builtin, _ = templates.Starter.ReadFile("starter/incidentbot.yaml")
	}
	s, _, ok := a.loadSettingsOr(*path, builtin)
	if !ok {
		return 1
	}
	var sb *sandboxRun
	var err error
	if *sandboxMode {
		if err = sandboxListenAllowed(s.HTTP.Listen, *sandboxPublic); err == nil {
			sb, err = a.prepareSandbox(&s)
		}
	} else {
		err = requireSlack(s)
	}
	if err != nil {
		fmt.Fprintln(a.stderr, err)
		return 1
	}

	log := newLogger(a.stderr, slog.LevelInfo)
	if sb != nil {
		defer sb.cleanup(log)
	}
	ver, rev, _, _ := buildVersion()

	ctx, stop := signal.NotifyContext(a.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Listen first: the sandbox's Slack lives on this listener, and the bot
	// should find it up when it connects.
	ln, err := net.Listen("tcp", s.HTTP.Listen)
	if err != nil {
		fmt.Fprintf(a.stderr, "listen on %s (http.listen): %v\n", s.HTTP.Listen, err)
		return 1
	}
	warnOpenWebhook(log, s, ln.Addr())
	base := sandbox.LocalBaseURL(ln.Addr().String())
	var workspace *fakeslack.Server
	if sb != nil {
		workspace = sandboxWorkspace(&s, base)
		defer workspace.Close()
	}
	log.Info("incidentbot starting", "version", ver, "commit", rev, "sandbox", *sandboxMode, "settings", s)

	store, err := openStorage(ctx, s, log)
	if err != nil {
		ln.Close()
		log.Error("cannot open storage", "storage", s.Storage.Describe(), "err", err)
		return 1
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing storage", "err", err)
		}
	}()

	w, err := wire(s, store, log, ver)
	if err != nil {
		ln.Close()
		fmt.Fprintln(a.stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	if *sandboxMode {
		w.insights.Sample = insights.SampleHistory // marked as sample data on the page
	}
	w.routes(mux)
	var handler http.Handler = mux
	if workspace != nil {
		handler = sandbox.Guard(mux, sandbox.PublicHosts(s.HTTP.Listen, s.HTTP.PublicURL)...)
		if !sandbox.Loopback(s.HTTP.Listen) {
			log.Warn("sandbox: listening beyond this machine (--sandbox-public): it has no authentication; whoever reaches it acts as every sandbox user",
				"listen", s.HTTP.Listen, "hosts", sandbox.PublicHosts(s.HTTP.Listen, s.HTTP.PublicURL))
		}
		sandbox.New(workspace, sandboxOptions(s, base, log)).Routes(mux)
		sb.announce(a.stdout, log, s, base)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	go func() { errc <- a.serveHTTP(ctx, log, ln, handler) }()
	go func() { errc <- w.runner.Run(ctx) }()
	go func() { errc <- w.bot.Serve(ctx, w.socket) }()
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

// sandboxListenAllowed refuses a sandbox listener reachable from the
// network unless --sandbox-public asks for it: the sandbox has no
// authentication.
func sandboxListenAllowed(listen string, public bool) error {
	if public || sandbox.Loopback(listen) {
		return nil
	}
	return fmt.Errorf("serve --sandbox: http.listen %q accepts connections from other machines, and the sandbox has no authentication: "+
		"listen on 127.0.0.1 (INCIDENTBOT_HTTP_LISTEN=127.0.0.1:8080), or pass --sandbox-public to serve it on the network anyway "+
		"(then set http.public_url to the address people browse)", listen)
}

// warnOpenWebhook warns when anyone who reaches the listener can open
// incidents: the Alertmanager webhook has no bearer token and the listener
// is not loopback.
func warnOpenWebhook(log *slog.Logger, s Settings, addr net.Addr) {
	if s.Alertmanager.BearerToken != "" || isLoopback(addr) {
		return
	}
	log.Warn("the Alertmanager webhook accepts requests from anyone who can reach "+addr.String()+
		": set alertmanager.bearer_token (INCIDENTBOT_ALERTMANAGER_BEARER_TOKEN) and give it to Alertmanager's http_config.authorization",
		"listen", addr.String(), "path", alertmanager.Path)
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// Defaults the sandbox replaces.
const (
	defaultStoragePath = "incidentbot.db"
	defaultPublicURL   = "http://localhost:8080"
)

// postOnly answers a webhook's other methods with a JSON 405.
var postOnly = httpapi.ErrorHandler(http.StatusMethodNotAllowed, "this webhook takes POST only", "POST")

// serveHTTP serves h on ln until ctx is done, then shuts down gracefully.
func (a *app) serveHTTP(ctx context.Context, log *slog.Logger, ln net.Listener, h http.Handler) error {
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

// webhookDeadline bounds the handling of one webhook: a sender whose
// delivery cannot be stored in time gets a 5xx and delivers it again.
const webhookDeadline = 8 * time.Second

// wired is the running bot's parts.
type wired struct {
	desk   *desk.Desk
	runner *desk.Runner
	bot    *bot.Bot
	socket *socketmode.Client
	routes func(mux *http.ServeMux)
	// insights configures /insights; the sandbox adds sample data before
	// the routes are registered.
	insights *insights.HandlerOptions
}

// wire assembles the bot from settings: the store is the source of truth,
// the desk applies operations and plans effects, the runner carries them
// out through the Slack and PagerDuty adapters and the duties.
func wire(s Settings, store storage, log *slog.Logger, version string) (wired, error) {
	cat := s.Catalogue
	loc := cat.WorkingHours.Location
	planners := []desk.Planner{bot.Planner{}}
	if s.PagerDuty.Enabled() {
		planners = append(planners, pagerduty.Planner{})
	}
	d := desk.New(store, &cat, desk.Options{
		Logger: log, GroupingWindow: s.GroupingWindow, CommanderTimeout: s.CommanderTimeout,
		UpdateInterval: s.UpdateInterval, Planners: planners, SeparateRelated: !s.Alertmanager.GroupRelated,
	})
	// One Prometheus registry for the process; every part reports to it
	// through its observer hook, and /metrics serves it.
	reg := httpapi.NewRegistry()
	tel := telemetry.New(reg)
	runner := desk.NewRunner(store, desk.RunnerOptions{Logger: log, Classify: bot.Classify, JobTimeout: s.JobTimeout,
		Lease: s.Storage.Postgres.Lease, Observe: tel.Job})
	api := bot.NewClient(bot.ClientOptions{BotToken: s.Slack.BotToken.Reveal(), AppToken: s.Slack.AppToken.Reveal(),
		APIURL: s.Slack.APIURL, Timeout: s.Slack.CallTimeout, Observe: tel.SlackCall})
	rd, err := review.NewRenderer(review.Options{TemplatesDir: s.Review.TemplatesDir, Location: loc})
	if err != nil {
		return wired{}, fmt.Errorf("review.templates_dir: %w", err)
	}
	b := bot.New(api, d, store, bot.Options{Logger: log, AnnounceChannel: s.Slack.AnnounceChannel, PublicURL: s.HTTP.PublicURL, Wake: runner.Wake, Renderer: rd,
		PreviewTTL: s.Review.PreviewTTL, ObserveEnvelope: tel.Envelope})
	b.Register(runner)

	finder := desk.OnCallFinder(desk.RotationFinder{Location: loc})
	var pdc *pagerduty.Client
	if s.PagerDuty.Enabled() {
		users := pagerduty.NewSlackUsers(api, pagerduty.SlackUsersOptions{})
		pdc = pagerduty.NewClient(pagerduty.ClientOptions{Token: s.PagerDuty.APIToken.Reveal(), APIURL: s.PagerDuty.APIURL,
			FromEmail: s.PagerDuty.FromEmail, Users: users, Logger: log, Observe: tel.PagerDutyCall})
		finder = pagerduty.Finder{PD: pdc, Fallback: desk.RotationFinder{Location: loc}, Logger: log}
		pagerduty.NewSync(pdc, d, pagerduty.SyncOptions{ManagerPolicy: s.PagerDuty.IncidentManagerEscalationPolicy, KV: store, Logger: log}).Register(runner)
	}
	(&desk.Duties{Desk: d, OnCall: finder, Enqueue: store.Enqueue, CountOpen: store.CountOpen, Housekeep: store.Housekeep}).Register(runner)
	if err := store.Enqueue(context.Background(), desk.HousekeepingJob(d.Now().Add(time.Hour))); err != nil {
		return wired{}, fmt.Errorf("schedule housekeeping: %w", err)
	}

	rs := b.Reviews() // one writer of reviews per database: the bot's
	reviewSite, err := site.New(site.Options{Reviews: rs, Renderer: rd, Logger: log, Now: d.Now,
		SecureCookie: strings.HasPrefix(s.HTTP.PublicURL, "https://"), ReaderHeader: s.Review.ReaderHeader})
	if err != nil {
		return wired{}, fmt.Errorf("review site: %w", err)
	}
	var serviceNames []string
	for _, svc := range cat.Services {
		serviceNames = append(serviceNames, svc.Name)
	}
	ins := &insights.HandlerOptions{Incidents: d, Reviews: rs, Catalogue: d.Catalogue(), Now: d.Now, Logger: log}
	routes := func(mux *http.ServeMux) {
		api := httpapi.New(httpapi.Options{
			Desk: d, Store: store, APIToken: s.HTTP.APIToken.Reveal(), Logger: log, Version: version, Registry: reg,
			Ready: func() (bool, string) {
				if b.Connected() {
					return true, ""
				}
				return false, "slack is not connected"
			},
		})
		api.Routes(mux)
		m := api.Metrics()
		reviewSite.Routes(mux)
		ins.Metrics = m
		insights.Routes(mux, *ins)
		mux.Handle(site.RouteStats, m.Instrument(site.RouteStats, site.StatsHandler(site.StatsOptions{
			Measure: func(ctx context.Context, p time.Duration, svc string) (review.Measures, error) {
				return rs.Measures(ctx, d, d.Policy(), p, svc, d.Now())
			},
			Authorize: site.BearerAuthorizer(s.HTTP.APIToken.Reveal()),
			Currency:  cat.Currency, Services: serviceNames, Logger: log,
		})))
		mux.Handle("POST "+alertmanager.Path, m.Instrument(alertmanager.Path, httpapi.WithDeadline(webhookDeadline, alertmanager.Handler(d, alertmanager.Options{
			BearerToken: s.Alertmanager.BearerToken.Reveal(), ServiceLabel: s.Alertmanager.ServiceLabel,
			AutoResolve: s.Alertmanager.AutoResolve, Logger: log, Observe: tel.Webhook(telemetry.SourceAlertmanager),
		}))))
		mux.Handle(alertmanager.Path, postOnly)
		if s.PagerDuty.WebhookSecret == "" {
			mux.Handle(pagerduty.WebhookPath, httpapi.ErrorHandler(http.StatusNotFound,
				"the PagerDuty webhook is off: set pagerduty.webhook_secret to receive PagerDuty webhooks", ""))
			return
		}
		o := pagerduty.Options{Secret: s.PagerDuty.WebhookSecret.Reveal(), Logger: log, Observe: tel.Webhook(telemetry.SourcePagerDuty)}
		if pdc != nil {
			o.Incidents = pdc
		}
		mux.Handle("POST "+pagerduty.WebhookPath, m.Instrument(pagerduty.WebhookPath, httpapi.WithDeadline(webhookDeadline, pagerduty.WebhookHandler(d, store, o))))
		mux.Handle(pagerduty.WebhookPath, postOnly)
	}
	return wired{desk: d, runner: runner, bot: b, socket: socketmode.New(api), routes: routes, insights: ins}, nil
}
