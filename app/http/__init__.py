"""The HTTP edge: middleware (request ids, security headers, timeouts, the 500 path),
strict JSON bodies, and the server protocol with a deadline on request heads."""
