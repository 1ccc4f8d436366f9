package embedded

import (
	"context"
	"testing"
)

// BenchmarkStartEmbedded measures starting a fresh single-node etcd until
// it serves (LAB.md: about 0.4s).
func BenchmarkStartEmbedded(b *testing.B) {
	for b.Loop() {
		e, err := Start(context.Background(), Config{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		e.Close()
	}
}
