"""Company sign-in: each organization may bring its own OpenID Connect identity provider."""
