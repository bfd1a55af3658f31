package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/incidentbot/incidentbot/incident/alertmanager"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
	"github.com/incidentbot/incidentbot/internal/sandbox"
)

// sandboxRun is what `serve --sandbox` sets up before the bot starts: a
// database of its own, in a new temporary directory (the built-in workspace
// lives in memory, so its incidents must not outlive it), and an API token
// when none is configured.
type sandboxRun struct {
	dir            string // removed by cleanup
	ignoredStorage string // the storage (storage.path, or PostgreSQL) the sandbox did not use
	generatedToken bool
}

// sandboxDBName is the sandbox database's file name in its directory.
const sandboxDBName = "incidentbot-sandbox.db"

// prepareSandbox points s at the sandbox's own, empty database (never
// storage.path, whatever it says) and makes sure the API is on.
func (a *app) prepareSandbox(s *Settings) (*sandboxRun, error) {
	dir, err := os.MkdirTemp(a.env("TMPDIR"), "incidentbot-sandbox-")
	if err != nil {
		return nil, fmt.Errorf("sandbox: cannot create its database directory: %w", err)
	}
	run := &sandboxRun{dir: dir}
	if s.Storage.Path != defaultStoragePath {
		run.ignoredStorage = s.Storage.Path
	}
	if s.Storage.Driver == DriverPostgres {
		run.ignoredStorage = s.Storage.Describe()
	}
	s.Storage.Driver = DriverBbolt
	s.Storage.Path = filepath.Join(dir, sandboxDBName)
	if s.HTTP.APIToken == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("sandbox: cannot generate an API token: %w", err)
		}
		s.HTTP.APIToken = Secret(hex.EncodeToString(b))
		run.generatedToken = true
	}
	return run, nil
}

// cleanup removes the sandbox's database.
func (r *sandboxRun) cleanup(log *slog.Logger) {
	if err := os.RemoveAll(r.dir); err != nil {
		log.Warn("sandbox: could not remove its database", "dir", r.dir, "err", err)
	}
}

// announce says, in the log and to the person at the terminal, that the
// sandbox starts clean, where its page is and how to call its API.
func (r *sandboxRun) announce(out io.Writer, log *slog.Logger, s Settings, base string) {
	log.Info("sandbox: starting clean: a new workspace and an empty database, removed when the sandbox stops",
		"path", s.Storage.Path)
	if r.ignoredStorage != "" {
		log.Info("sandbox: storage.path is not used: the sandbox never touches the real database", "storage_path", r.ignoredStorage)
	}
	log.Info("sandbox: open " + base + sandbox.DefaultPrefix + " in a browser")
	fmt.Fprintf(out, "incidentbot sandbox: open %s%s\n", base, sandbox.DefaultPrefix)
	fmt.Fprintln(out, "  It starts clean each time: a new workspace and an empty database, removed when it stops.")
	token := "<http.api_token>"
	if r.generatedToken {
		token = s.HTTP.APIToken.Reveal()
		fmt.Fprintln(out, "  API token for this run:", token)
	}
	fmt.Fprintf(out, "  API: curl -H 'Authorization: Bearer %s' %s/api/incidents\n", token, base)
}

// sandboxWorkspace is the built-in Slack workspace on the bot's own
// listener, with the settings pointed at it.
func sandboxWorkspace(s *Settings, base string) *fakeslack.Server {
	fsOpts, cat := sandbox.Workspace(&s.Catalogue)
	fsOpts.BaseURL = base
	workspace := fakeslack.New(fsOpts)
	s.Catalogue = *cat
	s.Slack.APIURL = workspace.APIURL()
	s.Slack.BotToken, s.Slack.AppToken = Secret(workspace.BotToken()), Secret(workspace.AppToken())
	s.Slack.AnnounceChannel = sandbox.AnnounceChannel
	s.PagerDuty = PagerDutySettings{}
	if s.HTTP.PublicURL == defaultPublicURL {
		s.HTTP.PublicURL = base
	}
	return workspace
}

// sandboxOptions are the sandbox page's options.
func sandboxOptions(s Settings, base string, log *slog.Logger) sandbox.Options {
	return sandbox.Options{
		Catalogue: &s.Catalogue, AlertWebhookURL: base + alertmanager.Path,
		AlertBearerToken: s.Alertmanager.BearerToken.Reveal(), ServiceLabel: s.Alertmanager.ServiceLabel, Logger: log,
	}
}
