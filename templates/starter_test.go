package templates

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"
)

func TestStarterFiles(t *testing.T) {
	names, err := fs.Glob(Starter, "starter/*")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"starter/incidentbot.yaml", "starter/slack-app-manifest.yaml"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("starter files %q, want %q", names, want)
	}
	cfg, _ := Starter.ReadFile("starter/incidentbot.yaml")
	for _, want := range []string{
		"name: ecommerce-platform", "hourly_exposure: 810000",
		"name: appointments", "hourly_exposure: 6000",
		"name: bedroom", "hourly_exposure: 200000", "2026-11-27T00:00:00Z", "2026-11-30T23:59:59Z", "hourly_exposure: 900000",
		"{max_hourly_exposure: 7000, availability: 95.0}",
		"{max_hourly_exposure: 250000, availability: 99.0}",
		"{max_hourly_exposure: 800000, availability: 99.9}",
	} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("starter incidentbot.yaml lacks %q", want)
		}
	}
	manifest, _ := Starter.ReadFile("starter/slack-app-manifest.yaml")
	for _, want := range []string{"socket_mode_enabled: true", "command: /incident", "home_tab_enabled: true"} {
		if !strings.Contains(string(manifest), want) {
			t.Errorf("manifest lacks %q", want)
		}
	}
	if strings.Contains(string(manifest), "- chat:write.public") {
		t.Errorf("manifest asks for chat:write.public; channels:join is enough")
	}
}
