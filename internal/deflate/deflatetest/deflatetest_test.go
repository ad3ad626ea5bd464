package deflatetest

import (
	"bytes"
	"compress/flate"
	"testing"
)

// TestScanBackRefs checks the scanner against compress/flate, whose window
// is 32 KiB: back-references are found in text, none in Huffman-only output.
func TestScanBackRefs(t *testing.T) {
	for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.BestCompression} {
		msg := JSONish(70000, 1)
		var b bytes.Buffer
		fw, _ := flate.NewWriter(&b, level)
		fw.Write(msg)
		fw.Flush()
		maxDist, n, err := ScanBackRefs(bytes.TrimSuffix(b.Bytes(), tail), 0)
		if err != nil || n != int64(len(msg)) || maxDist > 32<<10 || (level == flate.HuffmanOnly) != (maxDist == 0) {
			t.Errorf("level %d: longest distance %d, %d bytes, %v", level, maxDist, n, err)
		}
	}
}

// TestDecodeTakeover checks Decode against a stream compress/flate wrote
// with sync flushes: with context takeover each message may refer to the
// ones before, and Decode gives them back one by one.
func TestDecodeTakeover(t *testing.T) {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestSpeed)
	msgs := [][]byte{JSONish(3000, 1), JSONish(3000, 1), []byte("x"), JSONish(40000, 2)}
	var payloads [][]byte
	for _, m := range msgs {
		b.Reset()
		fw.Write(m)
		fw.Flush()
		payloads = append(payloads, bytes.Clone(bytes.TrimSuffix(b.Bytes(), tail)))
	}
	if len(payloads[1]) > len(payloads[0])/4 {
		t.Fatalf("a repeated message compresses to %d bytes, the first to %d: no context taken over", len(payloads[1]), len(payloads[0]))
	}
	for i, got := range Decode(t, payloads, true) {
		if !bytes.Equal(got, msgs[i]) {
			t.Fatalf("message %d: %d bytes, want %d", i, len(got), len(msgs[i]))
		}
	}
	CheckWindow(t, payloads, true, 15)
	if got := Decode(t, [][]byte{Compress(msgs[3])}, false)[0]; !bytes.Equal(got, msgs[3]) {
		t.Fatalf("Compress: %d bytes decoded, want %d", len(got), len(msgs[3]))
	}
}
