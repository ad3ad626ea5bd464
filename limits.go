package websocket

// DefaultReadLimit is the largest message, in bytes, that a Conn reads unless
// the ReadLimit option or SetReadLimit says otherwise.
const DefaultReadLimit = 16 << 20

// DefaultBufferSize is the size of a Conn's read buffer and of its write
// buffer when the options leave them zero.
const DefaultBufferSize = 4096
