"""The layer every other one stands on: per-application state, the one Stripe client, Stripe shapes, money,
batch reporting and mail.  Nothing here imports a model, a domain or the web layer."""
