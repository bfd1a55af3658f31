package templates

import "embed"

// Starter holds the files `incidentbot init` writes: starter/incidentbot.yaml
// (a commented configuration holding the playbook's furniture-retailer
// example) and starter/slack-app-manifest.yaml (a least-privilege Slack app
// manifest for Socket Mode).
//
//go:embed starter/*
var Starter embed.FS
