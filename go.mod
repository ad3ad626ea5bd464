module github.com/fullduplex/websocket

go 1.24
