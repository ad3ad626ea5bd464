package proxy

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
)

// SOCKS version 5 (RFC 1928), the client's side of a CONNECT, with the
// username/password authentication of RFC 1929.

const (
	socksVersion       = 5
	socksNoAuth        = 0x00
	socksUserPass      = 0x02
	socksNoAcceptable  = 0xff
	socksCmdConnect    = 0x01
	socksAtypIPv4      = 0x01
	socksAtypDomain    = 0x03
	socksAtypIPv6      = 0x04
	socksUserPassVer   = 0x01
	socksMaxFieldBytes = 255
)

// socksReplies are the failures of RFC 1928 §6.
var socksReplies = [...]string{
	1: "general SOCKS server failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

// socksConnect asks the SOCKS5 proxy at the other end of nc for a TCP
// connection to addr. A host name is sent as it is, for the proxy to
// resolve (the socks5h behaviour, which net/http has for socks5 too). It
// reads exactly the proxy's answers, so whatever follows is the server's.
func socksConnect(nc net.Conn, addr string, proxyURL *url.URL) error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("websocket: SOCKS5 proxy %s: %s", proxyURL.Redacted(), fmt.Sprintf(format, a...))
	}
	host, portStr, _ := net.SplitHostPort(addr)
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return fail("invalid port %q", portStr)
	}
	var user, pass string
	if proxyURL.User != nil {
		user = proxyURL.User.Username()
		pass, _ = proxyURL.User.Password()
		if len(user) == 0 || len(user) > socksMaxFieldBytes || len(pass) > socksMaxFieldBytes {
			return fail("username and password must be 1 to 255 bytes each")
		}
	}

	// §3: the methods we can do; with credentials, also username/password.
	b := make([]byte, 0, 6+socksMaxFieldBytes*2)
	if proxyURL.User != nil {
		b = append(b, socksVersion, 2, socksNoAuth, socksUserPass)
	} else {
		b = append(b, socksVersion, 1, socksNoAuth)
	}
	if _, err := nc.Write(b); err != nil {
		return fail("%v", err)
	}
	var r [4]byte
	if _, err := io.ReadFull(nc, r[:2]); err != nil {
		return fail("reading method selection: %v", err)
	}
	if r[0] != socksVersion {
		return fail("answered with version %d, not 5", r[0])
	}
	switch m := r[1]; {
	case m == socksNoAuth:
	case m == socksUserPass && proxyURL.User != nil:
		// RFC 1929 §2.
		b = append(b[:0], socksUserPassVer, byte(len(user)))
		b = append(b, user...)
		b = append(b, byte(len(pass)))
		b = append(b, pass...)
		if _, err := nc.Write(b); err != nil {
			return fail("%v", err)
		}
		if _, err := io.ReadFull(nc, r[:2]); err != nil {
			return fail("reading authentication status: %v", err)
		}
		if r[1] != 0 {
			return fail("refused the username and password (status %d)", r[1])
		}
	case m == socksNoAcceptable:
		if proxyURL.User == nil {
			return fail("requires authentication: give the proxy URL a username and password")
		}
		return fail("accepts none of the authentication methods offered (none, username/password)")
	default:
		return fail("chose authentication method %#x, which was not offered", m)
	}

	// §4: CONNECT to the server.
	b = append(b[:0], socksVersion, socksCmdConnect, 0)
	if ip := net.ParseIP(host); ip != nil {
		if ip4 := ip.To4(); ip4 != nil {
			b = append(b, socksAtypIPv4)
			b = append(b, ip4...)
		} else {
			b = append(b, socksAtypIPv6)
			b = append(b, ip.To16()...)
		}
	} else {
		if len(host) > socksMaxFieldBytes {
			return fail("host name longer than 255 bytes")
		}
		b = append(b, socksAtypDomain, byte(len(host)))
		b = append(b, host...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(port))
	if _, err := nc.Write(b); err != nil {
		return fail("%v", err)
	}
	// §6: VER REP RSV ATYP BND.ADDR BND.PORT.
	if _, err := io.ReadFull(nc, r[:4]); err != nil {
		return fail("reading CONNECT reply: %v", err)
	}
	if r[0] != socksVersion {
		return fail("answered with version %d, not 5", r[0])
	}
	if rep := r[1]; rep != 0 {
		reason := "unknown error"
		if int(rep) < len(socksReplies) {
			reason = socksReplies[rep]
		}
		return fail("refused CONNECT to %s: %s (%d)", net.JoinHostPort(host, portStr), reason, rep)
	}
	var skip int
	switch r[3] {
	case socksAtypIPv4:
		skip = 4
	case socksAtypIPv6:
		skip = 16
	case socksAtypDomain:
		if _, err := io.ReadFull(nc, r[:1]); err != nil {
			return fail("reading CONNECT reply: %v", err)
		}
		skip = int(r[0])
	default:
		return fail("CONNECT reply has address type %d", r[3])
	}
	if _, err := io.ReadFull(nc, b[:skip+2]); err != nil {
		return fail("reading CONNECT reply: %v", err)
	}
	return nil
}
