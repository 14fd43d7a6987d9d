"""What the host application's users and Stripe reach over HTTP: the blueprint, CSRF, the subscription gate,
the JSON API, the webhook route and the pages (with their templates and static files)."""
