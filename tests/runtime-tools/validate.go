// Command kiln-spec-validate checks OCI runtime bundles with the validate
// package of opencontainers/runtime-tools (Debian's
// golang-github-opencontainers-runtime-tools-dev), the JSON schema check
// included: the schema comes from the Debian-packaged runtime-spec sources
// instead of the network. Build it in GOPATH mode:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o kiln-spec-validate validate.go
//
// Usage: kiln-spec-validate [--host-specific] BUNDLE...
// Prints "BUNDLE: OK" or the problems, exits 1 when any bundle is invalid.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/blang/semver"
	"github.com/opencontainers/runtime-tools/validate"
	"github.com/xeipuuv/gojsonschema"
)

// deviceValid in this version of validate refuses every block or character
// device with minor number 0 (/dev/tty0 4:0, /dev/vda 254:0), which are real
// devices a privileged container is given; such messages are not counted.
var minorZero = regexp.MustCompile(`^\* device \{\S+ [bc] [0-9]+ 0 .* is invalid$`)

const schemaDir = "/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema"

func schemaErrors(bundle string) []string {
	schema := gojsonschema.NewReferenceLoader("file://" + filepath.Join(schemaDir, "config-schema.json"))
	doc := gojsonschema.NewReferenceLoader("file://" + filepath.Join(bundle, "config.json"))
	res, err := gojsonschema.Validate(schema, doc)
	if err != nil {
		return []string{"schema: " + err.Error()}
	}
	var out []string
	for _, e := range res.Errors() {
		out = append(out, "schema: "+e.String())
	}
	return out
}

func check(bundle string, hostSpecific bool) []string {
	abs, _ := filepath.Abs(bundle)
	v, err := validate.NewValidatorFromPath(abs, hostSpecific, "linux")
	if err != nil {
		return []string{err.Error()}
	}
	problems := schemaErrors(abs)
	// The packaged validate knows only the spec version it vendors
	// (1.0.2-dev) and refuses every other one; check the version ourselves:
	// a semantic version of the 1.x line, as runtimes accept.
	if cfg, err := os.ReadFile(filepath.Join(abs, "config.json")); err == nil {
		var doc struct {
			OCIVersion string `json:"ociVersion"`
		}
		if err := json.Unmarshal(cfg, &doc); err != nil {
			problems = append(problems, "config.json: "+err.Error())
		} else if ver, err := semver.Parse(doc.OCIVersion); err != nil || ver.Major != 1 {
			problems = append(problems, fmt.Sprintf("ociVersion %q is not a 1.x semantic version", doc.OCIVersion))
		}
	}
	for _, f := range []func() error{
		v.CheckPlatform, v.CheckRoot, v.CheckMandatoryFields,
		v.CheckMounts, v.CheckProcess, v.CheckLinux, v.CheckAnnotations, v.CheckHooks,
	} {
		if err := f(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				line = strings.TrimSpace(line)
				if line != "" && !strings.HasSuffix(line, "errors occurred:") &&
					!strings.HasSuffix(line, "error occurred:") && !minorZero.MatchString(line) {
					problems = append(problems, line)
				}
			}
		}
	}
	return problems
}

func main() {
	_ = rspec.Version
	hostSpecific := false
	var bundles []string
	for _, a := range os.Args[1:] {
		if a == "--host-specific" {
			hostSpecific = true
			continue
		}
		bundles = append(bundles, a)
	}
	if len(bundles) == 0 {
		fmt.Fprintln(os.Stderr, "usage: kiln-spec-validate [--host-specific] BUNDLE...")
		os.Exit(2)
	}
	bad := false
	for _, b := range bundles {
		p := check(b, hostSpecific)
		if len(p) == 0 {
			fmt.Printf("%s: OK\n", b)
			continue
		}
		bad = true
		for _, l := range p {
			fmt.Printf("%s: %s\n", b, l)
		}
	}
	if bad {
		os.Exit(1)
	}
}
