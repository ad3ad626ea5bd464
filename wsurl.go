package websocket

import (
	"fmt"
	"net/url"
	"strings"
)

// parseWebSocketURL parses a ws or wss URL (RFC 6455 §3), mapping http and
// https to them.
func parseWebSocketURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return nil, fmt.Errorf("websocket: URL %q: scheme must be ws or wss", s)
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("websocket: URL %q has no host", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		// §3: fragment identifiers MUST NOT be used in WebSocket URIs.
		return nil, fmt.Errorf("websocket: URL %q has a fragment", s)
	}
	return u, nil
}
