package probe

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// BenchmarkProbeTCP compares the tcp probe (closing with a reset) with a
// connect closed the ordinary way (FIN, and a TIME_WAIT socket left on the
// prober), side by side against one loopback listener. The server side's
// cost is in both.
func BenchmarkProbeTCP(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() { // stops when l closes
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	p, _ := strconv.Atoi(port)
	t := Target{Name: "service/bench", Kind: KindTCP, Address: host, Port: p}
	plainClose := func(ctx context.Context, t Target) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(t.Address, strconv.Itoa(t.Port)))
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		return c.Close()
	}
	for _, v := range []struct {
		name  string
		probe ProbeFunc
	}{{"reset", probeTCP}, {"fin", plainClose}} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				err := v.probe(ctx, t)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
