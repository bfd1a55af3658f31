package site

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/incidentbot/incidentbot/incident/httpapi"
)

// errorPage is what a browser is shown instead of a JSON error.
var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}} · Post-incident reviews</title>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<p><a href="/reviews/">All published reviews</a></p>
</main>
</body>
</html>
`))

// wantsHTML reports whether the request comes from a browser: its Accept
// header asks for text/html (API clients and curl ask for */* or JSON).
func wantsHTML(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
			return true
		}
	}
	return false
}

// writeError answers with the error as an HTML page to a browser, else as
// the JSON error every other endpoint answers.
func (s *Site) writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if !wantsHTML(r) {
		httpapi.WriteError(w, status, msg)
		return
	}
	var b bytes.Buffer
	title := http.StatusText(status)
	if status == http.StatusNotFound {
		title = "No such review"
	}
	if err := errorPage.Execute(&b, struct{ Title, Message string }{title, msg}); err != nil {
		httpapi.WriteError(w, status, msg)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
