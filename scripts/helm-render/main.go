// Command helm-render renders a Helm chart the way `helm template` does, for tests on machines
// without a helm binary. It uses what Helm's engine uses: Go's text/template with
// missingkey=zero, the sprig function map without env/expandenv, sigs.k8s.io/yaml for toYaml and
// for reading values, and Helm's include/required/tpl/toJson/fromYaml semantics, its values
// coalescing (a null override deletes a default) and its template naming and ordering. It does not
// validate values against values.schema.json (the caller does) and knows no subcharts or lookup;
// .Files has Get and GetBytes only.
//
// Usage: helm-render -chart DIR -name RELEASE -namespace NS [-f values.yaml]... > rendered.json
// Output: a JSON object {"values": the coalesced values, "templates": {template path: rendered
// text}}, partials (_*.tpl) left out; on a template error, the error on stderr and exit status 1.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

// chartFiles is .Files: the chart's files outside templates/, by path relative to the chart.
type chartFiles map[string][]byte

func (f chartFiles) Get(name string) string      { return string(f[name]) }
func (f chartFiles) GetBytes(name string) []byte { return f[name] }

func loadFiles(chartDir string) (chartFiles, error) {
	files := chartFiles{}
	err := filepath.WalkDir(chartDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(chartDir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "templates" || rel == "charts" {
				return filepath.SkipDir
			}
			return nil
		}
		switch rel {
		case "Chart.yaml", "values.yaml", "values.schema.json":
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[rel] = data
		return nil
	})
	return files, err
}

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

func main() {
	chartDir := flag.String("chart", "", "chart directory")
	name := flag.String("name", "release", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	kubeVersion := flag.String("kube-version", "v1.30.0", "Kubernetes version for .Capabilities")
	var files valueFiles
	flag.Var(&files, "f", "values file (repeatable, later wins)")
	flag.Parse()
	values, out, err := render(*chartDir, *name, *namespace, *kubeVersion, files)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]interface{}{"values": values, "templates": out}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func readYAMLMap(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return m, nil
}

// coalesce merges src (defaults) under dst (overrides) the way chartutil.CoalesceTables does:
// maps merge key by key, a value in dst wins, a nil in dst removes the key.
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for key, sv := range src {
		dv, ok := dst[key]
		if !ok {
			dst[key] = sv
			continue
		}
		if dv == nil {
			delete(dst, key)
			continue
		}
		dm, dIsMap := dv.(map[string]interface{})
		sm, sIsMap := sv.(map[string]interface{})
		if dIsMap && sIsMap {
			coalesce(dm, sm)
		}
	}
	for key, dv := range dst {
		if dv == nil {
			delete(dst, key)
		}
	}
	return dst
}

// chartMetadata gives Chart.yaml's fields the names templates use (.Chart.Name, .Chart.AppVersion).
func chartMetadata(raw map[string]interface{}) map[string]interface{} {
	meta := map[string]interface{}{}
	for k, v := range raw {
		meta[strings.ToUpper(k[:1])+k[1:]] = v
	}
	if v, ok := meta["ApiVersion"]; ok {
		meta["APIVersion"] = v
		delete(meta, "ApiVersion")
	}
	return meta
}

var warnRegex = regexp.MustCompile(`HELM_ERR_START(.*)HELM_ERR_END`)

func render(chartDir, name, namespace, kubeVersion string, files []string) (map[string]interface{}, map[string]string, error) {
	rawChart, err := readYAMLMap(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return nil, nil, err
	}
	chart := chartMetadata(rawChart)
	chartName, _ := chart["Name"].(string)

	values, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return nil, nil, err
	}
	for _, f := range files {
		override, err := readYAMLMap(f)
		if err != nil {
			return nil, nil, err
		}
		values = coalesce(override, values)
	}

	chartFiles, err := loadFiles(chartDir)
	if err != nil {
		return nil, nil, err
	}
	top := map[string]interface{}{
		"Files":  chartFiles,
		"Chart":  chart,
		"Values": values,
		"Release": map[string]interface{}{
			"Name": name, "Namespace": namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": kubeVersion, "GitVersion": kubeVersion},
			"APIVersions": []string{},
		},
	}

	entries, err := os.ReadDir(filepath.Join(chartDir, "templates"))
	if err != nil {
		return nil, nil, err
	}
	var names []string
	sources := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(chartDir, "templates", e.Name()))
		if err != nil {
			return nil, nil, err
		}
		n := path.Join(chartName, "templates", e.Name())
		names = append(names, n)
		sources[n] = string(data)
	}
	sort.Strings(names)

	t := template.New("gotpl").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = func(v interface{}) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["toJson"] = func(v interface{}) string {
		data, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(data)
	}
	funcs["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var buf strings.Builder
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["required"] = func(warn string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, fmt.Errorf("HELM_ERR_START%sHELM_ERR_END", warn)
		}
		if s, ok := val.(string); ok && s == "" {
			return val, fmt.Errorf("HELM_ERR_START%sHELM_ERR_END", warn)
		}
		return val, nil
	}
	funcs["tpl"] = func(text string, vals interface{}) (string, error) {
		inner, err := t.Clone()
		if err != nil {
			return "", err
		}
		if _, err := inner.New("tpl").Parse(text); err != nil {
			return "", err
		}
		var buf strings.Builder
		err = inner.ExecuteTemplate(&buf, "tpl", vals)
		return buf.String(), err
	}
	t.Funcs(funcs)

	for _, n := range names {
		if _, err := t.New(n).Parse(sources[n]); err != nil {
			return nil, nil, fmt.Errorf("parse error in (%s): %w", n, err)
		}
	}

	out := map[string]string{}
	for _, n := range names {
		if strings.HasPrefix(path.Base(n), "_") {
			continue
		}
		top["Template"] = map[string]interface{}{"Name": n, "BasePath": path.Join(chartName, "templates")}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, n, top); err != nil {
			if m := warnRegex.FindStringSubmatch(err.Error()); len(m) >= 2 {
				return nil, nil, fmt.Errorf("execution error in (%s): %s", n, m[1])
			}
			return nil, nil, fmt.Errorf("execution error in (%s): %w", n, err)
		}
		out[n] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return values, out, nil
}
