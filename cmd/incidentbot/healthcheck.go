package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// healthcheck asks the running bot whether it is ready (GET /readyz on
// http.listen) and exits 0 when it answers 200, 1 otherwise: the container
// HEALTHCHECK of an image with no shell and no curl. Only http.listen is
// read from the configuration, so it also works for `serve --sandbox`,
// which needs no configuration file.
func (a *app) healthcheck(args []string) int {
	flags := a.newFlags("healthcheck", "healthcheck [--config FILE] [--timeout 5s]")
	path := flags.String("config", "", "configuration file (default ./incidentbot.yaml if present); only http.listen is read")
	timeout := flags.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if _, err := parseFlags(flags, args, 0); err != nil {
		return flagExit(err)
	}
	lc, err := loadConfig(*path, a.env)
	if err != nil {
		fmt.Fprintln(a.stderr, err)
		return 1
	}
	u, err := localURL(lc.Config.HTTP.Listen, "/readyz")
	if err != nil {
		fmt.Fprintln(a.stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(a.ctx, *timeout)
	defer cancel()
	status, body, err := getText(ctx, u)
	switch {
	case err != nil:
		fmt.Fprintf(a.stderr, "not ready: GET %s: %v\n", u, err)
		return 1
	case status != http.StatusOK:
		fmt.Fprintf(a.stderr, "not ready: GET %s: %d %s\n", u, status, body)
		return 1
	}
	fmt.Fprintf(a.stdout, "ready: GET %s: %d\n", u, status)
	return 0
}

// getText GETs u and returns the status and the start of the body on one
// line.
func getText(ctx context.Context, u string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 512))
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, strings.Join(strings.Fields(string(raw)), " "), nil
}
