package freeport

import (
	"net"
	"testing"
)

func TestURL(t *testing.T) {
	u, err := URL("http://10.0.0.1:2380")
	if err != nil || u.Host != "10.0.0.1:2380" {
		t.Fatalf("URL(given) = %v, %v", u, err)
	}
	u, err = URL("")
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "0" || u.Port() == "" {
		t.Fatalf("URL(\"\") = %v", u)
	}
	l, err := net.Listen("tcp", u.Host) // the port was released
	if err != nil {
		t.Fatalf("the picked port %s cannot be bound: %v", u.Host, err)
	}
	l.Close()
}
