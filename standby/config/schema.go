package config

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/understudy/understudy/internal/yamlpos"
)

// This file maps agent.yaml's keys to Config, on the positioned decoder the
// inventory and the playbooks use (internal/yamlpos). README.md lists every
// key and its default.

func decodeConfig(d *yamlpos.Decoder, n *yaml.Node, c *Config) {
	d.Mapping(n, "", []yamlpos.Field{
		{Key: "name", Decode: d.Str(&c.Name)},
		{Key: "listen", Decode: d.Str(&c.Listen)},
		{Key: "tls", Decode: func(v *yaml.Node, p string) {
			d.Mapping(v, p, []yamlpos.Field{
				{Key: "cert", Decode: d.Str(&c.TLS.Cert)},
				{Key: "key", Decode: d.Str(&c.TLS.Key)},
				{Key: "client-ca", Decode: d.Str(&c.TLS.ClientCA)},
				{Key: "monitor-names", Decode: d.Strings(&c.TLS.MonitorNames)},
			})
		}},
		{Key: "incus", Decode: func(v *yaml.Node, p string) {
			d.Mapping(v, p, []yamlpos.Field{
				{Key: "socket", Decode: d.Str(&c.Incus.Socket)},
				{Key: "url", Decode: d.Str(&c.Incus.URL)},
				{Key: "client-cert", Decode: d.Str(&c.Incus.ClientCert)},
				{Key: "client-key", Decode: d.Str(&c.Incus.ClientKey)},
				{Key: "server-cert", Decode: d.Str(&c.Incus.ServerCert)},
			})
		}},
		{Key: "state-dir", Decode: d.Str(&c.StateDir)},
		{Key: "capacity", Decode: func(v *yaml.Node, p string) {
			d.Mapping(v, p, []yamlpos.Field{
				{Key: "containers", Decode: d.Integer(&c.Capacity.Containers)},
				{Key: "memory", Decode: d.Size((*int64)(&c.Capacity.Memory))},
			})
		}},
		{Key: "max-parallel", Decode: d.Integer(&c.MaxParallel)},
		{Key: "load-source", Decode: d.Str((*string)(&c.LoadSource))},
		{Key: "cpus", Decode: d.Integer(&c.CPUs)},
		{Key: "cgroup-root", Decode: d.Str(&c.CgroupRoot)},
		{Key: "network", Decode: func(v *yaml.Node, p string) {
			if yamlpos.IsNull(v) {
				return
			}
			c.Network = &Network{}
			d.Mapping(v, p, []yamlpos.Field{
				{Key: "gateway", Decode: d.Str(&c.Network.Gateway)},
				{Key: "prefix-len", Decode: d.Integer(&c.Network.PrefixLen)},
				{Key: "pool", Decode: d.Str(&c.Network.Pool)},
			})
		}},
		{Key: "nic", Decode: d.Str(&c.NIC)},
		{Key: "activate-timeout", Decode: d.Duration((*time.Duration)(&c.ActivateTimeout))},
		{Key: "stop-timeout", Decode: d.Duration((*time.Duration)(&c.StopTimeout))},
		{Key: "criu", Decode: func(v *yaml.Node, p string) {
			d.Mapping(v, p, []yamlpos.Field{
				{Key: "path", Decode: d.Str(&c.CRIU.Path)},
				{Key: "probe-timeout", Decode: d.Duration((*time.Duration)(&c.CRIU.ProbeTimeout))},
				{Key: "disable", Decode: d.Boolean(&c.CRIU.Disable)},
			})
		}},
	})
}
