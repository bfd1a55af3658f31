package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/incidentbot/incidentbot/templates"
)

// starterFiles are written by init, with their modes: the configuration may
// come to hold secrets.
var starterFiles = []struct {
	name string
	mode fs.FileMode
}{
	{"incidentbot.yaml", 0o600},
	{"slack-app-manifest.yaml", 0o644},
}

func (a *app) init(args []string) int {
	flags := a.newFlags("init", "init [--dir DIR] [--force]")
	dir := flags.String("dir", ".", "directory to write incidentbot.yaml and slack-app-manifest.yaml to")
	force := flags.Bool("force", false, "overwrite existing files")
	if _, err := parseFlags(flags, args, 0); err != nil {
		return flagExit(err)
	}

	// Refuse before writing anything, so that a refusal leaves no half-done init.
	if !*force {
		for _, f := range starterFiles {
			p := filepath.Join(*dir, f.name)
			if _, err := os.Lstat(p); err == nil {
				fmt.Fprintf(a.stderr, "incidentbot init: %s already exists; not overwriting it (use --force to replace it)\n", p)
				return 1
			} else if !errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(a.stderr, "incidentbot init: %v\n", err)
				return 1
			}
		}
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintf(a.stderr, "incidentbot init: %v\n", err)
		return 1
	}
	for _, f := range starterFiles {
		data, err := templates.Starter.ReadFile("starter/" + f.name)
		if err != nil {
			fmt.Fprintf(a.stderr, "incidentbot init: %v\n", err)
			return 1
		}
		p := filepath.Join(*dir, f.name)
		if err := writeFile(p, data, f.mode, *force); err != nil {
			fmt.Fprintf(a.stderr, "incidentbot init: %v\n", err)
			return 1
		}
		fmt.Fprintf(a.stdout, "wrote %s\n", p)
	}
	cfg := filepath.Join(*dir, "incidentbot.yaml")
	fmt.Fprintf(a.stdout, `
Next:
  1. Edit %[1]s: your services, their exposure per hour, teams, domains and
     Slack member IDs. Check it with: incidentbot check --config %[1]s
  2. Create the Slack app from %[2]s (https://api.slack.com/apps, "From an app
     manifest"), install it, and set INCIDENTBOT_SLACK_BOT_TOKEN (xoxb-…) and
     INCIDENTBOT_SLACK_APP_TOKEN (app-level token with connections:write, xapp-…).
  3. Run: incidentbot serve --config %[1]s
     (or incidentbot serve --sandbox --config %[1]s to try it without Slack)
`, cfg, filepath.Join(*dir, "slack-app-manifest.yaml"))
	return 0
}

// writeFile writes data to path; without overwrite it fails if path exists
// (checked atomically with O_EXCL).
func writeFile(path string, data []byte, mode fs.FileMode, overwrite bool) error {
	flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if overwrite {
		flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flag, mode)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists; not overwriting it (use --force to replace it)", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if overwrite {
		// An existing file keeps its mode on O_TRUNC; the configuration may
		// hold secrets, so set it.
		if err := f.Chmod(mode); err != nil {
			_ = f.Close()
			return err
		}
	}
	return f.Close()
}
