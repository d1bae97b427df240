"""Events: stream records become typed events, published to the stack's EventBridge bus and to signed webhooks."""
