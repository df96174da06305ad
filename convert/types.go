package convert

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdock/meshdock"
)

// BindMounts says what to do with bind mounts of host paths.
type BindMounts string

const (
	// BindMountsSkip drops bind mounts with a warning (the default).
	BindMountsSkip BindMounts = "skip"
	// BindMountsHostPath turns them into hostPath volumes.
	BindMountsHostPath BindMounts = "hostpath"
	// BindMountsConfigMap turns bind mounts of files that are part of the
	// source (uploaded, or inside Dir) into ConfigMaps; others are skipped.
	BindMountsConfigMap BindMounts = "configmap"
)

// Options controls a conversion.
type Options struct {
	// Namespace for every namespaced object; empty leaves it unset.
	Namespace string `json:"namespace,omitempty"`
	// BindMounts chooses how host bind mounts are carried over.
	BindMounts BindMounts `json:"bindMounts,omitempty"`
	// WaitImage is the image of the init containers that wait for
	// dependencies; empty means DefaultWaitImage.
	WaitImage string `json:"waitImage,omitempty"`
}

// Result is the outcome of a conversion.
type Result struct {
	Project  string                       `json:"project"`
	Objects  []*unstructured.Unstructured `json:"objects"`
	Warnings []meshdock.Warning           `json:"warnings"`
	Graph    meshdock.Graph               `json:"graph"`
	// Builds are the images the app builds from source.
	Builds []meshdock.Build `json:"builds,omitempty"`
}
