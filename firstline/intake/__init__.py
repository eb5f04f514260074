"""Alert intake: normalize source payloads into the canonical `agents.state.Alert`."""
