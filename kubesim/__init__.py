"""kubesim: a Kubernetes API server stand-in for tests, demos and benchmarks.

Standalone: no Django imports. Real kube-apiserver behaviour is the spec.
"""
