module github.com/fullduplex/websocket/interop

go 1.26

require github.com/fullduplex/websocket v0.0.0

replace github.com/fullduplex/websocket => ../
