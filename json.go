package websocket

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrInvalidJSON is wrapped by the error ReadJSON returns when a message is
// not one JSON value that fits the destination; the Conn is still usable.
var ErrInvalidJSON = errors.New("websocket: invalid JSON message")

// ReadJSON reads the next data message, text or binary, and decodes it into
// v with encoding/json, streaming it from the connection as NextReader does.
// The message must hold exactly one JSON value, with nothing but white space
// after it.
//
// A message that is not such a value, or does not fit v, gives an error that
// wraps ErrInvalidJSON and the encoding/json error (a *json.SyntaxError, a
// *json.UnmarshalTypeError...); the Conn stays usable and the next read
// skips what is left of the message. A peer that sends such a message has
// broken the application's protocol: the usual answer is
// Close(StatusInvalidFramePayloadData, ...) (1007: data inconsistent with
// the type of the message, RFC 6455 §7.4.1); StatusUnsupportedData (1003)
// is for a type of data the application does not take at all, such as a
// binary message where it expects text. Any other error is the
// connection's, as ReadMessage returns it.
//
// The read limit bounds the message, not what decoding it allocates: under
// the default 16 MiB limit, one message of small values decoded into an any
// allocated 885 MiB. Set the limit (SetReadLimit, or ReadLimit in
// AcceptOptions and DialOptions) to the largest document the application
// expects, typically 64 KiB to 1 MiB, and decode into a typed struct,
// which keeps only the fields it names.
func (c *Conn) ReadJSON(v any) error {
	_, r, err := c.NextReader()
	if err != nil {
		return err
	}
	src := jsonSource{r: r}
	dec := json.NewDecoder(&src)
	err = dec.Decode(v)
	if err == nil {
		// A second value or trailing garbage is an error too, as in
		// json.Unmarshal.
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("data after the JSON value")
			if terr != nil && src.err == nil {
				err = terr
			}
		}
	}
	switch {
	case src.err != nil:
		return src.err // the connection's error, not the message's
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return fmt.Errorf("%w: %w", ErrInvalidJSON, io.ErrUnexpectedEOF)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrInvalidJSON, err)
	}
	return nil
}

// jsonSource reads a message for json.Decoder and keeps the connection's
// error apart from the end of the message.
type jsonSource struct {
	r   io.Reader
	err error
}

func (s *jsonSource) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// WriteJSON writes v as one text message encoded with encoding/json. The
// encoding, made in encoding/json's pooled buffer, is written as it is,
// with no copy into a buffer of WriteJSON's own. The message is the JSON value alone: unlike json.Encoder, which
// ends each value with a newline, WriteJSON sends none, as JSON.stringify
// would. An error from encoding v is returned before anything is sent.
func (c *Conn) WriteJSON(v any) error {
	// Encode first, so that a value that cannot be encoded leaves nothing
	// half-sent: json.Encoder encodes into its own pooled buffer and then
	// makes a single Write, which trimNewline passes on without the
	// trailing newline.
	w := trimNewline{c: c}
	if err := json.NewEncoder(&w).Encode(v); err != nil {
		if w.err != nil {
			return w.err
		}
		return fmt.Errorf("websocket: encoding JSON: %w", err)
	}
	return w.err
}

// trimNewline sends json.Encoder's one Write as a text message without its
// final newline.
type trimNewline struct {
	c   *Conn
	err error
}

func (t *trimNewline) Write(p []byte) (int, error) {
	n := len(p)
	if n > 0 && p[n-1] == '\n' {
		p = p[:n-1]
	}
	t.err = t.c.WriteMessage(OpText, p)
	if t.err != nil {
		return 0, t.err
	}
	return n, nil
}
