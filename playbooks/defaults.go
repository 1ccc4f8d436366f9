package playbooks

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed defaults/*.yaml
var defaults embed.FS

// Names lists the embedded default playbooks (warm, cold, restore), sorted.
func Names() []string {
	entries, _ := fs.ReadDir(defaults, "defaults")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Source returns the YAML text of the embedded default named name.
func Source(name string) ([]byte, error) {
	data, err := defaults.ReadFile("defaults/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no default playbook %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return data, nil
}

// Default returns the parsed embedded default for a service mode
// ("warm", "cold" or "restore").
func Default(name string) (*Playbook, error) {
	data, err := Source(name)
	if err != nil {
		return nil, err
	}
	return Parse(name, data)
}

// For returns the playbook a service uses: the file it names, or else the
// default for its mode.
func For(mode, file string) (*Playbook, error) {
	if file != "" {
		return Load(file)
	}
	return Default(mode)
}
