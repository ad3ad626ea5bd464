package main

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file is who is online, across nodes. The room's presence is one
// sorted set: a member per connection ("node\nconnection\nname") scored by
// the time it expires, in Unix milliseconds. Each node re-scores its own
// members every PresenceTTL/3 (a heartbeat), and readers count only the
// members whose score is in the future, so the users of a node that dies
// stop counting within PresenceTTL, with no one to clean up after it.
// Changes are announced on a Pub/Sub channel so the other nodes look again
// at once rather than at their next heartbeat; Pub/Sub may lose a signal,
// the heartbeat makes up for it.

// user is one entry of the room's presence, as clients see it.
type user struct {
	Name string `json:"name"`
	Node string `json:"node"`
}

// memberOf makes the presence member of a connection.
func (n *node) memberOf(name string) string {
	return n.cfg.Name + "\n" + n.instance + "-" + strconv.FormatUint(n.connSeq.Add(1), 10) + "\n" + name
}

func parseMember(m string) (user, bool) {
	node, rest, ok1 := strings.Cut(m, "\n")
	_, name, ok2 := strings.Cut(rest, "\n")
	return user{Name: name, Node: node}, ok1 && ok2
}

// expiry is the score of a member refreshed now.
func (n *node) expiry(now time.Time) float64 {
	return float64(now.Add(n.cfg.PresenceTTL).UnixMilli())
}

// enter adds a connection to the room's presence and tells the other nodes.
func (n *node) enter(ctx context.Context, member string) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RedisTimeout)
	defer cancel()
	_, err := n.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, n.presenceKey, redis.Z{Score: n.expiry(time.Now()), Member: member})
		p.PExpire(ctx, n.presenceKey, 2*n.cfg.PresenceTTL)
		p.Publish(ctx, n.changedChannel, n.cfg.Name)
		return nil
	})
	if err != nil {
		n.cfg.Logf("cluster: presence: %v (the next heartbeat retries)", err)
	}
}

// exit takes a connection out of the room's presence and tells the other
// nodes. If Redis is unreachable, the member expires on its own.
func (n *node) exit(ctx context.Context, member string) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RedisTimeout)
	defer cancel()
	_, err := n.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, n.presenceKey, member)
		p.Publish(ctx, n.changedChannel, n.cfg.Name)
		return nil
	})
	if err != nil {
		n.cfg.Logf("cluster: presence: %v (the entry expires on its own)", err)
	}
}

// heartbeat re-scores this node's members and clears expired ones.
func (n *node) heartbeat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RedisTimeout)
	defer cancel()
	now := time.Now()
	members := n.members()
	_, err := n.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for chunk := range slices.Chunk(members, 500) {
			zs := make([]redis.Z, len(chunk))
			for i, m := range chunk {
				zs[i] = redis.Z{Score: n.expiry(now), Member: m}
			}
			// Plain ZADD, not XX: after Redis lost its data, the
			// heartbeat brings the node's users back. A client that
			// left since members() may come back for one TTL.
			p.ZAdd(ctx, n.presenceKey, zs...)
		}
		p.ZRemRangeByScore(ctx, n.presenceKey, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
		p.PExpire(ctx, n.presenceKey, 2*n.cfg.PresenceTTL)
		return nil
	})
	return err
}

// online returns who is in the room now, sorted by name and node.
func (n *node) online(ctx context.Context) ([]user, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RedisTimeout)
	defer cancel()
	members, err := n.rdb.ZRangeByScore(ctx, n.presenceKey, &redis.ZRangeBy{
		Min: strconv.FormatInt(time.Now().UnixMilli(), 10),
		Max: "+inf",
	}).Result()
	if err != nil {
		return nil, err
	}
	users := make([]user, 0, len(members))
	for _, m := range members {
		if u, ok := parseMember(m); ok {
			users = append(users, u)
		}
	}
	slices.SortFunc(users, func(a, b user) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Node, b.Node)
	})
	return users, nil
}

// watchPresence keeps this node's members alive and tells its clients who
// is online whenever that changes, until ctx ends.
func (n *node) watchPresence(ctx context.Context) {
	sub := n.rdb.Subscribe(ctx, n.changedChannel)
	defer sub.Close()
	changed := sub.Channel()

	tick := time.NewTicker(n.cfg.PresenceTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := n.heartbeat(ctx); err != nil && ctx.Err() == nil {
				n.cfg.Logf("cluster: presence heartbeat: %v", err)
			}
		case <-changed:
		}
		users := n.refreshPresence(ctx)
		// Changes that come in a burst (a node's users all reconnecting)
		// make one update, not one each. Every update carries the whole
		// list, so a big room's is sent at most once a heartbeat.
		pause := 100 * time.Millisecond
		if users > n.cfg.MaxListed {
			pause = n.cfg.PresenceTTL / 3
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// refreshPresence reads who is online and, if that changed, tells this
// node's clients. It returns the number of users.
func (n *node) refreshPresence(ctx context.Context) int {
	users, err := n.online(ctx)
	if err != nil {
		return 0 // Redis is away; the users shown stay as they were
	}
	n.presenceMu.Lock()
	old := n.users
	if slices.Equal(old, users) {
		n.presenceMu.Unlock()
		return len(users)
	}
	n.users = users
	n.presenceMu.Unlock()

	// The whole list for every change would cost a big room the square
	// of its size; past MaxListed, clients get the first ones and the count.
	ev := event{Type: "presence", Users: users[:min(len(users), n.cfg.MaxListed)], Online: len(users)}
	joined, left := diffUsers(old, users)
	for _, u := range joined[:min(len(joined), n.cfg.MaxListed)] {
		ev.Joined = append(ev.Joined, u.Name)
	}
	for _, u := range left[:min(len(left), n.cfg.MaxListed)] {
		ev.Left = append(ev.Left, u.Name)
	}
	n.broadcast(prepare(ev))
	return len(users)
}

// diffUsers returns the entries of b missing from a, and of a missing from
// b; both are sorted.
func diffUsers(a, b []user) (added, removed []user) {
	i, j := 0, 0
	cmp := func(x, y user) int {
		if c := strings.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		return strings.Compare(x.Node, y.Node)
	}
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && cmp(a[i], b[j]) < 0:
			removed = append(removed, a[i])
			i++
		case i == len(a) || cmp(a[i], b[j]) > 0:
			added = append(added, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return added, removed
}

// currentUsers returns the first MaxListed users last read and how many
// there are, with u counted if missing: a newcomer's hello shows it before
// the next presence update does.
func (n *node) currentUsers(u user) (listed []user, online int) {
	n.presenceMu.Lock()
	defer n.presenceMu.Unlock()
	listed = slices.Clone(n.users[:min(len(n.users), n.cfg.MaxListed)])
	online = len(n.users)
	if !slices.Contains(n.users, u) {
		online++
		if len(listed) < n.cfg.MaxListed {
			listed = append(listed, u)
		}
	}
	return listed, online
}
