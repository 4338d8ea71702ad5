"""The portal's OAuth2 authorization server: API clients, signing keys, tokens, the resource check."""
