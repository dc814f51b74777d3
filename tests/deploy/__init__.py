"""Deployment: deploy/compose.yaml, deploy/nginx.conf and deploy/k8s, checked offline."""
