package templates

import "embed"

// Review holds the post-incident review templates, namespaced under review/:
// review/review.md.tmpl (text/template: the Markdown document, the drafted
// sections and the prompts for the sections people write) and
// review/layout.html.tmpl, review/page.html.tmpl, review/index.html.tmpl
// (html/template: the review site). Package review loads them and lets an
// operator override any of them from a directory.
//
//go:embed review/*
var Review embed.FS
