package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and commit are set at build time:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc1234" ./cmd/incidentbot
//
// Without them, the module version and VCS stamp from the build info are used.
var (
	version = "dev"
	commit  = ""
)

// buildVersion returns the version, commit and commit time of this binary.
func buildVersion() (ver, rev, when string, modified bool) {
	ver, rev = version, commit
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ver, rev, "", false
	}
	if ver == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		ver = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if rev == "" {
				rev = s.Value
			}
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return ver, rev, when, modified
}

func (a *app) version(args []string) int {
	fs := a.newFlags("version", "version")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return flagExit(err)
	}
	ver, rev, when, modified := buildVersion()
	fmt.Fprintf(a.stdout, "incidentbot %s\n", ver)
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if modified {
			rev += " (modified)"
		}
		fmt.Fprintf(a.stdout, "commit %s\n", rev)
	}
	if when != "" {
		fmt.Fprintf(a.stdout, "built from a commit of %s\n", when)
	}
	fmt.Fprintf(a.stdout, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
