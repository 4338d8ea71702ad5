"""Webhooks: endpoints organizations subscribe, messages owed to them in the transaction of
each event, and their signed delivery (Standard Webhooks) through the outbound guard."""
