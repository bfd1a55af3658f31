// Command incidentbot runs incident response in Slack and prices every
// incident from its service's financial exposure.
//
//	incidentbot serve [--config FILE] [--sandbox [--sandbox-public]]
//	incidentbot init [--dir DIR] [--force]
//	incidentbot check [--config FILE]
//	incidentbot backup FILE [--config FILE]
//	incidentbot migrate --from FILE [--to URL]
//	incidentbot healthcheck [--config FILE] [--timeout 5s]
//	incidentbot version
//
// Configuration is read from incidentbot.yaml (--config; by default
// ./incidentbot.yaml if present) and from the environment, which wins: every
// key is INCIDENTBOT_ + its path upper-cased with "_" for "." (slack.bot_token
// is INCIDENTBOT_SLACK_BOT_TOKEN). Lists in the environment are JSON arrays
// (INCIDENTBOT_SERVICES='[{"name": "bedroom", …}]'); lists of strings may also
// be comma-separated (INCIDENTBOT_SLACK_INCIDENT_MANAGERS=U01,U02).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
	_ "time/tzdata" // time zones on images without /usr/share/zoneinfo
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

const usage = `incidentbot runs incident response in Slack and prices every incident.

Usage:
  incidentbot serve [--config FILE] [--sandbox]  run the bot (--sandbox: against a built-in workspace,
                                                  on a loopback http.listen unless --sandbox-public)
  incidentbot init [--dir DIR] [--force]          write a starter incidentbot.yaml and slack-app-manifest.yaml
  incidentbot check [--config FILE]               validate the configuration; print the catalogue
  incidentbot backup FILE [--config FILE]         write a consistent copy of the database, even while serving
  incidentbot migrate --from FILE [--to URL]      copy a bbolt database into an empty PostgreSQL database
  incidentbot healthcheck [--config FILE]         exit 0 if the running bot is ready (GET /readyz on http.listen)
  incidentbot version                             print the version

Configuration: incidentbot.yaml (--config FILE; default ./incidentbot.yaml if
present), overridden by the environment: INCIDENTBOT_ + the key path
upper-cased with "_" for "." (slack.bot_token: INCIDENTBOT_SLACK_BOT_TOKEN).
Lists are JSON (INCIDENTBOT_SERVICES='[{"name": "bedroom", ...}]'); lists of
strings may also be comma-separated (INCIDENTBOT_SLACK_INCIDENT_MANAGERS=U01,U02).
`

// app is one invocation: its I/O, environment and clock.
type app struct {
	stdout, stderr io.Writer
	env            func(string) string
	now            func() time.Time
	ctx            context.Context
	// onListen, if set, is told serve's listening address (tests).
	onListen func(net.Addr)
}

// run executes the command line and returns the exit code: 0 success, 1
// failure (bad configuration included), 2 bad usage.
func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	a := &app{stdout: stdout, stderr: stderr, env: env, now: time.Now, ctx: context.Background()}
	return a.run(args)
}

func (a *app) run(args []string) int {
	if a.env == nil {
		a.env = func(string) string { return "" }
	}
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return a.serve(rest)
	case "init":
		return a.init(rest)
	case "check":
		return a.check(rest)
	case "backup":
		return a.backup(rest)
	case "migrate":
		return a.migrate(rest)
	case "healthcheck":
		return a.healthcheck(rest)
	case "version":
		return a.version(rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(a.stdout, usage)
		return 0
	}
	fmt.Fprintf(a.stderr, "incidentbot: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// errUsage means the flags were wrong; the flag set has said why.
var errUsage = errors.New("usage")

// newFlags returns a flag set for a subcommand that reports to stderr.
func (a *app) newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: incidentbot %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses flags anywhere among the arguments (the standard flag
// package stops at the first positional one) and returns the positionals.
// It returns flag.ErrHelp for -h and errUsage for bad flags.
func parseFlags(fs *flag.FlagSet, args []string, positionals int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != positionals {
		if len(pos) > positionals {
			fmt.Fprintf(fs.Output(), "incidentbot %s: unexpected argument %q\n", fs.Name(), pos[positionals])
		} else {
			fmt.Fprintf(fs.Output(), "incidentbot %s: missing argument\n", fs.Name())
		}
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

// flagExit maps a parseFlags error to an exit code.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// loadSettings reads and validates the configuration, printing warnings. On
// error it prints the message (and a hint when no file was found) and the
// caller exits 1.
func (a *app) loadSettings(path string) (Settings, loadedConfig, bool) {
	return a.loadSettingsOr(path, nil)
}

// loadSettingsOr falls back to the builtin YAML when there is no file.
func (a *app) loadSettingsOr(path string, builtin []byte) (Settings, loadedConfig, bool) {
	lc, err := loadConfigOr(path, a.env, builtin)
	if err != nil {
		fmt.Fprintln(a.stderr, err)
		return Settings{}, lc, false
	}
	for _, w := range lc.Warnings {
		fmt.Fprintln(a.stderr, w)
	}
	s, warnings, err := newSettings(lc.Config)
	if err != nil {
		fmt.Fprintln(a.stderr, err)
		if lc.File == "" {
			fmt.Fprintf(a.stderr, "hint: no configuration file was read (./%s not found, no --config); `incidentbot init` writes a starter one\n", defaultConfigFile)
		}
		return Settings{}, lc, false
	}
	for _, w := range warnings {
		fmt.Fprintln(a.stderr, w)
	}
	return s, lc, true
}
