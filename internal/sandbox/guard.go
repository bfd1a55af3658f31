package sandbox

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Guard protects everything served next to a sandbox (the page, the fake
// Slack, the bot's own endpoints): the sandbox has no authentication, so
//
//   - a request whose Host is not one of the sandbox's own names is refused
//     (403): a page on another site that rebinds its DNS name to this
//     listener cannot read or drive the sandbox. localhost, 127.0.0.1 and ::1
//     are always allowed, plus hosts (host names or IPs, any port: a port
//     may be mapped, as Docker does);
//   - a state-changing request (anything but GET, HEAD and OPTIONS) that a
//     browser marks as coming from elsewhere is refused (403):
//     Sec-Fetch-Site other than same-origin or none, an Origin of another
//     host, or Origin "null" (sandboxed frames, file: pages, cross-site
//     redirects). Programs (the bot's Slack client, Alertmanager) send
//     neither header and pass.
func Guard(next http.Handler, hosts ...string) http.Handler {
	allowed := map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}
	for _, h := range hosts {
		if h = hostOnly(h); h != "" {
			allowed[h] = true
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed[hostOnly(r.Host)] {
			http.Error(w, "this sandbox is not served under the host name "+clipHost(r.Host)+
				"; browse it at http://127.0.0.1 or localhost, or set http.public_url to the address you use", http.StatusForbidden)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if !sameOrigin(r) {
				http.Error(w, "cross-site requests are refused", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// hostOnly is the lower-case host of a Host header or URL host ("h:1",
// "[::1]:8080", "h"), without port or brackets.
func hostOnly(hostport string) string {
	hostport = strings.ToLower(strings.TrimSpace(hostport))
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		hostport = h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

func clipHost(h string) string {
	if len(h) > 60 {
		h = h[:60] + "…"
	}
	return "“" + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, h) + "”"
}

// PublicHosts are the host names a sandbox listening on listen and reached
// at publicURL answers to besides the loopback names: the listen address's
// host when it is a specific one, and publicURL's host.
func PublicHosts(listen, publicURL string) []string {
	var out []string
	if h := hostOnly(listen); h != "" && !net.ParseIP(h).IsUnspecified() {
		out = append(out, h)
	}
	if u, err := url.Parse(publicURL); err == nil && u.Host != "" {
		out = append(out, u.Host)
	}
	return out
}

// Loopback reports whether a listen address ("127.0.0.1:8080", ":8080",
// "localhost:0") only accepts connections from this machine.
func Loopback(listen string) bool {
	h := hostOnly(listen)
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
