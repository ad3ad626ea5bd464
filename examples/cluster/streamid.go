package main

import (
	"strconv"
	"strings"
)

// streamID is a Redis Stream entry ID, "<milliseconds>-<sequence>". Redis
// makes every ID greater than the one before it in the same Stream, so IDs
// order the room's messages and a client's last ID says exactly where it
// stopped. The zero streamID ("0-0") is before every entry.
type streamID struct{ ms, seq uint64 }

// parseStreamID parses s as a full entry ID; ok is false for anything else
// (an empty string, a bare number, "$", a range marker).
func parseStreamID(s string) (id streamID, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return streamID{}, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	if err1 != nil || err2 != nil {
		return streamID{}, false
	}
	return streamID{ms, seq}, true
}

func (id streamID) String() string {
	return strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
}

// less reports whether id comes before other in a Stream.
func (id streamID) less(other streamID) bool {
	return id.ms < other.ms || id.ms == other.ms && id.seq < other.seq
}

func (id streamID) isZero() bool { return id == streamID{} }
