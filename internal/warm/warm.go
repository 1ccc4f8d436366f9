package warm

import (
	_ "github.com/checkpoint-restore/go-criu/v7"
	_ "github.com/lxc/incus/v6/client"
	_ "github.com/miekg/dns"
	_ "github.com/prometheus-community/pro-bing"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "golang.org/x/net/icmp"
	_ "gopkg.in/yaml.v3"
)

import (
	_ "go.etcd.io/etcd/client/v3/concurrency"
	_ "go.etcd.io/etcd/server/v3/embed"
	_ "go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
)
