package lxd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	incus "github.com/lxc/incus/v6/client"
	"github.com/lxc/incus/v6/shared/api"
)

// fakeServer is an in-memory daemon holding instances, snapshots and image
// aliases. Knobs make it misbehave the way tests need.
type fakeServer struct {
	mu        sync.Mutex
	instances map[string]*fakeInstance
	images    map[string]bool
	server    string // what GetServer reports: "lxd" (default) or "incus"
	version   string // and its version: 5.0.2 (default)

	ignoreShutdown   bool  // graceful stop times out, the instance keeps running
	dropConfigCreate bool  // create ignores the request's config (a daemon dropping fields)
	failUpdate       error // UpdateInstance (config) fails with this
	failStart        error // start fails with this
	busyStarts       int   // this many start requests are refused with a 400 "busy" (LXD 5.0)
	badPIDStates     int   // this many state reads fail with Incus's "Invalid PID" (an init exiting)
	createdByOther   bool  // another client creates the instance just before this create
	blockCreate      bool  // the create operation never finishes (until ctx ends)
	slowFreezes      int   // this many freezes leave the instance Freezing and never finish (liblxc's second on cgroup v1)
	exec             func([]string) (int, string, string)
	counts           map[string]int // calls by kind: start, graceful-stop, forced-stop, update, delete, ...
	bandwidth        int64          // the bandwidth of the last copyFrom
	failCopy         error          // copyFrom fails with this
	failRename       int            // the rename with this number (1: the first) fails
	afterRename      func(n int)    // called, unlocked, after the rename with number n succeeded
	cancelled        int            // operations cancelled by the client
}

type fakeInstance struct {
	inst  api.Instance
	snaps map[string]api.InstanceSnapshot
}

var _ server = (*fakeServer)(nil)

func newFake() *fakeServer {
	return &fakeServer{
		instances: map[string]*fakeInstance{},
		images:    map[string]bool{"understudy-busybox": true},
		server:    "lxd",
		version:   "5.0.2",
		counts:    map[string]int{},
	}
}

func notFoundErr(what string) error {
	return api.StatusErrorf(http.StatusNotFound, "%s not found", what)
}

func (f *fakeServer) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[kind]
}

func (f *fakeServer) has(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.instances[name]
	return ok
}

func (f *fakeServer) status(name string) api.StatusCode {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i, ok := f.instances[name]; ok {
		return i.inst.StatusCode
	}
	return 0
}

func (f *fakeServer) config(name string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.instances[name].inst.Config
}

func (f *fakeServer) setStatus(name string, s api.StatusCode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instances[name].inst.StatusCode, f.instances[name].inst.Status = s, s.String()
}

func (f *fakeServer) GetServer() (*api.Server, string, error) {
	s := &api.Server{}
	s.Environment.ServerName, s.Environment.Server, s.Environment.ServerVersion, s.Environment.Driver = "fake", f.server, f.version, "lxc"
	return s, "", nil
}

func (f *fakeServer) GetImageAlias(name string) (*api.ImageAliasesEntry, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.images[name] {
		return nil, "", notFoundErr("Image alias")
	}
	return &api.ImageAliasesEntry{Name: name}, "", nil
}

func (f *fakeServer) GetInstance(name string) (*api.Instance, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts["get"]++
	i, ok := f.instances[name]
	if !ok {
		return nil, "", notFoundErr("Instance")
	}
	cp := i.inst
	cp.InstancePut = api.InstancePut{Config: clone(i.inst.Config), Devices: cloneDevices(i.inst.Devices), Profiles: i.inst.Profiles, Stateful: i.inst.Stateful}
	return &cp, "etag", nil
}

func (f *fakeServer) GetInstances(api.InstanceType) ([]api.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts["list"]++
	out := make([]api.Instance, 0, len(f.instances))
	for _, i := range f.instances {
		out = append(out, api.Instance{Name: i.inst.Name, Status: i.inst.StatusCode.String(), StatusCode: i.inst.StatusCode,
			InstancePut: api.InstancePut{Config: clone(i.inst.Config)}})
	}
	return out, nil
}

