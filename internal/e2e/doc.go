// Package e2e holds the end-to-end tests that cross adapters: an
// Alertmanager storm carried through the desk and the bot to the
// Slack-workspace emulator, and the bot process killed with SIGKILL mid
// incident and restarted. The adapters' packages keep only their own tests;
// the builders and the bot harness both use live in
// incident/alertmanager/amtest and bot/bottest.
package e2e
