package main

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file is everything the room's messages do in Redis: one Stream per
// room, appended to with XADD by the node a message was sent to, and read
// with XREAD BLOCK by every node from the last ID it delivered. Redis gives
// each entry its ID, so all nodes see the same entries in the same order.

// publish appends a message to the room's Stream. MAXLEN ~ bounds the
// Stream; "~" lets Redis trim whole macro-nodes only, which is much cheaper
// than trimming to the exact length.
func (n *node) publish(ctx context.Context, name, text string) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RedisTimeout)
	defer cancel()
	return n.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: n.streamKey,
		MaxLen: n.cfg.MaxLen,
		Approx: true,
		Values: []any{"name", name, "text", text, "time", time.Now().UnixMilli(), "node", n.cfg.Name},
	}).Err()
}

// latest returns the ID of the Stream's last entry, or the zero ID if the
// Stream is empty.
func (n *node) latest(ctx context.Context) (streamID, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RedisTimeout)
	defer cancel()
	msgs, err := n.rdb.XRevRangeN(ctx, n.streamKey, "+", "-", 1).Result()
	if err != nil || len(msgs) == 0 {
		return streamID{}, err
	}
	id, ok := parseStreamID(msgs[0].ID)
	if !ok {
		return streamID{}, errors.New("bad stream ID " + strconv.Quote(msgs[0].ID))
	}
	return id, nil
}

// history returns the messages a client that joins gets first, oldest first,
// none after upTo. A client that resumes gets every entry after its last ID,
// as many as the Stream still holds; truncated reports that its last ID is
// older than the Stream's oldest entry, so that what came between may have
// been trimmed (MAXLEN). A newcomer gets the last Backlog.
func (n *node) history(ctx context.Context, resume bool, after, upTo streamID) (evs []event, truncated bool, err error) {
	if upTo.isZero() || !after.less(upTo) {
		return nil, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RedisTimeout)
	defer cancel()
	var msgs []redis.XMessage
	if resume {
		var oldest *redis.XMessageSliceCmd
		var rng *redis.XMessageSliceCmd
		_, err = n.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			oldest = p.XRangeN(ctx, n.streamKey, "-", "+", 1)
			rng = p.XRange(ctx, n.streamKey, "("+after.String(), upTo.String())
			return nil
		})
		msgs = rng.Val()
		if o := oldest.Val(); err == nil && len(o) > 0 {
			first, _ := parseStreamID(o[0].ID)
			truncated = after.less(first)
		}
	} else if n.cfg.Backlog > 0 {
		msgs, err = n.rdb.XRevRangeN(ctx, n.streamKey, upTo.String(), "-", int64(n.cfg.Backlog)).Result()
		slices.Reverse(msgs)
	}
	if err != nil {
		return nil, false, err
	}
	evs = make([]event, 0, len(msgs))
	for _, m := range msgs {
		evs = append(evs, messageEvent(m))
	}
	return evs, truncated, nil
}

// readStream delivers the Stream's new entries to this node's clients until
// ctx ends. When Redis is unreachable it retries, with backoff, from the
// last entry it delivered: what was appended meanwhile through other nodes
// comes next, as long as MAXLEN has not trimmed it.
func (n *node) readStream(ctx context.Context) {
	const minBackoff, maxBackoff = 50 * time.Millisecond, 2 * time.Second
	backoff := minBackoff
	down := false
	// What one XREAD returns is broadcast at once: at most half a client's
	// queue, so that a client keeping up is never dropped for a burst.
	count := int64(min(512, max(1, n.cfg.QueueSize/2)))
	var batch []entry
	for ctx.Err() == nil {
		last := n.position()
		res, err := n.tail.XRead(ctx, &redis.XReadArgs{
			Streams: []string{n.streamKey, last.String()},
			Count:   count,
			Block:   n.cfg.Block,
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue // no new entry within Block
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !down {
				n.cfg.Logf("cluster: reading the stream after %s: %v; retrying", last, err)
				down = true
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		if down {
			n.cfg.Logf("cluster: reading the stream again after %s", last)
			down = false
		}
		backoff = minBackoff
		batch = batch[:0]
		for _, s := range res {
			for _, m := range s.Messages {
				id, ok := parseStreamID(m.ID)
				if !ok || !last.less(id) {
					continue // cannot happen: Redis returns only later IDs
				}
				batch = append(batch, entry{id, prepare(messageEvent(m))})
				last = id
			}
		}
		if len(batch) > 0 {
			n.deliver(batch)
		}
	}
}

// messageEvent makes the event a client receives from a Stream entry.
func messageEvent(m redis.XMessage) event {
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	ms, _ := strconv.ParseInt(str("time"), 10, 64)
	return event{Type: "message", ID: m.ID, Name: str("name"), Text: str("text"), Node: str("node"), Time: ms}
}