func clone(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (f *fakeServer) CreateInstance(req api.InstancesPost) (incus.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts["create"]++
	if f.createdByOther {
		f.instances[req.Name] = &fakeInstance{
			inst:  api.Instance{Name: req.Name, Status: "Stopped", StatusCode: api.Stopped, InstancePut: api.InstancePut{Config: map[string]string{}}},
			snaps: map[string]api.InstanceSnapshot{},
		}
	}
	if _, ok := f.instances[req.Name]; ok {
		return nil, api.StatusErrorf(http.StatusConflict, "Instance %q already exists", req.Name)
	}
	if !f.images[req.Source.Alias] {
		return nil, notFoundErr("Image alias")
	}
	cfg := clone(req.Config)
	if f.dropConfigCreate {
		cfg = map[string]string{}
	}
	cfg["volatile.base_image"] = "abc"
	cfg["volatile.eth0.hwaddr"] = "00:16:3e:00:00:01"
	f.instances[req.Name] = &fakeInstance{
		inst: api.Instance{
			Name: req.Name, Status: "Stopped", StatusCode: api.Stopped,
			InstancePut: api.InstancePut{Config: cfg, Devices: cloneDevices(req.Devices), Profiles: req.Profiles},
		},
		snaps: map[string]api.InstanceSnapshot{},
	}
	return f.op(nil, f.blockCreate), nil
}

func (f *fakeServer) UpdateInstance(name string, put api.InstancePut, _ string) (incus.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.instances[name]
	if !ok {
		return nil, notFoundErr("Instance")
	}
	if put.Restore != "" {
		if _, ok := i.snaps[put.Restore]; !ok {
			return f.op(fmt.Errorf("snapshot %q not found", put.Restore), false), nil
		}
		f.counts["restore"]++
		return f.op(nil, false), nil
	}
	f.counts["update"]++
	if f.failUpdate != nil {
		return f.op(f.failUpdate, false), nil
	}
	i.inst.Config, i.inst.Devices, i.inst.Profiles = clone(put.Config), cloneDevices(put.Devices), put.Profiles
	return f.op(nil, false), nil
}

func (f *fakeServer) RenameInstance(name string, req api.InstancePost) (incus.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.instances[name]
	if !ok {
		return nil, notFoundErr("Instance")
	}
	f.counts["rename"]++
	if f.failRename > 0 && f.counts["rename"] == f.failRename {
		return f.op(errors.New("fake: rename refused"), false), nil
	}
	if _, taken := f.instances[req.Name]; taken {
		return f.op(fmt.Errorf("name %q already in use", req.Name), false), nil
	}
	delete(f.instances, name)
	i.inst.Name = req.Name
	f.instances[req.Name] = i
	if hook, n := f.afterRename, f.counts["rename"]; hook != nil {
		f.mu.Unlock()
		hook(n) // another client acting between two renames
		f.mu.Lock()
	}
	return f.op(nil, false), nil
}

func (f *fakeServer) DeleteInstance(name string) (incus.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.instances[name]
	if !ok {
		return nil, notFoundErr("Instance")
	}
	if i.inst.StatusCode != api.Stopped {
		return f.op(fmt.Errorf("instance is running"), false), nil
	}
	f.counts["delete"]++
	delete(f.instances, name)
	return f.op(nil, false), nil
}

func (f *fakeServer) GetInstanceState(name string) (*api.InstanceState, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.instances[name]
	if !ok {
		return nil, "", notFoundErr("Instance")
	}
	f.counts["state"]++
	if f.badPIDStates > 0 {
		f.badPIDStates--
		return nil, "", api.StatusErrorf(http.StatusInternalServerError, "Invalid PID '\x00'")
	}
	st := &api.InstanceState{Status: i.inst.StatusCode.String(), StatusCode: i.inst.StatusCode}
	if i.inst.StatusCode != api.Stopped {
		eth0 := api.InstanceStateNetwork{Addresses: []api.InstanceStateNetworkAddress{
			{Family: "inet6", Address: "fe80::216:3eff:fe00:1", Scope: "link"},
		}}
		if cidr := i.inst.Config["environment.IPADDR"]; cidr != "" {
			eth0.Addresses = append(eth0.Addresses, api.InstanceStateNetworkAddress{Family: "inet", Address: strings.Split(cidr, "/")[0], Scope: "global"})
		}
		st.Network = map[string]api.InstanceStateNetwork{
			"lo":   {Addresses: []api.InstanceStateNetworkAddress{{Family: "inet", Address: "127.0.0.1", Scope: "local"}}},
			"eth0": eth0,
		}
	}
	return st, "", nil
}

func (f *fakeServer) UpdateInstanceState(name string, put api.InstanceStatePut, _ string) (incus.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.instances[name]
	if !ok {
		return nil, notFoundErr("Instance")
	}
	set := func(s api.StatusCode) { i.inst.StatusCode, i.inst.Status = s, s.String() }
	if put.Stateful { // a checkpoint (stop) or a restore from it (start), as Incus checks them
		f.counts[put.Action+"-stateful"]++
		switch {
		case f.server == "incus" && i.inst.Config["migration.stateful"] != "true":
			return f.op(fmt.Errorf("Stateful %s requires that the instance migration.stateful be set to true", put.Action), false), nil
		case put.Action == "stop" && i.inst.StatusCode != api.Running:
			return f.op(fmt.Errorf("the instance is not running"), false), nil
		case put.Action == "start" && !i.inst.Stateful:
			return f.op(fmt.Errorf("the instance has no checkpoint"), false), nil
		}
		i.inst.Stateful = put.Action == "stop"
	}
	switch {
	case put.Action == "start":
		f.counts["start"]++
		if f.busyStarts > 0 {
			f.busyStarts--
			return nil, api.StatusErrorf(http.StatusBadRequest, `Failed to create instance start operation: Instance is busy running a "stop" operation`)
		}
		if f.failStart != nil {
			return f.op(f.failStart, false), nil
		}
		if i.inst.StatusCode != api.Stopped {
			return f.op(fmt.Errorf("the instance is already running"), false), nil
		}
		set(api.Running)
	case put.Action == "stop" && (put.Force || put.Timeout == 0):
		f.counts["forced-stop"]++
		if i.inst.StatusCode == api.Stopped {
			return f.op(fmt.Errorf("the instance is already stopped"), false), nil
		}
		set(api.Stopped)
	case put.Action == "stop":
		f.counts["graceful-stop"]++
		if i.inst.StatusCode != api.Running || f.ignoreShutdown {
			return f.op(fmt.Errorf("failed shutting down instance, status is %q: context deadline exceeded", i.inst.Status), false), nil
		}
		set(api.Stopped)
	case put.Action == "freeze":
		f.counts["freeze"]++
		if f.slowFreezes > 0 {
			f.slowFreezes--
			set(api.Freezing)
			return f.op(nil, true), nil
		}
		set(api.Frozen)
	case put.Action == "unfreeze":
		f.counts["unfreeze"]++
		set(api.Running)
	default:
		return nil, fmt.Errorf("fake: unknown action %q", put.Action)
	}
	return f.op(nil, false), nil
}

func (f *fakeServer) ExecInstance(name string, req api.InstanceExecPost, args *incus.InstanceExecArgs) (incus.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.instances[name]
	if !ok {
		return nil, notFoundErr("Instance")
	}
	if req.RecordOutput {
		panic("RecordOutput panics against LXD 5.0")
	}
	if i.inst.StatusCode != api.Running {
		return nil, api.StatusErrorf(http.StatusBadRequest, "Instance is not running")
	}
	code, out, errOut := 0, "", ""
	if f.exec != nil {
		code, out, errOut = f.exec(req.Command)
	}
	go func() { // like the client's websocket mirrors
		_, _ = args.Stdout.Write([]byte(out))
		_, _ = args.Stderr.Write([]byte(errOut))
		close(args.DataDone)
	}()
	op := f.op(nil, false)
	op.meta = map[string]any{"return": float64(code)}
	return op, nil
}

func (f *fakeServer) GetInstanceSnapshot(name, snap string) (*api.InstanceSnapshot, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.instances[name]
	if !ok {
		return nil, "", notFoundErr("Instance")
	}
	s, ok := i.snaps[snap]
	if !ok {
		return nil, "", notFoundErr("Snapshot")
	}
	return &s, "", nil
}

func (f *fakeServer) CreateInstanceSnapshot(name string, req api.InstanceSnapshotsPost) (incus.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.instances[name]
	if !ok {
		return nil, notFoundErr("Instance")
	}
	if _, ok := i.snaps[req.Name]; ok {
		return nil, api.StatusErrorf(http.StatusConflict, "Snapshot %q already exists", req.Name)
	}
	f.counts["snapshot"]++
	i.snaps[req.Name] = api.InstanceSnapshot{Name: req.Name, Stateful: req.Stateful}
	return f.op(nil, false), nil
}

func (f *fakeServer) DeleteInstanceSnapshot(name, snap string) (incus.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.instances[name]
	if !ok {
		return nil, notFoundErr("Instance")
	}
	if _, ok := i.snaps[snap]; !ok {
		return nil, notFoundErr("Snapshot")
	}
	delete(i.snaps, snap)
	return f.op(nil, false), nil
}

func (f *fakeServer) Disconnect() {}

func (f *fakeServer) GetInstanceFileSFTPConn(string) (net.Conn, error) {
	return nil, errors.New("the fake has no file system")
}

func (f *fakeServer) copyFrom(src server, inst api.Instance, args *incus.InstanceCopyArgs, lim *Limiter) (incus.RemoteOperation, error) {
	f.mu.Lock()
	f.bandwidth = 0
	if lim != nil {
		f.bandwidth = lim.Rate()
	}
	f.mu.Unlock()
	s, ok := src.(*fakeServer)
	if !ok {
		return nil, fmt.Errorf("fake: copy source is %T", src)
	}
	if args.Live && inst.StatusCode != api.Running {
		return nil, fmt.Errorf("fake: live copy of a stopped instance")
	}
	s.mu.Lock()
	_, exists := s.instances[inst.Name]
	s.mu.Unlock()
	if !exists {
		return nil, notFoundErr("Instance")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts["copy"]++
	if f.failCopy != nil {
		return nil, f.failCopy
	}
	if cur, ok := f.instances[args.Name]; ok && args.Refresh {
		f.counts["refresh"]++ // as the daemons do: the target keeps its config
		cur.inst.ExpandedConfig = inst.ExpandedConfig
		return &fakeRemoteOp{}, nil
	}
	inst.Name = args.Name
	inst.StatusCode, inst.Status = api.Stopped, "Stopped"
	f.instances[args.Name] = &fakeInstance{inst: inst, snaps: map[string]api.InstanceSnapshot{}}
	return &fakeRemoteOp{}, nil
}

// op returns a finished operation with err, or one that finishes only when
// the waiter's context ends (block).
func (f *fakeServer) op(err error, block bool) *fakeOp {
	return &fakeOp{srv: f, err: err, block: block}
}

// fakeOp implements the methods of incus.Operation the package uses; the
// embedded nil interface makes any other call panic.
type fakeOp struct {
	incus.Operation
	srv   *fakeServer
	err   error
	block bool
	meta  map[string]any
}

func (o *fakeOp) WaitContext(ctx context.Context) error {
	if o.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return o.err
}

func (o *fakeOp) Wait() error { return o.WaitContext(context.Background()) }

func (o *fakeOp) Cancel() error {
	o.srv.mu.Lock()
	defer o.srv.mu.Unlock()
	o.srv.cancelled++
	return nil
}

func (o *fakeOp) Get() api.Operation { return api.Operation{Metadata: o.meta} }

type fakeRemoteOp struct {
	incus.RemoteOperation
	err error
}

func (o *fakeRemoteOp) Wait() error         { return o.err }
func (o *fakeRemoteOp) CancelTarget() error { return nil }
