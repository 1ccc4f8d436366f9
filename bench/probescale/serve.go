package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// servicePort is the port every loopback service listens on.
const servicePort = 8080

// vmAddr is the loopback address of VM i: 127.1.0.1, 127.1.0.2, ...
// (250 per third octet).
func vmAddr(i int) string { return fmt.Sprintf("127.1.%d.%d", i/250, i%250+1) }

// runServe listens on vmAddr(i):servicePort for i < n, accepting and
// closing every connection, prints "ready", then reads "kill I" lines from
// in: each closes listener I (the service dies: connections are refused)
// and prints "killed I UNIXNANO". It returns when in ends or ctx does.
func runServe(ctx context.Context, n int, in io.Reader, out io.Writer) error {
	ls := make([]net.Listener, n)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range ls {
		l, err := net.Listen("tcp", net.JoinHostPort(vmAddr(i), strconv.Itoa(servicePort)))
		if err != nil {
			closeAll(ls)
			return fmt.Errorf("listen: %w", err)
		}
		ls[i] = l
		wg.Go(func() { acceptAndClose(l) })
	}
	defer closeAll(ls)
	fmt.Fprintln(out, "ready")
	lines := make(chan string)
	wg.Go(func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	})
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			f := strings.Fields(line)
			if len(f) != 2 || f[0] != "kill" {
				return fmt.Errorf("serve: unknown command %q", line)
			}
			i, err := strconv.Atoi(f[1])
			if err != nil || i < 0 || i >= n {
				return fmt.Errorf("serve: bad listener %q", f[1])
			}
			ls[i].Close()
			fmt.Fprintf(out, "killed %d %d\n", i, time.Now().UnixNano())
		}
	}
}

func acceptAndClose(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return // closed
		}
		c.Close()
	}
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		if l != nil {
			l.Close()
		}
	}
}
