package websocket

import (
	"errors"
	"fmt"
	"net/http"
)

// originRefusal is the 403 for a cross-origin request that
// AcceptOptions.OriginPatterns does not allow. It names the Origin and the
// Host, quoted so that whatever bytes they hold read as plain text (the
// body is text/plain and not sniffed), and says how to allow the origin,
// since the first to meet it is a developer serving a page from another port.
func originRefusal(r *http.Request) *refusal {
	origins := r.Header.Values("Origin")
	if len(origins) > 1 {
		return &refusal{status: http.StatusForbidden, reason: fmt.Sprintf("%d Origin headers, want one", len(origins))}
	}
	return &refusal{status: http.StatusForbidden, reason: fmt.Sprintf(
		"origin %q not allowed for host %q: the server must list the origin's host in AcceptOptions.OriginPatterns",
		origins[0], r.Host)}
}

// hijackError explains a failed hijack. The usual cause is a middleware
// whose ResponseWriter wraps the server's without exposing it.
func hijackError(w http.ResponseWriter, err error) error {
	if errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("websocket: accept: cannot take over the connection: the http.ResponseWriter is a %T, "+
			"which has neither a Hijack method nor an Unwrap() http.ResponseWriter method returning the writer it wraps; "+
			"a middleware that wraps the ResponseWriter must add Unwrap (see http.NewResponseController) (%w)", w, err)
	}
	return fmt.Errorf("websocket: accept: %w", err)
}
